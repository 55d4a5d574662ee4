"""SQLAlchemy for the migrations, built on the plain connection's settings.

Imported only by ``migrating.py``, when a schema is behind: no other command pays for
SQLAlchemy. The engine gets its DB-API connections
from the same ``Backend`` as the plain reads, so both open the same database the same way:

* SQLite shares the plain connection itself (one connection per ``StateDB``; an in-memory
  database stays one database). SQLAlchemy would start transactions lazily and never for a
  SELECT, so following its documented recipe the driver's own BEGIN is off (the plain
  connection already has ``isolation_level=None``) and every transaction here, all of them
  migrations, begins with ``BEGIN IMMEDIATE``: the write lock is taken up front, waiting up to
  the busy timeout, instead of a writer meeting 'database is locked' half-way through;
* PostgreSQL gets connections of its own from a pool, pinged before use, in psycopg's
  ordinary transaction mode, which SQLAlchemy drives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from mvctl.state.connection import Backend, Link, Row, postgres_connect, state_error_for


def create_state_engine(link: Link) -> Engine:
    """An engine on ``link``'s database; it does not connect until first used."""
    backend = link.backend
    if backend.name == "sqlite":
        engine = create_engine("sqlite://", creator=link.connection, poolclass=StaticPool)

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql(backend.begin_write)

        return engine
    return create_engine(
        "postgresql+psycopg://",
        creator=lambda: postgres_connect(link.target, autocommit=False),
        pool_pre_ping=True,
    )


@contextmanager
def translated_errors(backend: Backend, display: str, doing: str) -> Iterator[None]:
    """Turn a database failure while ``doing`` something into a StateError with the fix.

    The transaction that failed has been rolled back by the time this runs (the ``begin()``
    blocks inside exit first), so every message can promise that nothing was half-written.
    """
    try:
        yield
    except (SQLAlchemyError, backend.error, OSError) as exc:
        if isinstance(exc, DBAPIError):
            raise state_error_for(
                exc.orig or exc, display, doing, invalidated=exc.connection_invalidated
            ) from exc
        raise state_error_for(exc, display, doing) from exc


class DriverQueries:
    """The plain SQL of ``schema`` run on SQLAlchemy's connection, inside its transaction
    (the migration checks the revision again under the migration lock)."""

    def __init__(self, conn: Connection, backend: Backend):
        self._conn = conn
        self.backend = backend

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        result = self._conn.exec_driver_sql(self.backend.sql(sql), tuple(params))
        return [tuple(row) for row in result.all()]
