"""Text made safe to show: control characters a terminal would obey become visible escapes.

A model's description, a step's log line or a file name may hold an escape sequence
(``\\x1b[2J`` clears the screen, ``\\x1b]0;…`` retitles the window, ``\\x1b]8;;…`` plants a
link) or a bidi override (U+202E shows ``exe.txt`` for ``txt.exe``). The Console passes every
string it writes through ``visible``, so no value reaches a terminal or a CI log viewer
that renders ANSI as anything but printable text: C0 controls, DEL, C1 controls, the bidi
embeddings, overrides, isolates and marks, the Unicode line and paragraph separators, and
lone surrogates (the bytes of a command-line argument or file name that are not UTF-8).
"""

from __future__ import annotations

import json
import re
from typing import Any

_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
"""DEL, the C1 controls, the bidi controls, the line and paragraph separators, and lone
surrogates (how Python holds the bytes of an argument or file name that are not UTF-8: no
stream can encode them)."""
_ANY_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_KEEPING_LINES = re.compile(f"\r(?!\n)|[\x00-\x08\x0b-\x0c\x0e-\x1f{_BEYOND_C0}]")
"""Every unsafe character but a newline, a tab, and a carriage return that ends a line."""
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = False) -> str:
    """``text`` with each unsafe character written as a Python-style escape (``\\x1b``,
    ``\\u202e``, ``\\n``). ``lines`` keeps newlines and tabs (and a CR that ends a line), for
    text that is meant to span lines; a value shown inline keeps none."""
    pattern = _UNSAFE_KEEPING_LINES if lines else _ANY_UNSAFE
    return pattern.sub(_shown, text) if pattern.search(text) else text


def json_text(data: Any) -> str:
    """``data`` as indented JSON that is safe on a terminal and parses to the same value.

    Non-ASCII letters stay readable (``ensure_ascii=False``); json.dumps already escapes C0
    controls, and the rest of the unsafe characters (DEL, C1, bidi controls, which can only
    occur inside strings) are written as ``\\uXXXX`` too.
    """
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
