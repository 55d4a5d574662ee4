"""Status, history, show, revert and apply results as markup text and as JSON shapes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mvctl.core.plan import action_to_dict
from mvctl.core.policy import EMPTY_POLICY, policy_changes
from mvctl.core.recorded import RESULT_KINDS, Change
from mvctl.core.records import VersionRecord, policy_shape_problem, value_json
from mvctl.core.revert import RevertOutline
from mvctl.render.evaluation import record_line, result_summary
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.render.status import coloured_status
from mvctl.results.apply import ActionOutcome, ApplyResult
from mvctl.results.history import HistoryEntry, HistoryPage
from mvctl.results.records import EvaluationRecord
from mvctl.results.revert import RevertResult
from mvctl.results.show import InputDigest, ShowResult

if TYPE_CHECKING:
    from mvctl.render.shapes import (
        ApplyJson,
        EvaluationJson,
        HistoryApplyJson,
        HistoryJson,
        OutcomeJson,
        RevertJson,
        ShowJson,
    )


def _short(value: Any) -> str:
    """A logged value in words: a version for an alias or pin, a status for a version, names
    joined by commas, other objects as 'key value' pairs; never raw JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, dict) and set(value) <= {"version", "revert_apply_id"}:
        return str(value.get("version"))
    if isinstance(value, dict) and "status" in value:
        return str(value["status"])
    if isinstance(value, dict):
        return (
            ", ".join(f"{key} {_short(item)}" for key, item in sorted(value.items())) or "(empty)"
        )
    if isinstance(value, list):
        return ", ".join(_short(item) for item in value) or "(nobody)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _model_line(change: Change, before: Any, after: Any) -> str:
    """A model record's change: recorded, archived, restored or dropped."""
    name = str(change.target)
    if before is None:
        archived = " (archived)" if (after or {}).get("archived") else ""
        return f"{name}: model recorded{archived}"
    if after is None:
        return f"{name}: model record removed"
    if before.get("archived") != after.get("archived"):
        return (
            f"{name}: model {'archived' if after.get('archived') else 'restored from the archive'}"
        )
    return f"{name}: model record unchanged"


def _digest(value: Any) -> str:
    return "(none)" if not value else str(value).removeprefix("sha256:")[:12] + "…"


def _identity(value: Any) -> str:
    """A version record by what it was trained from and into."""
    return f"{value.get('status')}, spec {_digest(value.get('spec_hash'))}, artifact {_digest(value.get('artifact_digest'))}"


def _retrained(before: Any, after: Any) -> bool:
    """A usable version whose record was replaced under its label (an overwrite, or its revert)."""
    return (
        isinstance(before, dict)
        and isinstance(after, dict)
        and before.get("status") in ("trained", "archived")
        and any(before.get(k) != after.get(k) for k in ("spec_hash", "artifact_digest"))
    )


def change_line(change: Change) -> str:
    target = change.target
    before, after = value_json(change.before), value_json(change.after)
    if target.kind == "model":
        return _model_line(change, before, after)
    if target.kind == "version" and after is None:
        return f"{target}: record removed (was {_short(before)})"
    if target.kind == "version" and before is None:
        status = (after or {}).get("status", "?")
        return f"{target}: recorded as {status}"
    if target.kind == "version" and _retrained(before, after):
        return (
            f"overwrote {target} (old spec {_digest(before.get('spec_hash'))}, artifact "
            f"{_digest(before.get('artifact_digest'))}; now spec {_digest(after.get('spec_hash'))}, "
            f"artifact {_digest(after.get('artifact_digest'))})"
        )
    if target.kind in RESULT_KINDS:
        return f"{target}: {result_summary(target.kind, after or {})}"
    if target.kind == "policy" and not any(
        value is not None and policy_shape_problem(value) for value in (before, after)
    ):
        changed = policy_changes(before, after or EMPTY_POLICY)
        return "policy: " + (
            "; ".join(f"{c.path} {_short(c.before)} -> {_short(c.after)}" for c in changed)
            or "unchanged"
        )
    return f"{target}: {_short(before)} -> {_short(after)}"


def format_history(page: HistoryPage) -> str:
    if not page.entries:
        return "No applies recorded."
    lines = []
    for entry in page.entries:
        a = entry.apply
        what = (
            f"revert of {a.reverts_apply_id}"
            if a.kind == "revert" and a.reverts_apply_id
            else a.kind
        )
        lines.append(
            f"[bold]#{a.id}[/] {what} by {escape(a.actor)} at {a.started_at}  {coloured_status(a.status)}"
            + (f"  {escape(a.message)}" if a.message else "")
        )
        lines += [f"    {escape(change_line(c.change))}" for c in entry.changes]
    if page.next_before is not None:
        lines.append(
            f"Older applies follow: run the same command with --before {page.next_before}."
        )
    return "\n".join(lines)


def history_json(page: HistoryPage) -> HistoryJson:
    return {
        "format_version": FORMAT_VERSION,
        "applies": [_history_apply_json(entry) for entry in page.entries],
        "next_before": page.next_before,
    }


def _history_apply_json(entry: HistoryEntry) -> HistoryApplyJson:
    a = entry.apply
    return {
        "id": a.id,
        "kind": "revert" if a.kind == "revert" else "rollback" if a.kind == "rollback" else "apply",
        "actor": a.actor,
        "started_at": a.started_at,
        "finished_at": a.finished_at,
        "plan_hash": a.plan_hash,
        "status": a.status,
        "message": a.message,
        "serial_before": a.serial_before,
        "serial_after": a.serial_after,
        "reverts_apply_id": a.reverts_apply_id,
        "change_count": a.change_count,
        "changes": [
            {
                "seq": c.seq,
                "target": str(c.change.target),
                "kind": c.change.target.kind,
                "before": value_json(c.change.before),
                "after": value_json(c.change.after),
                "actor": c.actor,
            }
            for c in entry.changes
        ],
    }


def format_show(result: ShowResult) -> str:
    v = result.version
    lines = [
        f"[bold]{escape(v.model)}@{escape(v.label)}[/]  {coloured_status(v.status)}",
        f"  aliases:      {escape(', '.join(result.aliases)) or '(none)'}",
        f"  description:  {escape(v.description or '')}",
        *(
            [f"  tags:         {escape(', '.join(f'{k}={x}' for k, x in v.tags.items()))}"]
            if v.tags
            else []
        ),
        f"  spec hash:    {v.spec_hash}",
        f"  artifact:     {v.artifact_digest or '(none)'}",
        f"  created:      {v.created_at} by {escape(v.created_by)} in apply {v.apply_id}",
    ]
    if v.params:
        lines.append("  params:")
        for step, params in v.params.items():
            lines.append(f"    {escape(step)}: {escape(json.dumps(params, sort_keys=True))}")
    steps = v.lineage.get("steps", {})
    if steps:
        lines.append("  lineage:")
        for name, info in steps.items():
            how = "cached" if info.get("cached") else f"ran {info.get('duration_s', '?')} s"
            outputs = ", ".join(f"{k} {d[:19]}" for k, d in info.get("outputs", {}).items())
            lines.append(f"    {escape(name)}: key {info['key'][:12]} ({how}) -> {escape(outputs)}")
    if result.inputs:
        lines.append("  inputs (recorded -> now):")
        width = max(len(_input_name(i)) for i in result.inputs)
        for item in result.inputs:
            now = (
                "[dim]unchanged[/]"
                if not item.changed
                else f"[yellow]{escape(_input_digest(item.current))}[/]"
            )
            lines.append(
                f"    {escape(_input_name(item)):<{width}}  "
                f"{escape(_input_digest(item.recorded))} -> {now}"
            )
    if v.failure:
        lines.append(
            f"  [red]failure:[/] {escape(json.dumps({k: x for k, x in v.failure.items() if k != 'log_tail'}))}"
        )
        tail = v.failure.get("log_tail")
        if tail:
            lines += ["  log tail:"] + [f"    {escape(line)}" for line in str(tail).splitlines()]
    if result.evaluations:
        lines.append("  metrics:")
        lines += [f"    {escape(record_line(r))}" for r in result.evaluations]
    return "\n".join(lines)


def show_json(result: ShowResult) -> ShowJson:
    v = result.version
    return {
        "format_version": FORMAT_VERSION,
        "model": v.model,
        "label": v.label,
        "status": v.status,
        "spec_hash": v.spec_hash,
        "metadata_hash": v.metadata_hash,
        "artifact_digest": v.artifact_digest,
        "spec": dict(v.spec),
        "params": dict(v.params),
        "lineage": dict(v.lineage),
        "failure": None if v.failure is None else dict(v.failure),
        "description": v.description,
        "tags": dict(v.tags),
        "created_by": v.created_by,
        "created_at": v.created_at,
        "apply_id": v.apply_id,
        "aliases": list(result.aliases),
        "evaluations": [_evaluation_json(r) for r in result.evaluations],
        "inputs": [
            {
                "step": i.step,
                "kind": i.kind,
                "name": i.name,
                "recorded": i.recorded,
                "current": i.current,
            }
            for i in result.inputs
        ],
    }


def _input_digest(value: str | None) -> str:
    """A digest cut to its first 12 hex digits, as the lineage shows outputs; 'unset' for a
    variable without a value."""
    if value is None:
        return "(missing)"
    return value[:19] if value.startswith("sha256:") else value


def _input_name(item: InputDigest) -> str:
    return f"{item.step}: {item.name if item.kind == 'file' else '$' + item.name}"


def _evaluation_json(record: EvaluationRecord) -> EvaluationJson:
    return {
        "id": record.id,
        "model": record.model,
        "label": record.label,
        "spec_hash": record.spec_hash,
        "dataset_digest": record.dataset_digest,
        "evaluation_hash": record.evaluation_hash,
        "dataset": record.dataset,
        "status": record.status,
        "metrics": dict(record.metrics),
        "metric_status": dict(record.metric_status),
        "details": dict(record.details),
        "message": record.message,
        "evaluator_version": record.evaluator_version,
        "created_at": record.created_at,
        "apply_id": record.apply_id,
    }


def format_revert_outline(outline: RevertOutline) -> str:
    lines = [f"Revert will {escape(outline.description)}:"]
    for r in outline.restorations:
        current, restored = value_json(r.current), value_json(r.restored)
        if isinstance(r.restored, VersionRecord):
            lines.append(
                f"  [cyan]~[/] {escape(str(r.target))}: the whole earlier record: "
                f"{escape(_identity(current))} -> {escape(_identity(restored))}"
            )
            continue
        lines.append(
            f"  [cyan]~[/] {escape(str(r.target))}: {escape(_short(current))} -> "
            f"{escape(_short(restored))}"
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


def format_apply_result(result: ApplyResult) -> str:
    if result.status == "no_changes":
        return "[green]No changes.[/] The recorded state matches the config."
    if result.status == "declined":
        return "Apply cancelled; nothing changed."
    outcomes = result.outcomes
    done = sum(1 for o in outcomes if o.status == "done")
    refused = sum(1 for o in outcomes if o.refused)
    skipped = sum(1 for o in outcomes if o.status == "skipped" and not o.refused)
    failed = len(outcomes) - done - refused - skipped
    if not result.failed:
        return f"[green]Apply #{result.apply_id} complete:[/] {done} changes."
    if result.only_refused:
        return (
            f"[yellow]Apply #{result.apply_id} refused {refused} promotion(s):[/] a gate or a "
            f"health check held the model back ({done} done, {skipped} skipped). The aliases "
            "serve what they served; see the lines above for why."
        )
    return (
        f"[red]Apply #{result.apply_id} finished with failures:[/] {done} done, {failed} failed, "
        f"{refused} refused, {skipped} skipped. See `mvctl show MODEL@VERSION` for a failed "
        "version's log."
    )


def apply_json(result: ApplyResult) -> ApplyJson:
    return {
        "format_version": FORMAT_VERSION,
        "status": result.status,
        "apply_id": result.apply_id,
        "plan_hash": result.plan.hash,
        "outcomes": [_outcome_json(o) for o in result.outcomes],
    }


def _outcome_json(outcome: ActionOutcome) -> OutcomeJson:
    shape: OutcomeJson = {
        "action": action_to_dict(outcome.action),
        "status": outcome.status,
        "message": outcome.message,
        "refused": outcome.refused,
    }
    if outcome.steps:
        shape["steps"] = dict(outcome.steps)
    return shape


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
