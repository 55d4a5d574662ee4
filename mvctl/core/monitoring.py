"""Monitoring rules decided over the samples of a live alias: pure, from values.

A sample is what one `mvctl monitor` run measured on the version an alias served: metrics
(labelled batch) and drift statistics (every batch). A rule is decided on the last ``over``
samples of the version the alias serves now that measure its subject (labelled ones for a
metric, all for drift): it is *broken* when it fails in each of them. A value that is
missing, NaN or infinite, and a ``promoted`` bound without a finite value, make the sample's
outcome *inconclusive*: never a pass, never a fail. Samples of another version (before a
promotion or a rollback) never count, so a rollback cannot be triggered twice by the same
evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from mvctl.core.records import JSON
from mvctl.spec.rules import Rule, RuleOperator, parse_rule

RuleStatus = Literal["pass", "failing", "broken", "inconclusive", "unmeasured"]
Outcome = Literal["pass", "fail", "inconclusive"]
MonitorStatus = Literal["ok", "inconclusive", "degraded"]


@dataclass(frozen=True, slots=True)
class MonitorSample:
    """One stored sample, as the rules and the history read it."""

    id: int
    model: str
    alias: str
    version: str
    spec_hash: str
    taken_at: str
    recorded_at: str
    actor: str
    dataset: str
    dataset_digest: str
    rows: int
    labelled: bool
    metrics: Mapping[str, float | None]
    """Finite values; None where the value was NaN or infinite (``metric_status`` says which)."""
    metric_status: Mapping[str, str]
    drift: Mapping[str, JSON]
    """Per feature and for the predictions, plus ``statistics`` (what drift rules read)."""

    def value(self, subject: str, on_drift: bool) -> float | None:
        """The sample's value of a metric or drift statistic; None when not finite or absent."""
        if on_drift:
            found = (self.drift.get("statistics") or {}).get(subject)
        else:
            found = self.metrics.get(subject)
        return float(found) if isinstance(found, int | float) and _finite(found) else None

    def measures(self, rule: Rule) -> bool:
        """Drift is measured on every batch; metrics only on labelled ones."""
        return rule.on_drift or self.labelled


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """How one rule stands after the latest sample, with the evidence."""

    rule: str
    status: RuleStatus
    bound: float | None
    """The value the subject is compared with (None: ``promoted`` has no finite value)."""
    values: tuple[float | None, ...]
    """The subject's value in each sample of the window, oldest first."""
    samples: tuple[int, ...]
    """The ids of those samples."""
    reason: str


def decide_rules(
    rules: Sequence[str],
    over: int,
    samples: Sequence[MonitorSample],
    version: str,
    promoted: Mapping[str, float | None],
) -> tuple[RuleVerdict, ...]:
    """Each rule decided on ``samples`` (oldest first, the latest last) of the version the
    alias serves; ``promoted`` holds that version's metrics at its promotion."""
    latest = samples[-1] if samples else None
    return tuple(
        _decide(parse_rule(text), over, samples, latest, version, promoted) for text in rules
    )


_NEGATION: dict[RuleOperator, RuleOperator] = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


def decide_condition(
    condition: str,
    over: int,
    samples: Sequence[MonitorSample],
    version: str,
    promoted: Mapping[str, float | None],
) -> RuleVerdict:
    """A trigger's ``when`` condition decided like a rule that forbids it: *broken* means the
    condition held in each of the last ``over`` samples; a missing or NaN value is
    *inconclusive* here too, so it never counts as the condition holding."""
    rule = parse_rule(condition)
    latest = samples[-1] if samples else None
    forbidding = replace(rule, op=_NEGATION[rule.op])
    return _decide(forbidding, over, samples, latest, version, promoted)


def overall_status(verdicts: Sequence[RuleVerdict]) -> MonitorStatus:
    """degraded when a rule broke; inconclusive when one could not be decided; else ok."""
    statuses = {verdict.status for verdict in verdicts}
    if "broken" in statuses:
        return "degraded"
    return "inconclusive" if "inconclusive" in statuses else "ok"


def _decide(
    rule: Rule,
    over: int,
    samples: Sequence[MonitorSample],
    latest: MonitorSample | None,
    version: str,
    promoted: Mapping[str, float | None],
) -> RuleVerdict:
    bound = rule.threshold
    if bound is None:
        base = promoted.get(rule.subject)
        bound = base + rule.offset if _finite(base) and base is not None else None
    if latest is None or latest.version != version or not latest.measures(rule):
        why = "the latest batch has no labels" if latest is not None else "no samples yet"
        return RuleVerdict(rule.text, "unmeasured", bound, (), (), why)
    window = [s for s in samples if s.version == version and s.measures(rule)][-over:]
    values = tuple(s.value(rule.subject, rule.on_drift) for s in window)
    ids = tuple(s.id for s in window)
    outcomes = [_outcome(rule, value, bound) for value in values]
    failed = sum(outcome == "fail" for outcome in outcomes)
    if len(window) == over and failed == over:
        status: RuleStatus = "broken"
        reason = f"failed in each of the last {over} sample(s)"
    elif outcomes[-1] == "inconclusive":
        status = "inconclusive"
        reason = (
            f"{rule.subject} has no finite value in the latest sample"
            if values[-1] is None
            else "the version has no finite promoted value of " + rule.subject
        )
    elif outcomes[-1] == "fail":
        status = "failing"
        reason = f"failed in {failed} of the last {len(window)} sample(s); breaks after {over}"
    else:
        status, reason = "pass", "holds in the latest sample"
    return RuleVerdict(rule.text, status, bound, values, ids, reason)


def _outcome(rule: Rule, value: float | None, bound: float | None) -> Outcome:
    if value is None or bound is None:
        return "inconclusive"
    holds = {
        ">=": value >= bound,
        ">": value > bound,
        "<=": value <= bound,
        "<": value < bound,
    }[rule.op]
    return "pass" if holds else "fail"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
