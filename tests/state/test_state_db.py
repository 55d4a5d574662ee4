"""What StateDB records and reads back, on SQLite and on PostgreSQL (`state_url`): the
snapshot, the serial, the change log, history, and a snapshot of a large state."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from bench_snapshot import populate
from sqlalchemy import create_engine, text
from state_helpers import (
    alias_change,
    apply,
    execute,
    model_change,
    step_run,
    version_change,
    version_value,
)

from mvctl.core.recorded import (
    Change,
    RecordedAlias,
    RecordedPin,
    RecordedVersion,
    Target,
)
from mvctl.core.records import ModelRecord, PinRecord
from mvctl.errors import StaleStateError
from mvctl.state.db import StateDB

# -- snapshot and serial ---------------------------------------------------------------------


def test_snapshot_holds_what_was_recorded(db: StateDB) -> None:
    first = apply(
        db,
        [
            model_change("churn"),
            model_change("fraud"),
            version_change("churn", "1.0.0", version_value()),
            version_change(
                "churn",
                "1.1.0",
                version_value(
                    status="failed",
                    spec_hash="spec-2",
                    artifact_digest=None,
                    failure={"step": "train", "exit_code": 1},
                ),
            ),
            alias_change("churn", "production", "1.0.0"),
            alias_change("churn", "staging", "1.1.0"),
        ],
    )
    revert = db.begin_apply(
        kind="revert", actor="bob", plan_hash="r", expected_serial=None, reverts_apply_id=first
    )
    db.record(
        revert,
        [
            alias_change("churn", "staging", None, before="1.1.0"),
            Change(Target("pin", "churn", "production"), None, PinRecord("1.0.0", revert)),
            model_change("fraud", ModelRecord(archived=True, created_at="2026-11-29T08:30:00Z")),
        ],
    )
    db.record_step_run(step_run("key-1"))

    state = db.snapshot()
    assert state.serial == 2
    assert state.models == {"churn", "fraud"}
    assert state.versions == {
        ("churn", "1.0.0"): RecordedVersion(
            "churn",
            "1.0.0",
            "trained",
            "spec-1",
            "meta-1",
            "sha256:" + "a" * 64,
            '{"steps":[{"name":"train","params":{"n_estimators":100}}]}',
            1,
            "alice",
            "2026-11-29T08:30:00Z",
        ),
        ("churn", "1.1.0"): RecordedVersion(
            "churn",
            "1.1.0",
            "failed",
            "spec-2",
            "meta-1",
            None,
            '{"steps":[{"name":"train","params":{"n_estimators":100}}]}',
            1,
            "alice",
            "2026-11-29T08:30:00Z",
        ),
    }
    assert state.aliases == {
        ("churn", "production"): RecordedAlias("churn", "production", "1.0.0", first)
    }
    assert state.pins == {
        ("churn", "production"): RecordedPin("churn", "production", "1.0.0", revert)
    }
    assert state.step_keys == {"key-1"}
    assert state.logged_aliases == {("churn", "production"): "1.0.0", ("churn", "staging"): None}


def test_serial_moves_once_per_record_with_changes(db: StateDB) -> None:
    apply_id = db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=0)
    assert db.serial() == 0
    assert db.record(apply_id, [model_change("a"), model_change("b"), model_change("c")]) == 1
    assert db.serial() == 1
    assert db.record(apply_id, []) == 1
    assert db.serial() == 1
    assert db.record(apply_id, [model_change("d")]) == 2
    db.finish_apply(apply_id, "succeeded")
    assert db.serial() == 2
    record = db.apply_record(apply_id)
    assert record is not None
    assert (record.serial_before, record.serial_after, record.change_count) == (0, 2, 4)


def test_begin_apply_refuses_a_stale_plan(db: StateDB) -> None:
    apply(db, [model_change("churn")])
    before = db.applies()
    with pytest.raises(StaleStateError) as caught:
        db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=0)
    assert caught.value.what == "the state moved from serial 0 to 1 since this plan was made"
    assert "mvctl plan" in str(caught.value.fix)
    assert db.applies() == before
    assert db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=1) > 0


def test_concurrent_writers_queue_instead_of_failing(state_url: str) -> None:
    """BEGIN IMMEDIATE (SQLite) and the serial row lock (PostgreSQL) serialise writers:
    none fails with 'database is locked' and no serial bump is lost."""
    StateDB.open(state_url, create=True).close()
    errors: list[BaseException] = []
    rounds = 15

    def writer(name: str) -> None:
        try:
            with StateDB.open(state_url, create=True) as own:
                apply_id = own.begin_apply(
                    kind="apply", actor=name, plan_hash="p", expected_serial=None
                )
                for i in range(rounds):
                    own.record(apply_id, [alias_change(name, "production", f"{i}.0.0")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"model-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with StateDB.open(state_url, create=False) as db:
        assert db.serial() == 3 * rounds
        assert len(db.changes()) == 3 * rounds


# -- change log ------------------------------------------------------------------------------


def test_change_log_keeps_order_and_values(db: StateDB) -> None:
    first = db.begin_apply(kind="apply", actor="alice", plan_hash="p1", expected_serial=0)
    v1 = version_value(apply_id=first)
    db.record(first, [model_change("churn"), version_change("churn", "1.0.0", v1)])
    db.record(first, [alias_change("churn", "production", "1.0.0")])
    db.finish_apply(first, "succeeded")
    v1_archived = replace(v1, status="archived")
    second = apply(
        db,
        [
            version_change("churn", "1.0.0", v1_archived, before=v1),
            alias_change("churn", "production", None, before="1.0.0"),
        ],
    )

    logged = db.changes()
    assert [(row.apply_id, row.seq) for row in logged] == [
        (first, 1),
        (first, 2),
        (first, 3),
        (second, 1),
        (second, 2),
    ]
    assert [row.change for row in logged] == [
        model_change("churn"),
        version_change("churn", "1.0.0", v1),
        alias_change("churn", "production", "1.0.0"),
        version_change("churn", "1.0.0", v1_archived, before=v1),
        alias_change("churn", "production", None, before="1.0.0"),
    ]
    assert [row.seq for row in db.changes(apply_ids=[second])] == [1, 2]
    assert [row.apply_id for row in db.changes(after_apply_id=first)] == [second, second]
    assert db.changes(apply_ids=[]) == []
    detail = db.version_detail("churn", "1.0.0")
    assert detail is not None and detail.record() == v1_archived


def test_version_rows_round_trip_and_can_be_removed(db: StateDB) -> None:
    failed = version_value(
        status="failed", failure={"step": "train", "log": "sha256:ff"}, description=None, tags={}
    )
    apply(
        db,
        [
            version_change("churn", "2.0.0", failed),
            version_change("churn", "1.0.0", version_value()),
        ],
    )
    assert [d.label for d in db.versions_of("churn")] == ["2.0.0", "1.0.0"]
    detail = db.version_detail("churn", "2.0.0")
    assert detail is not None
    assert detail.record() == failed
    assert detail.failure == {"step": "train", "log": "sha256:ff"}
    apply(db, [version_change("churn", "2.0.0", None, before=failed)])
    assert db.version_detail("churn", "2.0.0") is None
    assert set(db.snapshot().versions) == {("churn", "1.0.0")}


def test_version_and_pin_values_are_change_shaped(db: StateDB) -> None:
    value = version_value()
    apply(
        db,
        [
            version_change("churn", "1.0.0", value),
            Change(Target("pin", "churn", "production"), None, PinRecord("1.0.0", 7)),
        ],
    )
    assert db.version_value("churn", "1.0.0") == value
    assert db.version_value("churn", "9.9.9") is None
    assert db.pin_value("churn", "production") == PinRecord("1.0.0", 7)
    assert db.pin_value("churn", "staging") is None
    apply(
        db,
        [Change(Target("pin", "churn", "production"), db.pin_value("churn", "production"), None)],
    )
    assert db.pin_value("churn", "production") is None
    assert db.snapshot().pins == {}


def test_logged_aliases_follow_the_latest_log_row(db: StateDB) -> None:
    apply(
        db,
        [alias_change("churn", "production", "1.0.0"), alias_change("churn", "staging", "1.1.0")],
    )
    apply(db, [alias_change("churn", "production", "1.1.0", before="1.0.0")])
    apply(
        db,
        [
            alias_change("churn", "staging", None, before="1.1.0"),
            alias_change("fraud", "production", "3.0.0"),
        ],
    )
    assert db.snapshot().logged_aliases == {
        ("churn", "production"): "1.1.0",
        ("churn", "staging"): None,
        ("fraud", "production"): "3.0.0",
    }


def test_step_runs_are_kept_once_and_the_latest_inputs_win(db: StateDB) -> None:
    db.record_step_run(step_run("k1", inputs='{"data":"v1"}'))
    db.record_step_run(step_run("k2", inputs='{"data":"v2"}'))
    db.record_step_run(step_run("k3", step="prepare", inputs='{"raw":"v1"}'))
    db.record_step_run(step_run("k1", inputs='{"data":"ignored"}'))
    assert db.step_run("k1") == step_run("k1", inputs='{"data":"v1"}')
    assert db.step_run("missing") is None
    state = db.snapshot()
    assert state.step_keys == {"k1", "k2", "k3"}
    assert state.last_step_inputs == {
        ("churn", "train"): '{"data":"v2"}',
        ("churn", "prepare"): '{"raw":"v1"}',
    }
    assert state.serial == 0


def test_a_rerun_with_other_outputs_replaces_the_step_run(db: StateDB) -> None:
    first = step_run("k1", inputs='{"data":"v1"}')
    db.record_step_run(first)
    same_outputs = replace(first, log_digest="sha256:" + "d" * 64, duration_s=9.0)
    db.record_step_run(same_outputs)
    assert db.step_run("k1") == first
    rerun = replace(first, outputs={"model.skops": "sha256:" + "e" * 64}, duration_s=4.0)
    db.record_step_run(rerun)
    assert db.step_run("k1") == rerun
    assert db.step_outputs({"k1", "missing"}) == {"k1": {"model.skops": "sha256:" + "e" * 64}}
    assert db.snapshot().step_keys == {"k1"}


def test_step_outputs_are_read_in_chunks(db: StateDB) -> None:
    keys = [f"key-{n:04d}" for n in range(1_200)]
    for key in keys[:700]:
        db.record_step_run(step_run(key))
    found = db.step_outputs(keys)
    assert sorted(found) == keys[:700]
    assert found["key-0001"] == {"model.skops": "sha256:" + "c" * 64}


def test_failed_record_leaves_nothing_behind(db: StateDB) -> None:
    apply(db, [model_change("churn"), alias_change("churn", "production", "1.0.0")])
    before_state, before_log = db.snapshot(), db.changes()
    apply_id = db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=1)
    broken = version_value(status="bogus")
    with pytest.raises(ValueError, match="status 'bogus' is unknown"):
        db.record(
            apply_id,
            [
                alias_change("churn", "production", "2.0.0", before="1.0.0"),
                version_change("churn", "1.1.0", version_value()),
                version_change("churn", "2.0.0", broken),
                model_change("fraud"),
            ],
        )
    assert db.snapshot() == before_state
    assert db.changes() == before_log
    assert db.serial() == 1
    # The apply goes on: the next record continues the log at seq 1.
    db.record(apply_id, [alias_change("churn", "production", "2.0.0", before="1.0.0")])
    assert [(c.apply_id, c.seq) for c in db.changes(apply_ids=[apply_id])] == [(apply_id, 1)]


# -- history -----------------------------------------------------------------------------------


def test_apply_history_queries(db: StateDB, state_url: str) -> None:
    first = apply(db, [model_change("churn"), alias_change("churn", "production", "1.0.0")])
    second = apply(db, [model_change("fraud")])
    failed = db.begin_apply(kind="apply", actor="bob", plan_hash="p3", expected_serial=None)
    db.finish_apply(failed, "failed", "train step exited 1")
    revert = apply(db, [alias_change("churn", "production", None, before="1.0.0")], kind="revert")
    execute(state_url, f"UPDATE applies SET started_at = '2026-01-01T00:00:00Z' WHERE id = {first}")

    assert [a.id for a in db.applies()] == [revert, failed, second, first]
    assert [a.id for a in db.applies(model="churn")] == [revert, first]
    assert [a.id for a in db.applies(limit=2)] == [revert, failed]
    assert [a.id for a in db.applies(since="2026-06-01")] == [revert, failed, second]
    assert [a.id for a in db.applies(since="2026-01-01T00:00:00Z")] == [
        revert,
        failed,
        second,
        first,
    ]
    record = db.apply_record(failed)
    assert record is not None
    assert (record.kind, record.actor, record.status, record.message, record.change_count) == (
        "apply",
        "bob",
        "failed",
        "train step exited 1",
        0,
    )
    assert record.finished_at is not None and record.finished_at.endswith("Z")
    assert db.apply_record(999) is None
    assert db.last_apply_id() == revert
    assert db.last_apply_id(kind="apply") == failed
    assert db.last_apply_id(kind="apply", status="succeeded") == second
    assert db.last_apply_id(status="partial") is None
    assert db.last_apply_id(kind="apply", with_changes=True) == second


def test_archiving_a_model_keeps_the_apply_that_created_it(db: StateDB, state_url: str) -> None:
    created = apply(db, [model_change("churn")])
    apply(
        db, [model_change("churn", ModelRecord(archived=True, created_at="2026-11-29T08:30:00Z"))]
    )
    engine = create_engine(state_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT apply_id, archived FROM models")).one()
    finally:
        engine.dispose()
    assert (row.apply_id, bool(row.archived)) == (created, True)


# -- size --------------------------------------------------------------------------------------


def test_snapshot_of_ten_thousand_versions(state_url: str) -> None:
    populate(state_url)
    with StateDB.open(state_url, create=False) as db:
        state = db.snapshot()
    assert len(state.models) == 1_000
    assert len(state.versions) == 10_000
    assert len(state.aliases) == 2_000
    assert len(state.step_keys) == 10_000
    assert len(state.last_step_inputs) == 10_000
    assert len(state.logged_aliases) == 2_000
    assert state.versions[("model-0999", "1.9.0")].spec_hash == f"{999:032x}{9:032x}"
