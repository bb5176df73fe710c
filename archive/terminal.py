"""Crawled text made safe to print on a terminal.

A page's title or paragraph may hold control characters, and a terminal runs
escape sequences: ``\\x1b]0;…\\x07`` retitles the window, ``\\x1b[2J`` clears the
screen, OSC 52 writes the clipboard, and some terminals answer queries as if the
user had typed. ``safe`` removes every escape sequence (CSI, OSC and the other
string sequences, two-character ones) and every other C0 control but tab and
newline, DEL and the C1 controls (which some terminals read as escape sequences
too), as ``less`` and ``git`` do for text they did not write. Our own highlighting
survives: it is put in as random placeholders, which crawled text cannot contain,
and swapped for the escape sequences only after the text was made safe.
"""

from __future__ import annotations

import os
import re

_CONTROLS = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]                   # CSI: ESC [ parameters final
    | \x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC, DCS, SOS, PM, APC, to BEL or ST
    | \x1b[ -/]*[0-~]?                          # other escape sequences, a lone ESC
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]             # other C0 (not \t, \n), DEL, C1
    """, re.VERBOSE)


def placeholders() -> tuple[str, str]:
    """Start and end marks no crawled text holds: give them to ``search`` and
    ``format_text``, then to ``safe`` with the marks to show."""
    token = os.urandom(8).hex()  # secrets.token_hex(8), without importing secrets (2 ms)
    return f"<{token}>", f"</{token}>"


def safe(text: str, marked: tuple[str, str] | None = None,
         marks: tuple[str, str] = ("", "")) -> str:
    """``text`` without control characters and escape sequences (tab and newline
    kept); the ``marked`` placeholders, if given, replaced by ``marks``."""
    text = _CONTROLS.sub("", text)
    if marked is not None:
        text = text.replace(marked[0], marks[0]).replace(marked[1], marks[1])
    return text
