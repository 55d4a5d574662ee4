"""User text inside Markdown (a plan posted as a pull-request comment): shown, never obeyed.

A description, a step name or a conflict message may hold ``|`` (a new table cell), a
backtick (the end of a code span), a newline (the end of a table row or a list item),
``<img src=…>`` or ``[text](link)``. ``text`` escapes all of them for running prose and
table cells; ``code`` makes a code span that its content cannot close; ``prose`` is mvctl's
own sentences (a conflict's message, its ways out), whose backticked commands stay code.
"""

from __future__ import annotations

import re

from mvctl.render.terminal import visible

_HTML = {"&": "&amp;", "<": "&lt;"}
_SPECIAL = re.compile(r"[\\`*_\[\]|~!#&<]")
_BACKTICKS = re.compile(r"`+")
_CODE_SPAN = re.compile(r"`([^`]+)`")


def text(value: str) -> str:
    """``value`` as Markdown prose that renders as exactly these characters, on one line."""
    return _SPECIAL.sub(lambda m: _HTML.get(m.group(), "\\" + m.group()), visible(value))


def prose(value: str) -> str:
    """A sentence of mvctl's, user values inside: each `backticked` part is a code span, the
    rest is ``text``, so neither part can turn into markup."""
    parts = _CODE_SPAN.split(value)
    return "".join(code(part) if odd else text(part) for odd, part in _alternating(parts))


def _alternating(parts: list[str]) -> list[tuple[bool, str]]:
    return [(index % 2 == 1, part) for index, part in enumerate(parts) if part]


def code(value: str, *, in_table: bool = False) -> str:
    """``value`` as an inline code span, on one line: fenced with more backticks than it
    holds, and with its pipes escaped inside a table (GFM splits cells before code spans)."""
    value = visible(value)
    if not value:
        return "` `"  # Markdown has no empty code span; this one shows a blank
    if in_table:
        value = value.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(value)), default=0) + 1)
    pad = " " if value[0] in "` " or value[-1] in "` " else ""
    return f"{fence}{pad}{value}{pad}{fence}"
