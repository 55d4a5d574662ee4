"""Metrics side by side: a candidate against a reference, with deltas and which is better.

Pure arithmetic over stored or freshly computed values, read by ``mvctl compare``, the plan's
Markdown (each version trained or promoted against the version its alias holds now) and the
HTML report. Whether a change is better depends on the metric's direction (higher accuracy,
lower latency). Both sides must come from the same data: callers pair results by dataset
digest, never by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mvctl.core.gates import finite_number
from mvctl.core.plan import (
    EvaluateVersion,
    MoveAlias,
    Plan,
    RegisterArtifact,
    ReplaceServedVersion,
    TrainVersion,
)
from mvctl.core.recorded import RecordedState
from mvctl.spec.metrics import is_better

Verdict = Literal["better", "worse", "same", "n/a"]


@dataclass(frozen=True, slots=True)
class MetricDelta:
    metric: str
    candidate: float | None
    reference: float | None
    delta: float | None
    """candidate - reference."""
    relative: float | None
    """delta / |reference|; None when the reference is 0 or unknown."""
    verdict: Verdict
    shown: str = ""
    """The metric's name as people read it, with its averaging (``f1 (macro)``)."""


def compare_metrics(
    metrics: Sequence[str],
    candidate: Mapping[str, Any],
    reference: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
) -> tuple[MetricDelta, ...]:
    """``labels``: the name to show for each metric (``ScoringSettings.metric_labels``)."""
    rows = []
    for name in metrics:
        shown = (labels or {}).get(name, name)
        a, b = finite_number(candidate.get(name)), finite_number(reference.get(name))
        if a is None or b is None:
            rows.append(MetricDelta(name, a, b, None, None, "n/a", shown))
            continue
        better = is_better(name, a, b)
        verdict: Verdict = "same" if better is None else ("better" if better else "worse")
        rows.append(MetricDelta(name, a, b, a - b, (a - b) / abs(b) if b else None, verdict, shown))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class MetricTable:
    """One version's metrics on one dataset, against the version an alias holds now."""

    model: str
    version: str
    dataset: str
    reference_alias: str | None
    reference_version: str | None
    rows: tuple[MetricDelta, ...]
    pending: bool
    """The version's numbers are made by the apply (trained or re-evaluated in the plan)."""


def plan_metric_tables(
    plan: Plan, recorded: RecordedState, evaluations: Mapping[str, Any]
) -> tuple[MetricTable, ...]:
    """A table for each version the plan trains or promotes, on each of its datasets.

    ``evaluations`` maps model names to their ``ResolvedEvaluation``.
    """
    references: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for action in plan.actions:
        if isinstance(action, MoveAlias):
            references.setdefault(
                (action.model, action.to_version), (action.alias, action.from_version)
            )
        elif isinstance(action, ReplaceServedVersion):
            # A retrained version is compared with the record its aliases serve until then.
            references[(action.model, action.label)] = (action.aliases[0], action.label)
        elif isinstance(action, TrainVersion | RegisterArtifact):
            references.setdefault(
                (action.model, action.label), _default_reference(recorded, action.model)
            )
    pending = {
        (a.model, a.label, ref.digest)
        for a in plan.actions
        if isinstance(a, EvaluateVersion)
        for ref in a.datasets
    }
    tables = []
    for (model, label), (alias, reference) in references.items():
        evaluation = evaluations.get(model)
        if evaluation is None:
            continue
        for dataset in evaluation.datasets.get(label, ()):
            found = [
                _stored(
                    recorded, pending, model, label, dataset.digest, evaluation.evaluation_hash
                ),
                # The recorded numbers of the label itself are its old record's: what serves now.
                _stored(
                    recorded,
                    pending if reference != label else set(),
                    model,
                    reference,
                    dataset.digest,
                    evaluation.evaluation_hash,
                ),
            ]
            settings = evaluation.settings
            rows = compare_metrics(settings.metrics, found[0], found[1], settings.metric_labels())
            tables.append(
                MetricTable(
                    model,
                    label,
                    dataset.name,
                    alias,
                    reference,
                    rows,
                    (model, label, dataset.digest) in pending,
                )
            )
    return tuple(tables)


def _stored(
    recorded: RecordedState,
    pending: set[tuple[str, str, str]],
    model: str,
    version: str | None,
    digest: str,
    evaluation_hash: str,
) -> Mapping[str, Any]:
    """A version's stored metrics on one dataset; none when unknown or made by this plan."""
    if version is None or (model, version, digest) in pending:
        return {}
    found = recorded.evaluations.get((model, version, digest, evaluation_hash))
    return found.metrics() if found is not None and found.status == "ok" else {}


def _default_reference(recorded: RecordedState, model: str) -> tuple[str | None, str | None]:
    """A version not being promoted is compared with production, else the first alias."""
    aliases = sorted(
        (alias for (m, alias) in recorded.aliases if m == model),
        key=lambda alias: (alias != "production", alias),
    )
    if not aliases:
        return None, None
    return aliases[0], recorded.aliases[(model, aliases[0])].version
