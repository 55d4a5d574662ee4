"""Which schema revision a state database is at, and bringing it to the head revision.

Every command opens the state, so the check must be cheap: it reads the one row of
``alembic_version`` in plain SQL and compares it with ``REVISIONS`` below, without importing
alembic or SQLAlchemy. They are imported only when a migration actually has to run (a new
database, or one made by an older mvctl). A test checks that ``REVISIONS`` matches the
scripts in ``migrations/versions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mvctl.errors import StateError
from mvctl.state.connection import Queries

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0006", "0008", "0009", "0010")
"""Every migration's revision id, oldest first; extend it with each new migration."""

HEAD_REVISION = REVISIONS[-1]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

VERSION_TABLE = "alembic_version"

MIGRATION_LOCK_KEY = 0x6D76_6374_6C00
"""PostgreSQL advisory lock key, so two processes creating one database take turns."""

HAS_TABLE = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    # What SQLAlchemy's has_table asked: a table of that name on the search path.
    "postgresql": (
        "SELECT 1 FROM pg_catalog.pg_class WHERE relname = ? AND relkind IN ('r', 'p') "
        "AND pg_catalog.pg_table_is_visible(oid)"
    ),
}


def current_revision(queries: Queries) -> str | None:
    """The revision the database is at; None when it holds no mvctl schema yet."""
    if not queries.rows(HAS_TABLE[queries.backend.name], (VERSION_TABLE,)):
        return None
    rows = [revision for (revision,) in queries.rows(f"SELECT version_num FROM {VERSION_TABLE}")]
    if len(rows) > 1:
        raise StateError(
            f"the state database records several schema revisions ({', '.join(sorted(rows))})",
            fix="It was migrated by something other than mvctl; restore it from a backup.",
        )
    return rows[0] if rows else None


def check_known(revision: str | None, display: str) -> None:
    """Refuse a database written by a newer mvctl rather than misread it."""
    if revision is not None and revision not in REVISIONS:
        raise StateError(
            f"the state database {display} is at schema revision '{revision}', which this "
            f"mvctl does not know (it knows up to '{HEAD_REVISION}'); a newer mvctl wrote it",
            fix="Upgrade mvctl (`pip install -U mvctl`) and run the command again.",
        )


def needs_migrate_error(revision: str, display: str) -> StateError:
    return StateError(
        f"the state database {display} is at schema revision '{revision}', older than this "
        f"mvctl's '{HEAD_REVISION}'",
        fix="Run `mvctl state migrate` to upgrade it (back it up first if it matters).",
    )


def lock_for_migration(queries: Queries) -> None:
    """Serialise migrators; SQLite's BEGIN IMMEDIATE already does it for the file."""
    if queries.backend.name == "postgresql":
        queries.rows("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))


def upgrade_to_head(conn: Connection) -> None:
    """Run the alembic migrations to head on ``conn``, inside its open transaction.

    The caller's transaction holds every migration and the revision row, so a failed
    migration leaves the database as it was.
    """
    from alembic import command

    command.upgrade(alembic_config(conn), "head")


def alembic_config(conn: Connection | None = None, url: str | None = None) -> Config:
    """An alembic Config for the packaged scripts; no alembic.ini is needed anywhere.

    ``env.py`` runs on ``conn`` when given; otherwise on ``url`` (for developers running
    alembic's own commands, e.g. autogenerate, from Python).
    """
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation, where '%' is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config
