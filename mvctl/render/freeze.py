"""`mvctl freeze` as text (the diff, then what was pinned) and as JSON
(`schemas/freeze.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.freeze import FreezeResult, FrozenVersion

if TYPE_CHECKING:
    from mvctl.render.shapes import FreezeJson

FIELDS_SHOWN = 3
"""Recipe fields named per frozen version before the count of the rest."""
FORMS = {
    "params": "recorded params pinned as its overrides",
    "pipeline": "recorded steps pinned as its own pipeline",
}


def format_freeze(result: FreezeResult) -> str:
    lines: list[str] = []
    for edit in result.edits:
        lines += [_diff_line(line) for line in edit.diff.splitlines()]
        lines.append("")
    lines += [_version_line(version, result) for version in result.versions]
    lines += [
        f"[yellow]! not frozen[/] {escape(skip.target)}: {escape(skip.reason)}"
        for skip in result.skipped
    ]
    if not result.versions:
        lines.append(
            "[green]Nothing to freeze:[/] every trained version's declared recipe is the "
            "recorded one."
        )
    elif result.check:
        lines.append(
            f"[yellow]{len(result.versions)} version(s) would be frozen; nothing was written.[/] "
            "Run `mvctl freeze` to write it."
        )
    else:
        files = ", ".join(sorted({escape(edit.file) for edit in result.edits}))
        lines.append(
            f"Froze {len(result.versions)} version(s) in {files}: review the diff and commit "
            "it; the pipeline's change now applies to new versions only."
        )
    return "\n".join(lines)


def _version_line(version: FrozenVersion, result: FreezeResult) -> str:
    verb = "would freeze" if result.check else "froze"
    paths = [change.path for change in version.changes]
    shown = ", ".join(paths[:FIELDS_SHOWN]) + (
        f" and {len(paths) - FIELDS_SHOWN} more" if len(paths) > FIELDS_SHOWN else ""
    )
    return (
        f"[cyan]= {verb}[/] [bold]{escape(version.model)}@{escape(version.label)}[/] in "
        f"{escape(version.file)}: {FORMS[version.form]} (undoes {escape(shown)})"
    )


def _diff_line(line: str) -> str:
    colour = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
    if colour is None or line.startswith(("+++", "---")):
        return escape(line)
    return f"[{colour}]{escape(line)}[/]"


def freeze_json(result: FreezeResult) -> FreezeJson:
    return {
        "format_version": FORMAT_VERSION,
        "check": result.check,
        "written": result.written,
        "versions": [
            {
                "model": v.model,
                "label": v.label,
                "file": v.file,
                "pinned": v.form,
                "changes": [
                    {"path": c.path, "before": c.before, "after": c.after} for c in v.changes
                ],
            }
            for v in result.versions
        ],
        "skipped": [{"target": s.target, "reason": s.reason} for s in result.skipped],
        "edits": [{"file": e.file, "diff": e.diff} for e in result.edits],
    }
