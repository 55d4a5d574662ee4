"""Bringing a state database's schema to head with alembic, the one use of SQLAlchemy.

Imported by ``StateDB`` only when the schema it opened is behind, so the other commands never
load SQLAlchemy, sqlmodel or alembic. Run as ``python -m mvctl.state.migrating`` it writes
``sqlite_head.json``: what the migrations leave in an empty SQLite database.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from mvctl.state import schema
from mvctl.state.connection import Link
from mvctl.state.engine import DriverQueries, create_state_engine, translated_errors
from mvctl.state.sqlite_head import HEAD_FILE
from mvctl.state.url import parse_state_url


def migrate_to_head(link: Link) -> None:
    """Run the migrations still missing, all in one transaction holding the migration lock."""
    engine = create_state_engine(link)
    try:
        with (
            link.guard,
            translated_errors(link.backend, link.target.display, "migrating the schema"),
            engine.begin() as conn,
        ):
            queries = DriverQueries(conn, link.backend)
            schema.lock_for_migration(queries)
            # Checked again under the lock: another process may have migrated meanwhile.
            found = schema.current_revision(queries)
            schema.check_known(found, link.target.display)
            if found != schema.HEAD_REVISION:
                schema.upgrade_to_head(conn)
    finally:
        # On SQLite the engine runs on the link's own connection, which stays open for the
        # writes to come (an in-memory database is one database); disposing would close it.
        if link.backend.name != "sqlite":
            engine.dispose()


def sqlite_head() -> dict[str, Any]:
    """The statements that rebuild an empty SQLite database migrated to head, with the
    revision: the content of ``sqlite_head.json``."""
    with tempfile.TemporaryDirectory(prefix="mvctl-head-") as folder:
        path = Path(folder) / "state.db"
        link = Link(parse_state_url(f"sqlite:///{path}"), wal=False)
        try:
            migrate_to_head(link)
        finally:
            link.close()
        conn = sqlite3.connect(path)
        try:
            dump = [
                line for line in conn.iterdump() if line not in ("BEGIN TRANSACTION;", "COMMIT;")
            ]
        finally:
            conn.close()
    return {"revision": schema.HEAD_REVISION, "statements": dump}


if __name__ == "__main__":
    HEAD_FILE.write_text(json.dumps(sqlite_head(), indent=1) + "\n", "utf-8")
    print(f"wrote {HEAD_FILE}")
