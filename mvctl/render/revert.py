"""`mvctl revert` as text and as JSON (`schemas/revert.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.core.records import VersionRecord, value_json
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.render.values import identity, short

if TYPE_CHECKING:
    from mvctl.core.revert import RevertOutline
    from mvctl.render.shapes import RevertJson
    from mvctl.results.revert import RevertResult


def format_revert_outline(outline: RevertOutline) -> str:
    lines = [f"Revert will {escape(outline.description)}:"]
    for r in outline.restorations:
        current, restored = value_json(r.current), value_json(r.restored)
        if isinstance(r.restored, VersionRecord):
            lines.append(
                f"  [cyan]~[/] {escape(str(r.target))}: the whole earlier record: "
                f"{escape(identity(current))} -> {escape(identity(restored))}"
            )
            continue
        lines.append(
            f"  [cyan]~[/] {escape(str(r.target))}: {escape(short(current))} -> "
            f"{escape(short(restored))}"
        )
    for model, alias, version in outline.pins:
        lines.append(
            f"  [yellow]pin[/] {escape(model)}:{escape(alias)} at {escape(version)} (the config asks otherwise)"
        )
    return "\n".join(lines)


def format_revert_result(result: RevertResult, *, with_outline: bool = False) -> str:
    """What revert did; ``with_outline``: what it restored first (nobody was asked to confirm
    it, with `--auto-approve`)."""
    if result.status == "done" and with_outline:
        return f"{format_revert_outline(result.outline)}\n{format_revert_result(result)}"
    if result.status == "nothing":
        return (
            f"Nothing to revert: the state already matches ({escape(result.outline.description)})."
        )
    if result.status == "declined":
        return "Revert cancelled; nothing changed."
    text = f"[green]Reverted[/] as apply #{result.apply_id}: {escape(result.outline.description)}."
    for line in result.forced:
        text += f"\n[yellow]Forced:[/] {escape(line)}"
    if result.outline.pins:
        text += (
            "\nPinned aliases stay put until the config agrees or `mvctl revert --release`; "
            "the next plan shows them as conflicts."
        )
    return text


def revert_json(result: RevertResult) -> RevertJson:
    outline = result.outline
    return {
        "format_version": FORMAT_VERSION,
        "status": result.status,
        "apply_id": result.apply_id,
        "description": outline.description,
        "restorations": [
            {
                "target": str(r.target),
                "kind": r.target.kind,
                "current": value_json(r.current),
                "restored": value_json(r.restored),
            }
            for r in outline.restorations
        ],
        "pins": [{"model": m, "alias": a, "version": v} for m, a, v in outline.pins],
        "forced": list(result.forced),
    }
