"""Evaluation results and gate decisions in the state, on SQLite and PostgreSQL: written once
through the change log, read as the latest per (version, dataset, settings) of the version as
trained now, stored as strict JSON, and left alone by revert."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from state_helpers import apply, model_change, version_change, version_value

from mvctl.core.recorded import Change, Target
from mvctl.core.records import AliasRecord, EvaluationResult, GateDecision
from mvctl.core.revert import outline_undo
from mvctl.state.db import StateDB


def evaluation(
    label: str = "1.0.0",
    *,
    spec_hash: str = "spec-1",
    digest: str = "sha256:data",
    metrics: dict[str, Any] | None = None,
    **extra: Any,
) -> Change:
    value = EvaluationResult(
        spec_hash=spec_hash,
        dataset_digest=digest,
        dataset="holdout",
        evaluation_hash="eval-1",
        status="ok",
        metrics=metrics or {"f1": 0.9},
        metric_status={},
        details={"rows": 10, "roc": {"fpr": [0, 1], "tpr": [0, 1]}},
        message=None,
        evaluator_version="mvctl test",
        created_at="2026-11-29T08:30:00Z",
    )
    return Change(Target("evaluation", "churn", label), None, replace(value, **extra))


@pytest.fixture
def trained(db: StateDB) -> StateDB:
    apply(db, [model_change("churn"), version_change("churn", "1.0.0", version_value())])
    return db


def test_the_latest_result_per_dataset_and_settings_is_in_the_snapshot(trained: StateDB) -> None:
    apply(trained, [evaluation(metrics={"f1": 0.8})])
    apply(trained, [evaluation(metrics={"f1": 0.85}), evaluation(digest="sha256:other")])
    found = trained.snapshot().evaluations
    assert set(found) == {
        ("churn", "1.0.0", "sha256:data", "eval-1"),
        ("churn", "1.0.0", "sha256:other", "eval-1"),
    }
    assert found[("churn", "1.0.0", "sha256:data", "eval-1")].metric("f1") == 0.85
    assert [r.metrics["f1"] for r in trained.evaluations_of("churn")] == [0.8, 0.85, 0.9]
    assert trained.evaluations_of("churn")[0].details["roc"] == {"fpr": [0, 1], "tpr": [0, 1]}
    result = trained.evaluation_result("churn", "1.0.0", "sha256:data", "eval-1")
    assert result is not None and result.metric("f1") == 0.85


def test_results_of_an_overwritten_spec_are_left_out(trained: StateDB) -> None:
    apply(trained, [evaluation()])
    before = trained.version_value("churn", "1.0.0")
    apply(trained, [version_change("churn", "1.0.0", version_value(spec_hash="spec-2"), before)])
    assert trained.snapshot().evaluations == {}
    assert trained.evaluation_result("churn", "1.0.0", "sha256:data", "eval-1") is None
    assert len(trained.evaluations_of("churn")) == 1  # history keeps it


def test_results_of_a_retrained_spec_not_recorded_yet_are_read_by_that_spec(
    trained: StateDB,
) -> None:
    """A retrained version waiting for its gates: its results are found by its own spec hash,
    while the record aliases serve keeps reading its own."""
    apply(trained, [evaluation(metrics={"f1": 0.9})])
    apply(trained, [evaluation(spec_hash="spec-2", metrics={"f1": 0.0})])
    served = trained.evaluation_result("churn", "1.0.0", "sha256:data", "eval-1")
    retrained = trained.evaluation_result("churn", "1.0.0", "sha256:data", "eval-1", "spec-2")
    assert served is not None and served.metric("f1") == 0.9
    assert retrained is not None and retrained.metric("f1") == 0.0
    assert trained.evaluation_result("churn", "1.0.0", "sha256:data", "eval-1", "spec-3") is None


def test_non_finite_metrics_are_null_with_a_status_and_bare_nan_is_refused(
    trained: StateDB,
) -> None:
    apply(trained, [evaluation(metrics={"r2": None, "f1": 0.5}, metric_status={"r2": "nan"})])
    stored = trained.snapshot().evaluations[("churn", "1.0.0", "sha256:data", "eval-1")]
    assert stored.metrics_json == '{"f1":0.5,"r2":null}'
    r2 = stored.metric("r2")
    assert r2 != r2  # NaN comes back as NaN for the gates to call inconclusive
    serial = trained.serial()
    apply_id = trained.begin_apply(kind="apply", actor="t", plan_hash="p", expected_serial=None)
    with pytest.raises(ValueError):
        trained.record(apply_id, [evaluation(metrics={"f1": float("nan")})])
    assert trained.serial() == serial
    assert len(trained.evaluations_of("churn")) == 1


def test_results_are_facts_revert_leaves_alone(trained: StateDB) -> None:
    promoted = apply(
        trained, [Change(Target("alias", "churn", "production"), None, AliasRecord("1.0.0"))]
    )
    scored = apply(
        trained,
        [
            evaluation(),
            Change(
                Target("gate", "churn", "production"),
                None,
                GateDecision("1.0.0", passed=True, checks=()),
            ),
        ],
    )
    assert trained.last_apply_id(with_changes=True) == promoted
    log = trained.changes()
    assert [c.change.target.kind for c in log if c.apply_id == scored] == ["evaluation", "gate"]
    outline = outline_undo(log, trained.snapshot(), promoted, {})
    assert [str(r.target) for r in outline.restorations] == ["churn:production"]
