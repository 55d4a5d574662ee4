"""Small HTML builders for the report: every piece of text passes through ``escape`` here, so
a section is built from already-escaped cells and cannot forget one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape as _escape_html

from mvctl.render.plots import data_uri
from mvctl.render.terminal import visible


def escape(text: str) -> str:
    """Text for an element or a quoted attribute: HTML escaped, and its control characters
    and bidi overrides shown as escapes, as on a terminal (U+202E would reorder a name)."""
    return _escape_html(visible(text, lines=True))


def table(css: str, header: Sequence[str], rows: Iterable[Sequence[str]], attrs: str = "") -> str:
    """Rows are already-escaped HTML cells."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return (
        f'<table class="{css}"{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def td(text: str, css: str = "") -> str:
    return f'<td class="{escape(css)}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def figure(png: bytes, caption: str, css: str) -> str:
    return (
        f'<figure class="{css}"><img alt="{escape(caption)}" src="{data_uri(png)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )
