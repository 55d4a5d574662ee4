"""Monitoring rules decided on samples (mvctl.core.monitoring) and read from text (spec.rules)."""

from __future__ import annotations

import math

import pytest

from mvctl.core.monitoring import MonitorSample, decide_condition, decide_rules, overall_status
from mvctl.spec.rules import RuleSyntaxError, parse_rule


def sample(
    id_: int,
    f1: float | None = None,
    psi: float | None = None,
    version: str = "1.1.0",
    labelled: bool = True,
) -> MonitorSample:
    return MonitorSample(
        id=id_,
        model="churn",
        alias="production",
        version=version,
        spec_hash="s",
        taken_at=f"2026-01-0{id_}T00:00:00Z",
        recorded_at="",
        actor="ci",
        dataset="b.csv",
        dataset_digest="d",
        rows=10,
        labelled=labelled,
        metrics={"f1": f1} if labelled else {},
        metric_status={"f1": "nan"} if labelled and f1 is None else {},
        drift={"statistics": {"drift.psi.max": psi}},
    )


def test_a_rule_breaks_only_when_it_fails_in_each_of_the_last_over_samples() -> None:
    history = [sample(1, f1=0.5), sample(2, f1=0.9), sample(3, f1=0.5), sample(4, f1=0.5)]
    statuses = [
        decide_rules(["f1 >= 0.8"], 2, history[: n + 1], "1.1.0", {})[0].status
        for n in range(len(history))
    ]
    assert statuses == ["failing", "pass", "failing", "broken"]


def test_nan_in_a_sample_is_inconclusive_and_keeps_the_rule_from_breaking() -> None:
    history = [sample(1, f1=0.5), sample(2, f1=None)]
    (verdict,) = decide_rules(["f1 >= 0.8"], 2, history, "1.1.0", {})
    assert verdict.status == "inconclusive"
    assert overall_status((verdict,)) == "inconclusive"


@pytest.mark.parametrize("promoted", [{}, {"f1": None}, {"f1": math.nan}])
def test_a_promoted_bound_without_a_finite_value_is_inconclusive(
    promoted: dict[str, float | None],
) -> None:
    (verdict,) = decide_rules(["f1 >= promoted - 0.05"], 1, [sample(1, f1=0.1)], "1.1.0", promoted)
    assert (verdict.status, verdict.bound) == ("inconclusive", None)


def test_promoted_is_the_bound_offset_by_the_rule() -> None:
    (verdict,) = decide_rules(
        ["f1 >= promoted - 0.05"], 1, [sample(1, f1=0.9)], "1.1.0", {"f1": 0.96}
    )
    assert verdict.status == "broken"
    assert verdict.bound == pytest.approx(0.91)


def test_samples_of_another_version_never_count() -> None:
    history = [sample(1, f1=0.1, version="1.0.0"), sample(2, f1=0.1)]
    (verdict,) = decide_rules(["f1 >= 0.8"], 2, history, "1.1.0", {})
    assert verdict.status == "failing" and verdict.samples == (2,)


def test_a_metric_rule_is_unmeasured_on_a_batch_without_labels_and_drift_is_not() -> None:
    history = [sample(1, psi=0.5, labelled=False)]
    metric, drift = decide_rules(["f1 >= 0.8", "drift.psi.max < 0.2"], 1, history, "1.1.0", {})
    assert (metric.status, drift.status) == ("unmeasured", "broken")
    assert overall_status((metric, drift)) == "degraded"


@pytest.mark.parametrize(
    "text", ["f1", "f1 >= ", "f1 = 0.8", "f1 >= baseline(production)", "f1 >= promoted * 2"]
)
def test_a_rule_that_does_not_parse_is_refused(text: str) -> None:
    with pytest.raises(RuleSyntaxError, match="SUBJECT OP BOUND"):
        parse_rule(text)


def test_a_rule_reads_subject_operator_and_bound() -> None:
    rule = parse_rule("drift.psi.max < 0.2")
    assert (rule.subject, rule.op, rule.threshold, rule.on_drift) == (
        "drift.psi.max",
        "<",
        0.2,
        True,
    )
    promoted = parse_rule("f1 >= promoted + 1e-2")
    assert (promoted.threshold, promoted.offset) == (None, 0.01)


@pytest.mark.parametrize(
    ("condition", "values", "status"),
    [
        ("f1 < 0.8", [0.5, 0.7], "broken"),
        ("f1 < 0.8", [0.5, 0.8], "pass"),
        ("f1 <= 0.8", [0.8, 0.8], "broken"),
        ("f1 > 0.8", [0.9, 0.7], "pass"),
        ("f1 >= 0.8", [0.7, 0.8], "failing"),
    ],
)
def test_a_when_condition_breaks_when_it_holds_in_each_of_the_last_over_samples(
    condition: str, values: list[float], status: str
) -> None:
    history = [sample(i + 1, f1=value) for i, value in enumerate(values)]
    verdict = decide_condition(condition, 2, history, "1.1.0", {})
    assert (verdict.rule, verdict.status) == (condition, status)


def test_a_when_condition_on_nan_is_inconclusive_not_held() -> None:
    history = [sample(1, f1=0.1), sample(2, f1=None)]
    verdict = decide_condition("f1 < 0.8", 2, history, "1.1.0", {})
    assert verdict.status == "inconclusive"
    broken = decide_condition("f1 < 0.8", 1, [sample(1, f1=None)], "1.1.0", {})
    assert broken.status == "inconclusive"


def test_a_when_condition_on_promoted_without_a_baseline_is_inconclusive() -> None:
    verdict = decide_condition("f1 < promoted - 0.05", 1, [sample(1, f1=0.1)], "1.1.0", {})
    assert verdict.status == "inconclusive" and verdict.bound is None
