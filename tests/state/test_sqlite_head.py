"""A new SQLite state database is built from the saved head schema in one transaction, without
alembic, and is the very database the migrations would have built."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mvctl.errors import StateError
from mvctl.state import sqlite_head
from mvctl.state.db import StateDB
from mvctl.state.migrating import sqlite_head as migrated_head
from mvctl.state.schema import HEAD_REVISION

REPO = Path(__file__).resolve().parents[2]


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if line not in ("BEGIN TRANSACTION;", "COMMIT;")]
    finally:
        conn.close()


def test_the_saved_head_is_what_the_migrations_build() -> None:
    assert sqlite_head.saved_head() == migrated_head(), (
        "sqlite_head.json is behind the migrations: run `python -m mvctl.state.migrating`"
    )


def test_a_new_database_is_built_at_head_as_the_migrations_build_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateDB.open(f"sqlite:///{path}", create=True) as db:
        assert db.migrate() == (None, HEAD_REVISION)
        assert db.serial() == 0
    assert dump(path) == migrated_head()["statements"]


def test_creating_a_new_database_imports_neither_sqlalchemy_nor_alembic(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from mvctl.state.db import StateDB\n"
        f"StateDB.open('sqlite:///{tmp_path / 'state.db'}', create=True).close()\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip() == "[]"


def test_a_failed_build_leaves_the_database_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = sqlite_head.saved_head()
    broken = {**saved, "statements": [*saved["statements"], "CREATE TABLE broken ("]}
    monkeypatch.setattr(sqlite_head, "saved_head", lambda: broken)
    path = tmp_path / "state.db"
    with pytest.raises(StateError, match="creating the state database"):
        StateDB.open(f"sqlite:///{path}", create=True)
    assert dump(path) == []
    monkeypatch.undo()
    with StateDB.open(f"sqlite:///{path}", create=True) as db:
        assert db.serial() == 0


def test_a_database_holding_anything_goes_through_the_migrations(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    with StateDB.open(f"sqlite:///{path}", create=True) as db:
        assert db.serial() == 0
    assert "CREATE TABLE notes (text TEXT);" in dump(path)


def test_processes_creating_one_database_at_once_all_open_it_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    opener = (
        "from mvctl.state.db import StateDB\n"
        f"with StateDB.open({url!r}, create=True) as db:\n"
        "    print(db.serial())\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", opener],
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [(code, out.strip()) for code, out, _ in outcomes] == [(0, "0")] * 4, outcomes
    assert dump(tmp_path / "state.db") == migrated_head()["statements"]
