"""Alembic's entry point for the state migrations, configured from Python, not an .ini file.

``StateDB`` hands over its own connection, already inside a write transaction, so every
migration and the revision row commit (or roll back) together. Without one, it connects to
the configured ``sqlalchemy.url``, which is how a developer runs alembic's own commands
(``alembic.command.revision(schema.alembic_config(url=...), autogenerate=True)``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from mvctl.state.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with_url() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run migrations through mvctl.state.StateDB")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("mvctl's state migrations run online only")

_connection = context.config.attributes.get("connection")
if _connection is None:
    _run_with_url()
else:
    _run(_connection)
