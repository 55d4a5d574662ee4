"""Rich markup helpers: formatters write markup once; the Console shows it coloured or plain.

Every user value (a name, a description, a message) enters markup through ``escape``, so a
``[bold red]`` or ``[link=…]`` in it prints literally and a control character in it shows as
an escape; emoji codes are off, so ``:warning:`` in a value stays text.
"""

from __future__ import annotations

from rich.markup import escape as _rich_escape
from rich.text import Text

from mvctl.render.terminal import visible


def escape(text: str) -> str:
    """User text made inert inside markup: markup escaped, control characters (newlines
    included: a value is shown on its line) written as visible escapes."""
    return _rich_escape(visible(text))


def strip(markup: str) -> str:
    """The plain text of a markup string: what a CI log or NO_COLOR user sees."""
    return Text.from_markup(markup, emoji=False).plain
