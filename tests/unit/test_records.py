"""The typed values a change sets, and their change-log JSON: exactly what mvctl has always
written, read back equal, and anything else refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from mvctl.core.records import (
    RECORD_TYPES,
    AliasRecord,
    EvaluationResult,
    GateDecision,
    ModelRecord,
    PinRecord,
    PolicyRecord,
    RecordShapeError,
    RecordValue,
    Rollback,
    TargetKind,
    record_from_json,
    target_kind,
)
from tests.state.state_helpers import version_value

CHECK = {
    "gate": "accuracy >= 0.7",
    "dataset": "holdout",
    "baseline_version": None,
    "result": "pass",
    "value": 0.9,
    "bound": 0.7,
    "reason": "accuracy = 0.9 >= 0.7",
}
EVALUATION = EvaluationResult(
    spec_hash="spec-1",
    dataset_digest="sha256:d",
    dataset="holdout",
    evaluation_hash="e",
    status="ok",
    metrics={"accuracy": 0.9, "r2": None},
    metric_status={"r2": "nan"},
    details={"rows": 10},
    message=None,
    evaluator_version="mvctl 0.1.0",
    created_at="2026-11-29T08:30:00Z",
)

LOGGED: list[tuple[TargetKind, RecordValue, dict[str, Any]]] = [
    (
        "model",
        ModelRecord(archived=False, created_at="2026-11-29T08:30:00Z"),
        {"archived": False, "created_at": "2026-11-29T08:30:00Z"},
    ),
    ("alias", AliasRecord("1.0.0"), {"version": "1.0.0"}),
    ("pin", PinRecord("1.0.0", 4), {"version": "1.0.0", "revert_apply_id": 4}),
    (
        "gate",
        GateDecision("1.1.0", passed=True, checks=(CHECK,)),
        {"version": "1.1.0", "passed": True, "checks": [CHECK]},
    ),
    (
        "gate",
        GateDecision(
            "1.0.0",
            passed=False,
            checks=({"gate": "health_check", "result": "fail", "message": "exit 3"},),
            spec_hash="spec-2",
            rollback=Rollback("exit 3", "0.9.0"),
        ),
        {
            "version": "1.0.0",
            "spec_hash": "spec-2",
            "passed": False,
            "checks": [{"gate": "health_check", "result": "fail", "message": "exit 3"}],
            "rollback": {"automatic": True, "reason": "exit 3", "restored": "0.9.0"},
        },
    ),
    (
        "gate",
        GateDecision(
            "1.0.0",
            passed=False,
            checks=({"gate": "artifact", "result": "fail", "reason": "missing"},),
            forced=True,
        ),
        {
            "version": "1.0.0",
            "passed": False,
            "forced": True,
            "checks": [{"gate": "artifact", "result": "fail", "reason": "missing"}],
        },
    ),
    (
        "policy",
        PolicyRecord(("admin",), {"production": ("bot",)}, {"churn": ("dana", "eve")}),
        {
            "admins": ["admin"],
            "protected_aliases": {"production": {"actors": ["bot"]}},
            "owners": {"churn": ["dana", "eve"]},
        },
    ),
]


@pytest.mark.parametrize(("kind", "value", "logged"), LOGGED)
def test_a_value_is_logged_as_mvctl_writes_it_and_reads_back_equal(
    kind: TargetKind, value: RecordValue, logged: dict[str, Any]
) -> None:
    assert value.to_json() == logged
    assert record_from_json(kind, logged) == value
    assert isinstance(value, RECORD_TYPES[kind])


def test_a_version_and_an_evaluation_read_back_equal() -> None:
    version = version_value(failure={"step": "train", "exit_code": 1}, artifact_digest=None)
    assert record_from_json("version", version.to_json()) == version
    assert set(version.to_json()) == {
        "status",
        "spec_hash",
        "metadata_hash",
        "artifact_digest",
        "spec",
        "params",
        "lineage",
        "failure",
        "description",
        "tags",
        "created_by",
        "created_at",
        "apply_id",
    }
    assert record_from_json("evaluation", EVALUATION.to_json()) == EVALUATION


@pytest.mark.parametrize(
    ("kind", "data", "problem"),
    [
        ("alias", ["1.0.0"], "the alias value must be an object, not list"),
        ("alias", {"version": 5}, "'version' must be text, not int"),
        ("alias", {}, "the alias value has no 'version'"),
        ("alias", {"version": "1", "extra": 1}, "keys mvctl never writes: 'extra'"),
        ("pin", {"version": "1", "revert_apply_id": True}, "'revert_apply_id' must be a whole"),
        ("model", {"archived": "no", "created_at": "t"}, "'archived' must be true or false"),
        ("version", {**version_value().to_json(), "status": "live"}, "'status' is 'live'"),
        ("version", {**version_value().to_json(), "spec": []}, "'spec' must be an object"),
        ("evaluation", {**EVALUATION.to_json(), "metrics": {"f1": "high"}}, "'metrics' must"),
        ("evaluation", {**EVALUATION.to_json(), "status": "maybe"}, "not 'ok' or 'error'"),
        ("gate", {"version": "1", "passed": True, "checks": {}}, "'checks' must be a list"),
        ("gate", {"version": "1", "passed": True, "checks": [], "forced": False}, "'forced'"),
        (
            "gate",
            {"version": "1", "passed": False, "checks": [], "rollback": {"automatic": False}},
            "the rollback value has no 'reason', 'restored'",
        ),
        ("policy", {"admins": "mallory"}, "exactly the keys admins, protected_aliases, owners"),
    ],
)
def test_a_value_mvctl_never_wrote_is_refused_naming_the_field(
    kind: TargetKind, data: Any, problem: str
) -> None:
    with pytest.raises(RecordShapeError) as refused:
        record_from_json(kind, data)
    assert problem in str(refused.value)


def test_an_unknown_target_kind_is_refused() -> None:
    assert target_kind("alias") == "alias"
    with pytest.raises(RecordShapeError, match="'tag' is not a kind of target"):
        target_kind("tag")
