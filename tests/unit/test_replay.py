"""The change log replayed against the tables (`state check`): equal, changed, missing."""

from __future__ import annotations

from mvctl.core.recorded import LogRow, Target
from mvctl.core.replay import compare, replay

ALIAS = Target("alias", "churn", "production")
MODEL = Target("model", "churn")
EVALUATION = Target("evaluation", "churn", "1.0.0")


def logged(*changes: tuple[Target, object, object]) -> list[LogRow]:
    return [
        LogRow(1, n, t.kind, t.model, t.name, b, a) for n, (t, b, a) in enumerate(changes, start=1)
    ]


LOG = logged(
    (MODEL, None, {"archived": False, "created_at": "t"}),
    (ALIAS, None, {"version": "1.0.0"}),
    (ALIAS, {"version": "1.0.0"}, {"version": "1.1.0"}),
    (EVALUATION, None, {"metrics": {"f1": 0.9}}),
)


def test_the_last_value_of_each_state_target_wins_and_results_are_left_out() -> None:
    assert replay(LOG) == {
        MODEL: {"archived": False, "created_at": "t"},
        ALIAS: {"version": "1.1.0"},
    }


def test_tables_that_match_the_log_compare_clean() -> None:
    stored = {MODEL: {"archived": False, "created_at": "t"}, ALIAS: {"version": "1.1.0"}}
    assert compare(replay(LOG), stored) == []


def test_a_row_changed_outside_mvctl_is_named_field_by_field() -> None:
    stored = {MODEL: {"archived": False, "created_at": "t"}, ALIAS: {"version": "9.9.9"}}
    (mismatch,) = compare(replay(LOG), stored)
    assert mismatch.target == ALIAS
    assert [(c.path, c.before, c.after) for c in mismatch.changes] == [
        ("version", "1.1.0", "9.9.9")
    ]


def test_missing_and_unlogged_rows_are_both_reported() -> None:
    extra = Target("pin", "churn", "staging")
    stored = {
        MODEL: {"archived": False, "created_at": "t"},
        extra: {"version": "1", "revert_apply_id": 2},
    }
    found = {(m.target, m.logged is None, m.stored is None) for m in compare(replay(LOG), stored)}
    assert found == {(ALIAS, False, True), (extra, True, False)}


def test_a_removed_target_matches_an_absent_row() -> None:
    log = logged((ALIAS, None, {"version": "1.0.0"}), (ALIAS, {"version": "1.0.0"}, None))
    assert compare(replay(log), {}) == []


def test_columns_newer_than_a_log_row_are_not_held_against_it() -> None:
    version = Target("version", "churn", "1.0.0")
    log = logged((version, None, {"status": "trained"}))
    assert compare(replay(log), {version: {"status": "trained", "added_later": 1}}) == []
