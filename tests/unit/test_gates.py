"""The gate grammar and gate decisions: pure values in, results out."""

from __future__ import annotations

import math

import pytest

from mvctl.core.comparison import compare_metrics
from mvctl.core.gates import check_gate
from mvctl.spec.gates import GateSyntaxError, parse_gate


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "baseline", "offset"),
    [
        ("f1 >= 0.80", "f1", ">=", "0.80", None, "0"),
        ("log_loss<0.3", "log_loss", "<", "0.3", None, "0"),
        ("r2 > -1", "r2", ">", "-1", None, "0"),
        ("mse <= 1e-3", "mse", "<=", "1e-3", None, "0"),
        ("accuracy == 1", "accuracy", "==", "1", None, "0"),
        ("qps != 0", "qps", "!=", "0", None, "0"),
        ("roc_auc >= baseline(production) - 0.01", "roc_auc", ">=", None, "production", "-0.01"),
        ("latency_p95_ms <= baseline(staging)+5", "latency_p95_ms", "<=", None, "staging", "5"),
        ("f1 >= baseline(production)", "f1", ">=", None, "production", "0"),
    ],
)
def test_gates_parse(
    text: str, metric: str, op: str, threshold: str | None, baseline: str | None, offset: str
) -> None:
    gate = parse_gate(text)
    assert (gate.metric, gate.op, gate.threshold, gate.baseline, gate.offset) == (
        metric,
        op,
        threshold,
        baseline,
        offset,
    )


@pytest.mark.parametrize(
    ("text", "position", "expected", "found"),
    [
        ("f1 => 0.8", 3, "a comparison", "'='"),
        (">= 0.8", 0, "a metric name", "'>='"),
        ("f1 >= ", 5, "a number or baseline(ALIAS)", "the end of the gate"),
        ("f1 >= basline(production)", 6, "a number or baseline(ALIAS)", "'basline'"),
        ("f1 >= baseline(production", 25, "')' after the alias", "the end of the gate"),
        ("f1 >= baseline(production) -", 28, "a number after '-'", "the end of the gate"),
        ("f1 >= 0.8 and recall >= 0.7", 10, "the end of the gate", "'and'"),
        ("f1 >= 0.8%", 9, "the end of the gate", "'%'"),
    ],
)
def test_a_bad_gate_names_the_position_and_the_expected_token(
    text: str, position: int, expected: str, found: str
) -> None:
    with pytest.raises(GateSyntaxError) as caught:
        parse_gate(text)
    assert caught.value.position == position
    assert caught.value.expected.startswith(expected)
    assert caught.value.found == found


def test_a_misspelt_baseline_gets_a_suggestion() -> None:
    with pytest.raises(GateSyntaxError) as caught:
        parse_gate("f1 >= basline(production)")
    assert caught.value.fix == "Did you mean 'baseline'?"


def test_a_gate_exactly_at_its_threshold() -> None:
    assert check_gate(parse_gate("f1 >= 0.9"), 0.9).result == "pass"
    assert check_gate(parse_gate("f1 > 0.9"), 0.9).result == "fail"
    assert check_gate(parse_gate("f1 <= 0.9"), 0.9).result == "pass"
    assert check_gate(parse_gate("f1 == 0.9"), 0.9).result == "pass"
    assert check_gate(parse_gate("f1 != 0.9"), 0.9).result == "fail"


def test_a_baseline_gate_at_its_bound_passes_despite_binary_rounding() -> None:
    # 0.95 - 0.01 is 0.9399999999999999 in binary floating point; as written it is 0.94.
    gate = parse_gate("roc_auc >= baseline(production) - 0.01")
    outcome = check_gate(gate, 0.94, baseline_version="1.0.0", baseline_value=0.95)
    assert outcome.result == "pass" and outcome.bound == 0.94


def test_a_failing_gate_says_by_how_much() -> None:
    outcome = check_gate(
        parse_gate("roc_auc >= baseline(production) - 0.01"),
        0.92,
        baseline_version="1.0.0",
        baseline_value=0.95,
    )
    assert outcome.result == "fail"
    assert "off by 0.02" in outcome.reason and "production = 1.0.0: 0.95" in outcome.reason


@pytest.mark.parametrize("when_no_baseline", ["pass", "fail"])
def test_without_a_baseline_when_no_baseline_decides(when_no_baseline: str) -> None:
    outcome = check_gate(
        parse_gate("f1 >= baseline(production)"),
        0.5,
        baseline_version=None,
        when_no_baseline=when_no_baseline,
    )  # type: ignore[arg-type]
    assert outcome.result == when_no_baseline
    assert "no baseline" in outcome.reason


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None, "0.9", True])
def test_a_value_that_is_not_a_finite_number_is_inconclusive(value: object) -> None:
    assert check_gate(parse_gate("f1 >= 0.5"), value).result == "inconclusive"


def test_a_baseline_without_the_number_is_inconclusive() -> None:
    outcome = check_gate(
        parse_gate("f1 >= baseline(production)"),
        0.9,
        baseline_version="1.0.0",
        baseline_value=math.nan,
    )
    assert outcome.result == "inconclusive" and "NaN" in outcome.reason


def test_deltas_follow_each_metrics_direction() -> None:
    rows = {
        r.metric: r
        for r in compare_metrics(
            ["f1", "log_loss", "qps", "mse"],
            {"f1": 0.9, "log_loss": 0.2, "qps": 100.0, "mse": None},
            {"f1": 0.8, "log_loss": 0.1, "qps": 100.0, "mse": 1.0},
        )
    }
    assert rows["f1"].verdict == "better" and rows["f1"].delta == pytest.approx(0.1)
    assert rows["f1"].relative == pytest.approx(0.125)
    assert rows["log_loss"].verdict == "worse"
    assert rows["qps"].verdict == "same"
    assert rows["mse"].verdict == "n/a" and rows["mse"].delta is None
