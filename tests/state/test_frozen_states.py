"""Frozen state databases, one per old schema revision, migrate to head and read back intact.

``frozen/state-0001.db`` was written by mvctl at schema revision 0001 (before evaluations
existed): the tiny test project applied (two versions, two aliases), a failed third version,
a promotion, and a revert of it that left a pin. ``frozen/state-0002.db`` was written at
revision 0002 (before the recorded policy and the change log's actor column) by the scored
test project, all applied by 'tester': two versions trained and evaluated on two datasets with
their gates, a failed third version, a promotion, and its revert that left a pin. They must
never be regenerated: they stand for the databases users already have.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from mvctl.core.hashing import canonical_json
from mvctl.core.recorded import POLICY_TARGET, Change, Target
from mvctl.core.records import EvaluationResult, PolicyRecord, value_json
from mvctl.core.revert import Restoration, outline_undo
from mvctl.errors import StateError
from mvctl.state import schema
from mvctl.state.db import StateDB

FROZEN = Path(__file__).parent / "frozen"


@pytest.fixture
def state_0001(tmp_path: Path) -> Path:
    copy = tmp_path / "state.db"
    shutil.copy(FROZEN / "state-0001.db", copy)
    return copy


@pytest.fixture
def state_0002(tmp_path: Path) -> Path:
    copy = tmp_path / "state.db"
    shutil.copy(FROZEN / "state-0002.db", copy)
    return copy


def revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        (found,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(found)


def test_the_frozen_file_is_at_revision_0001(state_0001: Path) -> None:
    assert revision(state_0001) == "0001"


def test_reading_an_old_schema_asks_for_a_migration_and_changes_nothing(state_0001: Path) -> None:
    before = state_0001.read_bytes()
    with pytest.raises(StateError, match="mvctl state migrate"):
        StateDB.open(f"sqlite:///{state_0001}", create=False)
    assert state_0001.read_bytes() == before


def test_revision_0001_migrates_to_head_and_reads_as_it_was(state_0001: Path) -> None:
    with StateDB.open(f"sqlite:///{state_0001}", create=True) as db:
        recorded = db.snapshot()
        assert recorded.serial == 8
        assert recorded.models == {"churn"}
        assert {label: v.status for (_, label), v in recorded.versions.items()} == {
            "1.0.0": "trained",
            "1.1.0": "trained",
            "1.2.0": "failed",
        }
        assert {alias: a.version for (_, alias), a in recorded.aliases.items()} == {
            "production": "1.0.0",
            "staging": "1.1.0",
        }
        (pin,) = recorded.pins.values()
        assert (pin.alias, pin.version, pin.revert_apply_id) == ("production", "1.0.0", 4)
        assert recorded.evaluations == {}
        assert [(a.id, a.kind, a.status) for a in db.applies()] == [
            (4, "revert", "succeeded"),
            (3, "apply", "succeeded"),
            (2, "apply", "failed"),
            (1, "apply", "succeeded"),
        ]
        detail = db.version_detail("churn", "1.1.0")
        assert detail is not None and detail.params["train"] == {"lr": 0.2}
        assert db.step_run(detail.lineage["steps"]["train"]["key"]) is not None
        assert db.last_apply_id(with_changes=True) == 4
    assert revision(state_0001) == schema.HEAD_REVISION


def test_a_migrated_0001_database_stores_evaluations(state_0001: Path) -> None:
    with StateDB.open(f"sqlite:///{state_0001}", create=True) as db:
        spec_hash = db.snapshot().versions[("churn", "1.0.0")].spec_hash
        apply_id = db.begin_apply(kind="apply", actor="t", plan_hash="p", expected_serial=8)
        db.record(
            apply_id,
            [
                Change(
                    Target("evaluation", "churn", "1.0.0"),
                    None,
                    EvaluationResult(
                        spec_hash=spec_hash,
                        dataset_digest="sha256:d",
                        dataset="holdout",
                        evaluation_hash="h",
                        status="ok",
                        metrics={"f1": 0.9},
                        metric_status={},
                        details={"rows": 3},
                        message=None,
                        evaluator_version="test",
                        created_at="2026-11-29T00:00:00Z",
                    ),
                )
            ],
        )
        db.finish_apply(apply_id, "succeeded")
        stored = db.snapshot().evaluations[("churn", "1.0.0", "sha256:d", "h")]
        assert stored.metric("f1") == 0.9


def test_the_frozen_0002_file_is_at_revision_0002(state_0002: Path) -> None:
    assert revision(state_0002) == "0002"


def test_revision_0002_migrates_to_head_and_reads_as_it_was(state_0002: Path) -> None:
    with StateDB.open(f"sqlite:///{state_0002}", create=True) as db:
        recorded = db.snapshot()
        assert recorded.serial == 10
        assert {label: v.status for (_, label), v in recorded.versions.items()} == {
            "1.0.0": "trained",
            "1.1.0": "trained",
            "1.2.0": "failed",
        }
        assert {alias: a.version for (_, alias), a in recorded.aliases.items()} == {
            "production": "1.0.0",
            "staging": "1.1.0",
        }
        (pin,) = recorded.pins.values()
        assert (pin.alias, pin.version, pin.revert_apply_id) == ("production", "1.0.0", 4)
        # Two versions on two datasets each, all under one evaluation hash.
        assert len(recorded.evaluations) == 4
        assert {(e.label, e.status) for e in recorded.evaluations.values()} == {
            ("1.0.0", "ok"),
            ("1.1.0", "ok"),
        }
        assert recorded.policy is None
        assert [(a.id, a.kind, a.status) for a in db.applies()] == [
            (4, "revert", "succeeded"),
            (3, "apply", "succeeded"),
            (2, "apply", "failed"),
            (1, "apply", "succeeded"),
        ]
    assert revision(state_0002) == schema.HEAD_REVISION


def test_migration_gives_every_logged_change_the_actor_of_its_apply(state_0002: Path) -> None:
    with sqlite3.connect(state_0002) as conn:
        conn.execute("UPDATE applies SET actor = 'carol' WHERE id = 3")
    with StateDB.open(f"sqlite:///{state_0002}", create=True) as db:
        log = db.changes()
    assert len(log) == 16
    assert {(entry.apply_id, entry.actor) for entry in log} == {
        (1, "tester"),
        (2, "tester"),
        (3, "carol"),
        (4, "tester"),
    }


def test_a_migrated_0002_database_records_a_policy_and_each_change_s_actor(
    state_0002: Path,
) -> None:
    policy = {"admins": ["admin"], "protected_aliases": {}, "owners": {"churn": ["dana"]}}
    with StateDB.open(f"sqlite:///{state_0002}", create=True) as db:
        apply_id = db.begin_apply(kind="apply", actor="admin", plan_hash="p", expected_serial=10)
        db.record(apply_id, [Change(POLICY_TARGET, None, PolicyRecord.from_json(policy))])
        db.finish_apply(apply_id, "succeeded")
        recorded = db.snapshot().policy
        (logged,) = db.changes(apply_ids=[apply_id])
    assert recorded is not None and (recorded.value, recorded.apply_id) == (policy, apply_id)
    assert (logged.actor, value_json(logged.change.after)) == ("admin", policy)


@pytest.mark.parametrize("frozen", ["state-0001.db", "state-0002.db"])
def test_a_migrated_frozen_database_has_the_schema_the_tables_declare(
    frozen: str, tmp_path: Path
) -> None:
    """The migrations rebuild ``changes`` on SQLite (to make ``actor`` required): its keys,
    unique constraint and index must come through as ``tables.py`` declares them."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from mvctl.state.tables import metadata

    copy = tmp_path / "state.db"
    shutil.copy(FROZEN / frozen, copy)
    StateDB.open(f"sqlite:///{copy}", create=True).close()
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    with sqlite3.connect(copy) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list('changes')")}
    assert "ix_changes_target" in indexes


@pytest.mark.parametrize("frozen", ["state-0001.db", "state-0002.db"])
def test_every_logged_value_of_a_frozen_database_reads_typed_and_writes_back_the_same_json(
    frozen: str, tmp_path: Path
) -> None:
    copy = tmp_path / "state.db"
    shutil.copy(FROZEN / frozen, copy)
    with sqlite3.connect(copy) as conn:
        stored = conn.execute("SELECT before_json, after_json FROM changes ORDER BY id").fetchall()
    with StateDB.open(f"sqlite:///{copy}", create=True) as db:
        log = db.changes()
    assert len(log) == len(stored)
    kinds = {entry.change.target.kind for entry in log}
    assert {"model", "version", "alias", "pin"} <= kinds
    for entry, (before, after) in zip(log, stored, strict=True):
        for value, text in ((entry.change.before, before), (entry.change.after, after)):
            assert (None if value is None else canonical_json(value_json(value))) == text


@pytest.mark.parametrize("frozen", ["state-0001.db", "state-0002.db"])
def test_a_frozen_database_reverts_the_revert_it_recorded(frozen: str, tmp_path: Path) -> None:
    """Apply 4 of each frozen database moved production back to 1.0.0 and pinned it: undoing
    it from the old log rows puts production on 1.1.0 again and releases the pin."""
    copy = tmp_path / "state.db"
    shutil.copy(FROZEN / frozen, copy)
    with StateDB.open(f"sqlite:///{copy}", create=True) as db:
        recorded = db.snapshot()
        outline = outline_undo(db.changes(), recorded, 4, {("churn", "production"): "1.0.0"})
        changes = [
            Change(r.target, r.current, r.restored)
            for r in outline.restorations
            if isinstance(r, Restoration)
        ]
        assert len(changes) == len(outline.restorations) == 2
        apply_id = db.begin_apply(
            kind="revert",
            actor="tester",
            plan_hash="p",
            expected_serial=recorded.serial,
            reverts_apply_id=4,
        )
        db.record(apply_id, changes)
        db.finish_apply(apply_id, "succeeded")
        after = db.snapshot()
    assert after.aliases[("churn", "production")].version == "1.1.0"
    assert after.pins == {}
