"""Check a promotion's gates on the stored results, just before the aliases would change.

Each planned ``GateCheck`` is decided again on what the state holds now (the evaluations this
apply has just made included), against the baseline version the plan named. A retrained
version that is not recorded yet (it replaces the record aliases serve) is judged on the
results this apply stored for its own spec, never on the old record's: a result made before
this apply is not evidence about the artifact it has just trained. Only when every gate passes
may the promotion go on; the caller records the decision, passing or not, with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mvctl.apply.session import ApplySession
from mvctl.core.gates import GateOutcome, check_gate
from mvctl.core.plan import GateCheck
from mvctl.spec.gates import parse_gate


def check_gates(
    session: ApplySession,
    model: str,
    label: str,
    gates: Sequence[GateCheck],
    candidate_spec: str | None = None,
) -> list[dict[str, Any]]:
    """Every gate decided for ``model@label``: gate, dataset, result, value, bound, reason.

    ``candidate_spec``: the spec hash of a retrained ``label`` that is not recorded yet."""
    return [_decide(session, model, label, check, candidate_spec) for check in gates]


def blocked_reasons(checks: Sequence[dict[str, Any]]) -> str:
    """Why a promotion is held back, one clause per gate that did not pass ('' when none)."""
    return "; ".join(
        f"gate '{c['gate']}' {c['result']} on {c['dataset']}: {c['reason']}"
        for c in checks
        if c["result"] != "pass"
    )


def _decide(
    session: ApplySession, model: str, label: str, check: GateCheck, candidate_spec: str | None
) -> dict[str, Any]:
    outcome = _outcome(session, model, label, check, candidate_spec)
    return {
        "gate": check.gate,
        "dataset": check.dataset,
        "baseline_version": check.baseline_version,
        "result": outcome.result,
        "value": outcome.value,
        "bound": outcome.bound,
        "reason": outcome.reason,
    }


def _outcome(
    session: ApplySession, model: str, label: str, check: GateCheck, candidate_spec: str | None
) -> GateOutcome:
    gate = parse_gate(check.gate)
    state = session.state
    stored = state.evaluation_result(
        model, label, check.dataset_digest, check.evaluation_hash, candidate_spec
    )
    what = f"{model}@{label}" if candidate_spec is None else f"the retrained {model}@{label}"
    if candidate_spec is not None and stored is not None and stored.apply_id != session.apply_id:
        return GateOutcome(
            "inconclusive", None, None, f"{what} was not evaluated on {check.dataset} in this apply"
        )
    if stored is None or stored.status != "ok":
        why = "no stored result" if stored is None else f"a failed evaluation ({stored.message})"
        return GateOutcome("inconclusive", None, None, f"{what} has {why} on {check.dataset}")
    baseline_value = None
    if check.baseline_version is not None:
        # The baseline is what its alias serves now: for a retrained version's own alias,
        # that is the old record, still the recorded one.
        base = state.evaluation_result(
            model, check.baseline_version, check.dataset_digest, check.evaluation_hash
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
