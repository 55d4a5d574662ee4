"""`mvctl init` as text and as JSON (`schemas/init.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.init import InitResult

if TYPE_CHECKING:
    from mvctl.render.shapes import InitJson


def format_init(result: InitResult) -> str:
    lines = [f"[green]created[/] {escape(str(result.folder / name))}" for name in result.created]
    lines.append("Next: `mvctl plan` to see what would be trained, then `mvctl apply`.")
    return "\n".join(lines)


def init_json(result: InitResult) -> InitJson:
    return {
        "format_version": FORMAT_VERSION,
        "folder": str(result.folder),
        "project": result.project,
        "created": list(result.created),
    }
