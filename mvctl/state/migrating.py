"""Bringing a state database's schema to head with alembic, the one use of SQLAlchemy.

Imported by ``StateDB`` only when the schema it opened is behind, so the other commands never
load SQLAlchemy, sqlmodel or alembic.
"""

from __future__ import annotations

from mvctl.state import schema
from mvctl.state.connection import Link
from mvctl.state.engine import DriverQueries, create_state_engine, translated_errors


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
