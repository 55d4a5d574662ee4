"""What `state check` reads and the closing of interrupted applies, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from state_helpers import (
    alias_change,
    apply,
    execute,
    model_change,
    step_run,
    version_change,
    version_value,
)

from mvctl.core.recorded import Change, Target
from mvctl.core.records import PinRecord
from mvctl.core.replay import compare, replay
from mvctl.errors import StateError
from mvctl.state.db import StateDB


def test_inventory_rows_are_the_replayed_log(db: StateDB) -> None:
    first = apply(
        db,
        [
            model_change("churn"),
            version_change("churn", "1.0.0", version_value()),
            alias_change("churn", "production", "1.0.0"),
        ],
    )
    apply(
        db,
        [
            Change(Target("pin", "churn", "production"), None, PinRecord("1.0.0", first)),
            version_change(
                "churn", "1.0.0", version_value(status="archived"), before=version_value()
            ),
        ],
        kind="revert",
    )
    db.record_step_run(step_run("key-1"))
    found = db.inventory()
    assert found is not None
    assert compare(replay(found.changes), found.rows) == []
    assert set(found.rows) == {
        Target("model", "churn"),
        Target("version", "churn", "1.0.0"),
        Target("alias", "churn", "production"),
        Target("pin", "churn", "production"),
    }
    assert [a.kind for a in found.applies] == ["apply", "revert"]  # oldest first
    assert [(r.cache_key, dict(r.outputs)) for r in found.step_runs] == [
        ("key-1", {"model.skops": "sha256:" + "c" * 64})
    ]
    assert found.serial == 2 and found.lock is None


def test_a_row_written_outside_mvctl_shows_in_the_comparison(db: StateDB, state_url: str) -> None:
    apply(db, [model_change("churn"), alias_change("churn", "production", "1.0.0")])
    execute(state_url, "UPDATE aliases SET version = '6.6.6'")
    found = db.inventory()
    assert found is not None
    (mismatch,) = compare(replay(found.changes), found.rows)
    assert mismatch.target == Target("alias", "churn", "production")
    assert mismatch.stored == {"version": "6.6.6"}


def test_a_log_value_mvctl_never_wrote_is_compared_by_the_check_and_refused_by_revert(
    db: StateDB, state_url: str
) -> None:
    """`state check` replays the log as stored, so a hand edit shows as a difference; history
    and revert read typed values, and refuse the row naming it rather than misread it."""
    apply(db, [model_change("churn"), alias_change("churn", "production", "1.0.0")])
    execute(state_url, """UPDATE changes SET after_json = '{"version": 5}' WHERE seq = 2""")
    found = db.inventory()
    assert found is not None
    (mismatch,) = compare(replay(found.changes), found.rows)
    assert (mismatch.logged, mismatch.stored) == ({"version": 5}, {"version": "1.0.0"})
    with pytest.raises(StateError, match=r"change 2 of apply #1 .*'version' must be text"):
        db.changes()


def test_interrupted_applies_are_closed_with_the_serial_they_left(db: StateDB) -> None:
    assert db.close_interrupted_applies() == []
    killed = db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=None)
    db.record(killed, [model_change("churn")])
    assert db.close_interrupted_applies() == [killed]
    record = db.apply_record(killed)
    assert record is not None
    assert (record.status, record.serial_after) == ("failed", 1)
    assert record.message is not None and "interrupted" in record.message
    assert db.close_interrupted_applies() == []
