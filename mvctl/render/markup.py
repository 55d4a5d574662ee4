"""Rich markup helpers: formatters write markup once; the Console shows it coloured or plain."""

from __future__ import annotations

from rich.markup import escape as _rich_escape
from rich.text import Text


def escape(text: str) -> str:
    """Make user text (names, messages) safe inside markup."""
    return _rich_escape(text)


def strip(markup: str) -> str:
    """The plain text of a markup string: what a CI log or NO_COLOR user sees."""
    return Text.from_markup(markup).plain
