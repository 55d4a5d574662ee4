"""Revision 0010: the change log indexed by (model, apply_id), so `history MODEL` reads one
model's applies through the index. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from mvctl.state import schema
from mvctl.state.db import StateDB
from mvctl.state.url import parse_state_url

CHANGE = (
    "INSERT INTO changes (apply_id, seq, target_kind, model, name, before_json, after_json, "
    "at, actor) VALUES (:apply, 1, 'model', :model, '', NULL, "
    '\'{"archived": false, "created_at": "2026-01-01T00:00:00Z"}\', '
    "'2026-01-01T00:00:00Z', 'alice')"
)
APPLY = (
    "INSERT INTO applies (id, kind, actor, started_at, finished_at, plan_hash, status, "
    "serial_before, serial_after) VALUES (:apply, 'apply', 'alice', '2026-01-01T00:00:00Z', "
    "'2026-01-01T00:00:01Z', :hash, 'succeeded', :before, :after)"
)


def _database_at_0009_with_a_history(url: str) -> None:
    """A database migrated to 0009 only, holding three applies that changed two models."""
    sqlite_path = parse_state_url(url).sqlite_path
    if sqlite_path is not None:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), "0009")
            for apply_id, model in ((1, "churn"), (2, "fraud"), (3, "churn")):
                conn.execute(
                    text(APPLY),
                    {
                        "apply": apply_id,
                        "hash": "0" * 64,
                        "before": apply_id - 1,
                        "after": apply_id,
                    },
                )
                conn.execute(text(CHANGE), {"apply": apply_id, "model": model})
            conn.execute(text("UPDATE meta SET value = '3' WHERE key = 'serial'"))
    finally:
        engine.dispose()


def _indexes(url: str) -> dict[str, list[str | None]]:
    engine = create_engine(url)
    try:
        return {
            str(index["name"]): list(index["column_names"])
            for index in inspect(engine).get_indexes("changes")
        }
    finally:
        engine.dispose()


def test_upgrading_from_0009_adds_the_index_and_keeps_the_history(state_url: str) -> None:
    _database_at_0009_with_a_history(state_url)
    assert "ix_changes_model_apply_id" not in _indexes(state_url)

    with StateDB.open(state_url, create=True) as db:
        assert db.migrate() == ("0009", "0010")
        churn = db.applies(model="churn", since=None, limit=None)
        logged = db.changes(apply_ids=[1, 2, 3])

    assert _indexes(state_url)["ix_changes_model_apply_id"] == ["model", "apply_id"]
    assert [a.id for a in churn] == [3, 1]
    assert [a.change_count for a in churn] == [1, 1]
    assert [(c.apply_id, c.change.target.model) for c in logged] == [
        (1, "churn"),
        (2, "fraud"),
        (3, "churn"),
    ]


def test_downgrading_0010_drops_only_its_index(state_url: str) -> None:
    StateDB.open(state_url, create=True).close()
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), "0009")
    finally:
        engine.dispose()
    indexes = _indexes(state_url)
    assert "ix_changes_model_apply_id" not in indexes
    assert indexes["ix_changes_target"] == ["target_kind", "model", "name"]
