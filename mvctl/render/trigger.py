"""`mvctl trigger` as text and as JSON (`schemas/trigger.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.apply_result import apply_json, format_apply_result
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.trigger import TriggerOutcome, TriggerResult

if TYPE_CHECKING:
    from mvctl.render.shapes import TriggerJson, TriggerOutcomeJson


def format_trigger(result: TriggerResult) -> str:
    lines = [f"Triggers at {result.now}"]
    if not result.outcomes:
        lines.append("No triggers are declared (or selected); nothing to do.")
    for outcome in result.outcomes:
        lines.append(outcome_line(outcome))
    for edit in result.edits:
        lines.append("")
        lines.extend(_diff_line(line) for line in edit.diff.splitlines())
    lines.append("")
    lines.append(_closing(result))
    if result.applied is not None:
        lines.append(format_apply_result(result.applied))
    return "\n".join(lines)


def outcome_line(outcome: TriggerOutcome) -> str:
    name = escape(f"{outcome.model}:{outcome.trigger}")
    if not outcome.fired:
        return f"- not fired {name}: {escape(outcome.reason)}"
    line = (
        f"[green]+ fired[/] {name} -> {escape(f'{outcome.model}@{outcome.label}')} "
        f"(from {escape(outcome.source or '')})"
    )
    if outcome.promote is not None:
        line += f", {escape(outcome.promote)} -> {escape(outcome.label or '')}"
    return f"{line}\n    {escape(outcome.reason)}; in {escape(outcome.file or '')}"


def _diff_line(line: str) -> str:
    if line.startswith(("+++", "---")):
        return f"[bold]{escape(line)}[/]"
    if line.startswith("+"):
        return f"[green]{escape(line)}[/]"
    if line.startswith("-"):
        return f"[red]{escape(line)}[/]"
    if line.startswith("@@"):
        return f"[cyan]{escape(line)}[/]"
    return escape(line)


def _closing(result: TriggerResult) -> str:
    fired = len(result.fired)
    if result.dry_run:
        return f"Dry run: {fired} would fire; nothing written or recorded."
    if not fired:
        return "Nothing fired; no file was changed."
    files = ", ".join(escape(edit.file) for edit in result.edits)
    follow = (
        "applying it now."
        if result.applied is not None
        else "review it and open a pull request (or run `mvctl plan`); nothing is trained "
        "until it is applied."
    )
    return f"{fired} fired; wrote {files}: {follow}"


def trigger_json(result: TriggerResult) -> TriggerJson:
    return {
        "format_version": FORMAT_VERSION,
        "now": result.now,
        "dry_run": result.dry_run,
        "triggers": [outcome_json(outcome) for outcome in result.outcomes],
        "edits": [{"file": edit.file, "diff": edit.diff} for edit in result.edits],
        "apply": None if result.applied is None else apply_json(result.applied),
    }


def outcome_json(outcome: TriggerOutcome) -> TriggerOutcomeJson:
    return {
        "model": outcome.model,
        "trigger": outcome.trigger,
        "kind": outcome.kind,
        "fired": outcome.fired,
        "reason": outcome.reason,
        "label": outcome.label,
        "from": outcome.source,
        "promote": outcome.promote,
        "file": outcome.file,
        "period": outcome.period,
        "digests": dict(outcome.digests),
        "samples": list(outcome.samples),
    }
