"""`mvctl store gc` results as text and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.store import GcResult

if TYPE_CHECKING:
    from mvctl.render.shapes import GcJson

LISTED = 50


def format_gc(result: GcResult) -> str:
    count = len(result.unreferenced)
    if not count:
        return f"Nothing to collect: all {result.referenced} blobs in {escape(result.store)} are referenced."
    verb = "Deleted" if result.deleted else "Would delete"
    lines = [
        f"{verb} {count} unreferenced blob{'s' if count != 1 else ''} from {escape(result.store)} "
        f"(kept {result.referenced} referenced):"
    ]
    lines += [f"  {escape(digest)}" for digest in result.unreferenced[:LISTED]]
    if count > LISTED:
        lines.append(f"  ... and {count - LISTED} more (--json lists them all)")
    if not result.deleted:
        lines.append("Dry run: nothing was deleted. Run `mvctl store gc --delete` to remove them.")
    return "\n".join(lines)


def gc_json(result: GcResult) -> GcJson:
    return {
        "format_version": FORMAT_VERSION,
        "store": result.store,
        "unreferenced": list(result.unreferenced),
        "referenced": result.referenced,
        "deleted": result.deleted,
    }
