"""A new SQLite state database created at the head revision in one transaction, no alembic.

Running the migrations on an empty database imports SQLAlchemy and alembic and replays every
revision: 0.6 s of CPU, before a project's first apply trains anything. ``sqlite_head.json``
beside this module holds the statements that rebuild exactly what those migrations leave in an
empty SQLite database (its tables, indexes and rows, as sqlite3's ``iterdump`` writes them),
with the revision they reach. A database that holds nothing at all is built from them; any
other goes through the migrations as before, and so does every PostgreSQL database.

After adding a migration, write the file anew: ``python -m mvctl.state.migrating``. A test
rebuilds it from the migrations and compares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mvctl.state import schema
from mvctl.state.connection import Link

HEAD_FILE = Path(__file__).with_name("sqlite_head.json")


def saved_head() -> dict[str, Any]:
    """{"revision": ..., "statements": [...]} as the file holds them."""
    saved: dict[str, Any] = json.loads(HEAD_FILE.read_text("utf-8"))
    return saved


def create_at_head(link: Link) -> bool:
    """Build the head schema in ``link``'s SQLite database if it holds nothing at all; False
    (nothing done) when it holds anything, as when another process created it meanwhile, or
    when the file is behind the migrations."""
    saved = saved_head()
    if saved["revision"] != schema.HEAD_REVISION:
        return False
    with link.transaction("creating the state database", write=True) as tx:
        if tx.rows("SELECT 1 FROM sqlite_master LIMIT 1"):
            return False
        for statement in saved["statements"]:
            tx.execute(statement)
    return True
