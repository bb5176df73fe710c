"""The crawl's helper processes (parser workers, the archive's writer): their names,
as ``ps``, ``top`` and bench/crawl.py see them, and their priority.

Every process multiprocessing spawns is ``python -c "from multiprocessing.spawn …"``;
naming each by its job (Linux ``prctl(PR_SET_NAME)``, the name in ``/proc/PID/comm``)
tells them apart. Elsewhere naming does nothing.

Helpers run a little below the crawl's own process (``HELPER_NICENESS``): the
reactor is the one process every download waits for, while a helper's work waits
in its queue at no cost. Sharing a core evenly with them slowed the whole crawl.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from contextlib import suppress

#: prctl's option to set the calling thread's name (linux/prctl.h)
_PR_SET_NAME = 15
#: how much lower than the crawl a helper runs (nice(2): 0 to 19)
HELPER_NICENESS = 5


def become_helper(name: str) -> None:
    """Call first thing in a helper process: name it (its main thread's name: at
    most 15 bytes are kept), and lower its priority."""
    with suppress(OSError):
        os.nice(HELPER_NICENESS)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no libc to ask: the name is cosmetic
