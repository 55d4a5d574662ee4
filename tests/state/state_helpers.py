"""Helpers shared by the state tests: Change values as apply writes them, whole applies, and looks at the database from outside StateDB (through SQLAlchemy, which tests may
import freely)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import create_engine, inspect, text

from mvctl.core.recorded import Change, StepRun, Target
from mvctl.core.records import AliasRecord, ModelRecord, VersionRecord
from mvctl.state.db import StateDB

STATE_TABLES = {
    "meta",
    "models",
    "versions",
    "aliases",
    "pins",
    "applies",
    "changes",
    "step_runs",
    "lock",
    "evaluations",
    "policy",
    "trigger_firings",
    "monitor_samples",
    "artifact_checks",
}


def version_value(**fields: Any) -> VersionRecord:
    """A trained version's record; ``fields`` replace any of its values."""
    value = VersionRecord(
        status="trained",
        spec_hash="spec-1",
        metadata_hash="meta-1",
        artifact_digest="sha256:" + "a" * 64,
        spec={"steps": [{"name": "train", "params": {"n_estimators": 100}}]},
        params={"train": {"n_estimators": 100}},
        lineage={"data": {"customers.csv": "sha256:" + "b" * 64}},
        failure=None,
        description="Ünïcode description",
        tags={"team": "risk"},
        created_by="alice",
        created_at="2026-11-29T08:30:00Z",
        apply_id=1,
    )
    return replace(value, **fields)


def model_change(
    model: str, after: ModelRecord | None = None, before: ModelRecord | None = None
) -> Change:
    if after is None and before is None:
        after = ModelRecord(archived=False, created_at="2026-11-29T08:30:00Z")
    return Change(Target("model", model), before, after)


def version_change(
    model: str, label: str, after: VersionRecord | None, before: VersionRecord | None = None
) -> Change:
    return Change(Target("version", model, label), before, after)


def alias_change(model: str, alias: str, version: str | None, before: str | None = None) -> Change:
    return Change(
        Target("alias", model, alias),
        None if before is None else AliasRecord(before),
        None if version is None else AliasRecord(version),
    )


def apply(db: StateDB, changes: Sequence[Change], *, kind: str = "apply") -> int:
    """One whole apply: begin, record, finish; returns its id."""
    apply_id = db.begin_apply(kind=kind, actor="alice", plan_hash="plan", expected_serial=None)
    db.record(apply_id, changes)
    db.finish_apply(apply_id, "succeeded")
    return apply_id


def step_run(
    cache_key: str, *, model: str = "churn", step: str = "train", inputs: str = "{}"
) -> StepRun:
    return StepRun(
        cache_key=cache_key,
        model=model,
        step=step,
        outputs={"model.skops": "sha256:" + "c" * 64},
        inputs_json=inputs,
        log_digest=None,
        duration_s=2.5,
        apply_id=None,
    )


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
