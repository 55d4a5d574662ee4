"""The end of `mvctl apply` (and of a trigger's apply) as text and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.core.plan import action_to_dict
from mvctl.render.json_format import FORMAT_VERSION

if TYPE_CHECKING:
    from mvctl.render.shapes import ApplyJson, OutcomeJson
    from mvctl.results.apply import ActionOutcome, ApplyResult


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
