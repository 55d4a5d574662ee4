"""What a monitoring rule's ``promoted`` means for a sample, read from the state.

`mvctl monitor`, `mvctl history --monitor` and `mvctl trigger` (a ``when`` condition) decide
rules on the same samples against the same baseline: the served version's own evaluation result
at its promotion, and the version the alias served before it (where a rollback returns).
"""

from __future__ import annotations

import math

from mvctl.core.monitoring import MonitorSample
from mvctl.core.policy import MONITOR_ACTOR
from mvctl.core.recorded import Target
from mvctl.core.records import AliasRecord
from mvctl.state import StateReader


def _promotion(
    state: StateReader, model: str, alias: str, label: str
) -> tuple[int | None, str | None]:
    """(the apply that last pointed the alias at ``label``, the version to roll back to).

    There is none to roll back to when the alias served nothing before, or when a rollback by
    monitoring put it at ``label``: rolling back again would return to the degraded version.
    """
    target = Target("alias", model, alias)
    for logged in reversed(state.changes()):
        change = logged.change
        if change.target != target or not isinstance(change.after, AliasRecord):
            continue
        if change.after.version == label:
            before = change.before
            if logged.actor == MONITOR_ACTOR or not isinstance(before, AliasRecord):
                return logged.apply_id, None
            return logged.apply_id, before.version
    return None, None


def promoted_baseline(
    state: StateReader, sample: MonitorSample
) -> tuple[dict[str, float | None], str | None]:
    """(what `promoted` means for the sample's version, the version the alias served before).

    `promoted` is the version's own evaluation result at its promotion: the latest successful
    result on the evaluation data the sample was compared with, of the version as trained
    then (its spec hash), stored no later than the apply that pointed the alias at it."""
    model = sample.model
    promoted_in, previous = _promotion(state, model, sample.alias, sample.version)
    reference = sample.drift.get("reference")
    found = [
        record
        for record in state.evaluations_of(model)
        if record.label == sample.version
        and record.spec_hash == sample.spec_hash
        and record.status == "ok"
        and record.dataset == reference
        and (promoted_in is None or (record.apply_id or 0) <= promoted_in)
    ]
    if not found:
        return {}, previous
    metrics = found[-1].metrics
    return {
        name: float(value) if isinstance(value, int | float) and math.isfinite(value) else None
        for name, value in metrics.items()
    }, previous
