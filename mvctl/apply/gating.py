"""Check an alias move's gates on the stored results, just before the alias would move.

Each planned ``GateCheck`` is decided again on what the state holds now (the evaluations this
apply has just made included), against the baseline version the plan named. Only when every
gate passes may the alias move; the decision, passing or not, is recorded in the change log
with the numbers, and a blocked move says which gate failed and by how much.
"""

from __future__ import annotations

from typing import Any

from mvctl.apply.applier import ApplySession
from mvctl.core.gates import GateOutcome, check_gate, parse_gate
from mvctl.core.plan import GateCheck, MoveAlias
from mvctl.core.recorded import Change, Target


def check_alias_gates(session: ApplySession, action: MoveAlias) -> tuple[Change, str | None]:
    """The decision to record, and why the move is blocked (None: every gate passed)."""
    checks = [_decide(session, action, check) for check in action.gates]
    blocked = [c for c in checks if c["result"] != "pass"]
    decision = Change(
        Target("gate", action.model, action.alias),
        None,
        {"version": action.to_version, "passed": not blocked, "checks": checks},
    )
    if not blocked:
        return decision, None
    reasons = "; ".join(
        f"gate '{c['gate']}' {c['result']} on {c['dataset']}: {c['reason']}" for c in blocked
    )
    return decision, f"{action.alias} stays at {action.from_version or 'no version'}: {reasons}"


def _decide(session: ApplySession, action: MoveAlias, check: GateCheck) -> dict[str, Any]:
    outcome = _outcome(session, action, check)
    return {
        "gate": check.gate,
        "dataset": check.dataset,
        "baseline_version": check.baseline_version,
        "result": outcome.result,
        "value": outcome.value,
        "bound": outcome.bound,
        "reason": outcome.reason,
    }


def _outcome(session: ApplySession, action: MoveAlias, check: GateCheck) -> GateOutcome:
    gate = parse_gate(check.gate)
    state = session.state
    stored = state.evaluation_result(
        action.model, action.to_version, check.dataset_digest, check.evaluation_hash
    )
    if stored is None or stored.status != "ok":
        why = "no stored result" if stored is None else f"a failed evaluation ({stored.message})"
        return GateOutcome(
            "inconclusive",
            None,
            None,
            f"{action.model}@{action.to_version} has {why} on {check.dataset}",
        )
    baseline_value = None
    if check.baseline_version is not None:
        base = state.evaluation_result(
            action.model, check.baseline_version, check.dataset_digest, check.evaluation_hash
        )
        baseline_value = (
            base.metric(gate.metric) if base is not None and base.status == "ok" else None
        )
    return check_gate(
        gate,
        stored.metric(gate.metric),
        baseline_version=check.baseline_version,
        baseline_value=baseline_value,
        when_no_baseline=check.when_no_baseline,
    )
