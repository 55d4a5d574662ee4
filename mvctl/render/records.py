"""The change log in words (one line per change) and `mvctl history` as text and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mvctl.core.policy import EMPTY_POLICY, policy_changes
from mvctl.core.recorded import RESULT_KINDS, Change
from mvctl.core.records import policy_shape_problem, value_json
from mvctl.render.evaluation import result_summary
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.render.status import coloured_status
from mvctl.render.values import short, short_digest

if TYPE_CHECKING:
    from mvctl.render.shapes import HistoryApplyJson, HistoryJson
    from mvctl.results.history import HistoryEntry, HistoryPage


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
        return f"{target}: record removed (was {short(before)})"
    if target.kind == "version" and before is None:
        status = (after or {}).get("status", "?")
        return f"{target}: recorded as {status}"
    if target.kind == "version" and _retrained(before, after):
        return (
            f"overwrote {target} (old spec {short_digest(before.get('spec_hash'))}, artifact "
            f"{short_digest(before.get('artifact_digest'))}; now spec {short_digest(after.get('spec_hash'))}, "
            f"artifact {short_digest(after.get('artifact_digest'))})"
        )
    if target.kind in RESULT_KINDS:
        return f"{target}: {result_summary(target.kind, after or {})}"
    if target.kind == "policy" and not any(
        value is not None and policy_shape_problem(value) for value in (before, after)
    ):
        changed = policy_changes(before, after or EMPTY_POLICY)
        return "policy: " + (
            "; ".join(f"{c.path} {short(c.before)} -> {short(c.after)}" for c in changed)
            or "unchanged"
        )
    return f"{target}: {short(before)} -> {short(after)}"


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
