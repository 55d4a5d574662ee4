"""Opening, creating and migrating the state; URLs and the errors they give; what a no-op
command imports. Every `state_url` test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from state_helpers import STATE_TABLES, apply, execute, model_change, table_names

from mvctl.core.recorded import RecordedState
from mvctl.errors import StateError
from mvctl.state import schema
from mvctl.state.connection import Link
from mvctl.state.db import StateDB
from mvctl.state.url import parse_state_url


def test_read_only_open_creates_nothing_and_reads_empty(state_url: str, tmp_path: Path) -> None:
    with StateDB.open(state_url, create=False) as db:
        assert db.snapshot() == RecordedState()
        assert db.serial() == 0
        assert db.applies() == []
        assert db.changes() == []
        assert db.versions_of("churn") == []
        assert db.version_detail("churn", "1.0.0") is None
        assert db.lock_holder() is None
        assert db.last_apply_id() is None
        assert db.step_run("key") is None
        with pytest.raises(StateError, match="has not been created yet"):
            db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=None)
    if state_url.startswith("sqlite"):
        assert not (tmp_path / "state").exists()
    else:
        assert table_names(state_url) == set()


def test_create_open_builds_the_schema_at_head(state_url: str, tmp_path: Path) -> None:
    with StateDB.open(state_url, create=True) as db:
        assert db.serial() == 0
        assert db.snapshot() == RecordedState()
    if state_url.startswith("sqlite"):
        assert (tmp_path / "state" / "state.db").is_file()
    assert table_names(state_url) == STATE_TABLES | {"alembic_version"}
    with StateDB.open(state_url, create=False) as db:
        assert db.migrate() == (schema.HEAD_REVISION, schema.HEAD_REVISION)


def test_migrate_from_empty_then_again_is_a_no_op(state_url: str) -> None:
    with StateDB.open(state_url, create=True) as db:
        assert db.migrate() == (None, schema.HEAD_REVISION)
        apply(db, [model_change("churn")])
    with StateDB.open(state_url, create=True) as db:
        assert db.migrate() == (schema.HEAD_REVISION, schema.HEAD_REVISION)
        assert db.migrate() == (schema.HEAD_REVISION, schema.HEAD_REVISION)
        assert db.snapshot().models == {"churn"}
        assert db.serial() == 1


def test_a_failed_migration_leaves_the_database_untouched(
    state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_upgrade = schema.upgrade_to_head

    def upgrade_then_fail(conn: Any) -> None:
        real_upgrade(conn)
        raise RuntimeError("migration failed half-way")

    monkeypatch.setattr(schema, "upgrade_to_head", upgrade_then_fail)
    # A new SQLite database is built from the saved head; this one must go through migrations.
    monkeypatch.setattr("mvctl.state.db.create_at_head", lambda link: False)
    with pytest.raises(RuntimeError, match="half-way"):
        StateDB.open(state_url, create=True)
    assert table_names(state_url) == set()
    monkeypatch.setattr(schema, "upgrade_to_head", real_upgrade)
    with StateDB.open(state_url, create=True) as db:
        assert db.serial() == 0


def test_migrated_schema_matches_the_table_classes(db: StateDB, state_url: str) -> None:
    """Migrations and tables.py describe one schema; a drift between them fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mvctl.state.tables import metadata

    engine = create_engine(state_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_revision_list_names_every_migration_script() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(schema.alembic_config())
    walked = [script.revision for script in scripts.walk_revisions()]
    assert tuple(reversed(walked)) == schema.REVISIONS
    assert scripts.get_current_head() == schema.HEAD_REVISION


def test_database_from_a_newer_mvctl_is_refused(state_url: str) -> None:
    StateDB.open(state_url, create=True).close()
    execute(state_url, "UPDATE alembic_version SET version_num = '9999'")
    for create in (False, True):
        with pytest.raises(StateError, match="Upgrade mvctl") as caught:
            StateDB.open(state_url, create=create)
        assert "'9999'" in str(caught.value)


def test_older_schema_asks_for_migrate_when_opened_read_only(
    state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateDB.open(state_url, create=True).close()
    monkeypatch.setattr(schema, "REVISIONS", (*schema.REVISIONS, "9000"))
    monkeypatch.setattr(schema, "HEAD_REVISION", "9000")
    with pytest.raises(StateError, match="mvctl state migrate") as caught:
        StateDB.open(state_url, create=False)
    assert f"'{schema.REVISIONS[-2]}'" in str(caught.value)


NO_OP_PROBE = """
import sys
from mvctl.state.db import StateDB

for create in (False, True):
    with StateDB.open(URL, create=create) as db:
        state = db.snapshot()
        assert state.models == {"churn"}, state
        assert db.serial() == 1
        assert db.lock_holder() is None
        db.step_run("key")
        db.version_value("churn", "1.0.0")
        db.pin_value("churn", "production")
        db.version_detail("churn", "1.0.0")
        db.versions_of("churn")
        assert len(db.applies(model="churn", since="2020-01-01", limit=5)) == 1
        db.apply_record(1)
        db.last_apply_id(kind="apply", status="succeeded", with_changes=True)
        assert len(db.changes(apply_ids=[1], after_apply_id=0)) == 1
        assert db.inventory() is not None
        lock_id = db.acquire_lock("apply", "alice")
        db.snapshot()
        assert db.close_interrupted_applies() == []
        db.release_lock(lock_id)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "alembic")))
"""


def test_reads_and_the_lock_import_no_sqlalchemy(state_url: str) -> None:
    """A plan (read-only open) and a no-op apply (open at head, lock, snapshot, release)
    must not pay for importing SQLAlchemy, sqlmodel or alembic: that alone is over the
    DESIGN.md bars for a no-op plan and apply."""
    with StateDB.open(state_url, create=True) as db:
        apply(db, [model_change("churn")])
    done = subprocess.run(
        [sys.executable, "-c", NO_OP_PROBE.replace("URL", repr(state_url))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:mem?mode=memory&uri=true"]
)
def test_an_in_memory_state_is_refused_for_writing(url: str) -> None:
    with pytest.raises(StateError, match="in-memory SQLite database") as caught:
        StateDB.open(url, create=True)
    assert "sqlite:///.mvctl/state.db" in str(caught.value)
    with StateDB.open(url, create=False) as db:
        assert db.snapshot() == RecordedState()


def test_first_write_after_plain_reads_shares_sqlite_memory() -> None:
    """SQLAlchemy's engine migrates on the connection the plain reads and writes use, so even
    an in-memory SQLite database is one database (built by hand: `open` refuses to write one)."""
    with StateDB(Link(parse_state_url("sqlite://"), wal=False)) as db:
        db.migrate()
        lock_id = db.acquire_lock("apply", "alice")
        apply(db, [model_change("churn")])
        assert db.snapshot().models == {"churn"}
        db.release_lock(lock_id)
        assert db.lock_holder() is None
    with StateDB.open("sqlite://", create=False) as db:
        assert db.snapshot() == RecordedState()


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_replaced(postgres_database_url: str) -> None:
    """What SQLAlchemy's pool_pre_ping did for reads: a long apply may find its idle
    connection closed by the server; the next transaction reconnects instead of failing."""
    import psycopg

    with StateDB.open(postgres_database_url, create=True) as db:
        apply(db, [model_change("churn")])
        assert db.serial() == 1
        conninfo = postgres_database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert db.snapshot().models == {"churn"}
        lock_id = db.acquire_lock("apply", "alice")
        db.release_lock(lock_id)
        apply(db, [model_change("fraud")])
        assert db.serial() == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("password_in", ["userinfo", "query"])
def test_unreachable_server_names_the_url_without_its_password(password_in: str) -> None:
    port = _closed_port()
    if password_in == "userinfo":
        url = f"postgresql+psycopg://mvctl:s3cret@127.0.0.1:{port}/state"
    else:
        url = f"postgresql://mvctl@127.0.0.1:{port}/state?password=s3cret"
    for create in (False, True):
        with pytest.raises(StateError) as caught:
            StateDB.open(url, create=create)
        message = str(caught.value)
        assert "s3cret" not in message
        assert f"mvctl:***@127.0.0.1:{port}" in message or "password=%2A%2A%2A" in message
        assert "cannot connect" in message
        assert "server is running" in message


@pytest.mark.parametrize(
    "url", ["mysql://root:s3cret@localhost/state", "not a url", "postgresql+asyncpg://h/db"]
)
def test_unsupported_or_malformed_urls_are_state_errors(url: str) -> None:
    with pytest.raises(StateError, match="sqlite:///") as caught:
        StateDB.open(url, create=False)
    assert "s3cret" not in str(caught.value)


def test_read_only_sqlite_file_gives_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateDB.open(f"sqlite:///{path}", create=True) as db:
        apply(db, [model_change("churn")])
    if os.geteuid() != 0:
        # Only the file: its folder stays writable, as SQLite's WAL readers need it to be.
        path.chmod(0o444)
        url = f"sqlite:///{path}"
    else:
        # Root writes through file permissions; SQLite's read-only open mode raises the same
        # "attempt to write a readonly database" that a read-only file does.
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    try:
        with StateDB.open(url, create=False) as db:
            assert db.snapshot().models == {"churn"}
            with pytest.raises(StateError, match="read-only") as caught:
                db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=1)
            assert "writable" in str(caught.value)
            with pytest.raises(StateError, match="read-only"):
                db.acquire_lock("apply", "alice")
            assert db.serial() == 1
            assert db.lock_holder() is None
    finally:
        path.chmod(0o644)
