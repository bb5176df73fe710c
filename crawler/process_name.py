"""Names for the crawl's helper processes, as ``ps``, ``top`` and bench/crawl.py see them.

Every process multiprocessing spawns is ``python -c "from multiprocessing.spawn …"``;
naming each by its job (Linux ``prctl(PR_SET_NAME)``, the name in ``/proc/PID/comm``)
tells the parser workers and the archive's writer apart. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: prctl's option to set the calling thread's name (linux/prctl.h)
_PR_SET_NAME = 15


def name_this_process(name: str) -> None:
    """Call first thing in the process (the name is its main thread's: at most 15
    bytes are kept)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no libc to ask: the name is cosmetic
