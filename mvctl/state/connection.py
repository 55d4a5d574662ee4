"""Plain DB-API connections to the state: the two backends, transactions, failures as errors.

Reads, writes and the lock run here, on the stdlib ``sqlite3`` module or ``psycopg``, with SQL
text shared by both backends; SQLAlchemy, sqlmodel and alembic are not imported, because a
no-op plan, an apply or a revert must finish faster than importing them takes. Migrations
alone go through SQLAlchemy and alembic (``engine.py``, ``migrating.py``), handed the very same
connection settings.

Three things live here because they are about the connection rather than the data:

* the backends' differences: how to connect, how a read or write transaction begins, and the
  parameter style. SQL is written once with '?' placeholders (sqlite3's 'qmark') and turned
  into psycopg's '%s' by ``Backend.sql``, the one place that knows;
* transactions: the driver never starts one by itself (sqlite3 with ``isolation_level=None``,
  psycopg in autocommit mode); each begins explicitly. SQLite writes take ``BEGIN IMMEDIATE``,
  so the write lock is held from the first statement (waiting up to the busy timeout) rather
  than met half-way; PostgreSQL reads are REPEATABLE READ, one snapshot across several SELECTs;
* failures: a database failure reaches the user as a ``StateError`` naming the database and
  the way out, never as a driver traceback.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from mvctl.errors import StateError
from mvctl.state.url import StateURL

SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long a SQLite writer waits for another writer's transaction before giving up."""

POSTGRES_CONNECT_TIMEOUT_S = 10

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Backend:
    """What differs between SQLite and PostgreSQL once the SQL text is shared."""

    name: str
    error: type[Exception]
    """The driver's base error class."""
    begin_read: str
    begin_write: str
    connect: Callable[[], Any]
    """A new DB-API connection that starts no transaction by itself."""
    broken: Callable[[Any], bool]
    """Whether a connection was lost (a server restart, an idle timeout): reconnect."""
    qmark: bool

    def sql(self, text: str) -> str:
        """``text`` in this driver's parameter style (written with '?' placeholders)."""
        return text if self.qmark else text.replace("%", "%%").replace("?", "%s")


def backend_for(target: StateURL, *, wal: bool) -> Backend:
    """The backend for ``target``; importing its driver fails here, at open time."""
    if target.is_sqlite:
        return _sqlite_backend(target, wal=wal)
    return _postgres_backend(target)


def _sqlite_backend(target: StateURL, *, wal: bool) -> Backend:
    """SQLite with busy timeout and, for writers, WAL.

    WAL lets readers (plan, status) read while an apply writes. Switching to it writes to
    the file, so only writers (``create=True``) ask for it; the mode then sticks to the file.
    """

    def connect() -> sqlite3.Connection:
        # Shared across threads behind Link's lock, as SQLAlchemy shares file connections.
        conn: sqlite3.Connection = sqlite3.connect(**target.connect_args, check_same_thread=False)
        conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        return conn

    return Backend(
        name="sqlite",
        error=sqlite3.Error,
        begin_read="BEGIN",
        begin_write="BEGIN IMMEDIATE",
        connect=connect,
        broken=lambda conn: False,
        qmark=True,
    )


def _postgres_backend(target: StateURL) -> Backend:
    try:
        import psycopg
    except ImportError as exc:
        raise StateError(
            f"the driver for the state database {target.display} is not installed",
            fix="Install it with `pip install 'mvctl[postgres]'`.",
        ) from exc
    return Backend(
        name="postgresql",
        error=psycopg.Error,
        begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ",
        begin_write="BEGIN",
        connect=lambda: postgres_connect(target, autocommit=True),
        broken=lambda conn: bool(conn.closed or conn.broken),
        qmark=False,
    )


def postgres_connect(target: StateURL, *, autocommit: bool) -> Any:
    """A psycopg connection; ``autocommit=False`` keeps psycopg's implicit transactions,
    which is what SQLAlchemy drives."""
    import psycopg

    args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **target.connect_args}
    return psycopg.connect(**args, autocommit=autocommit)


class Queries(Protocol):
    """Where a read can run: a plain ``Tx``, or SQLAlchemy's connection while it migrates."""

    @property
    def backend(self) -> Backend: ...

    def rows(self, sql: str, params: Sequence[Any] = (), /) -> list[Row]: ...


class Tx:
    """Statements inside one open transaction; SQL is written with '?' placeholders."""

    def __init__(self, conn: Any, backend: Backend, display: str):
        self._conn = conn
        self.backend = backend
        self.display = display

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = self._conn.execute(self.backend.sql(sql), params).fetchall()
        return rows

    def first(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(self.backend.sql(sql), params).fetchone()
        return row

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        count: int = self._conn.execute(self.backend.sql(sql), params).rowcount
        return count

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        cursor = self._conn.cursor()
        try:
            cursor.executemany(self.backend.sql(sql), rows)
        finally:
            cursor.close()


class Link:
    """One DB-API connection to the state database, opened at first use and kept, and the
    transactions on it. A lock lets threads share it, one transaction at a time."""

    def __init__(self, target: StateURL, *, wal: bool):
        self.target = target
        self.backend = backend_for(target, wal=wal)
        self.guard = threading.RLock()
        self._conn: Any = None

    def connection(self) -> Any:
        """The DB-API connection, connecting first if need be (SQLAlchemy's SQLite engine
        shares it, so an in-memory database is one database)."""
        with self.guard:
            if self._conn is None:
                self._conn = self.backend.connect()
            return self._conn

    @contextmanager
    def transaction(self, doing: str, *, write: bool) -> Iterator[Tx]:
        """One transaction, committed when the block ends, rolled back if it raises.

        A driver failure becomes a StateError after the rollback, so every message can
        promise that nothing was half-written.
        """
        conn: Any = None
        with self.guard:
            try:
                conn = self._begin(self.backend.begin_write if write else self.backend.begin_read)
                try:
                    yield Tx(conn, self.backend, self.target.display)
                    conn.execute("COMMIT")
                except BaseException:
                    # Also after a failed COMMIT, which leaves a SQLite transaction open.
                    self._rollback(conn)
                    raise
            except (self.backend.error, OSError) as exc:
                lost = conn is not None and self.backend.broken(conn)
                if lost:
                    self.close()
                raise state_error_for(exc, self.target.display, doing, invalidated=lost) from exc

    def _begin(self, statement: str) -> Any:
        conn = self.connection()
        try:
            conn.execute(statement)
        except self.backend.error:
            if not self.backend.broken(conn):
                raise
            # What SQLAlchemy's pool_pre_ping did: a connection the server dropped while
            # idle is replaced once, before anything was sent in this transaction.
            self.close()
            conn = self.connection()
            conn.execute(statement)
        return conn

    def _rollback(self, conn: Any) -> None:
        # If the connection is gone or the transaction already ended, the error that got us
        # here is the one to report, and the database keeps nothing uncommitted anyway.
        with suppress(self.backend.error):
            conn.execute("ROLLBACK")

    def close(self) -> None:
        with self.guard:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()


def state_error_for(
    original: BaseException, display: str, doing: str, *, invalidated: bool = False
) -> StateError:
    """The StateError for a database failure: what happened to which database, and the fix.

    ``invalidated``: the failure cost the connection (SQLAlchemy's verdict, when it ran it).
    """
    lines = str(original).strip().splitlines()
    reason = lines[0].strip() if lines else type(original).__name__
    lowered = str(original).lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return StateError(
            f"the state database {display} is read-only ({reason}), so {doing} failed",
            fix="Make the file and its folder writable by this user, or point MVCTL_STATE at a "
            "writable database; nothing was written.",
        )
    if "disk is full" in lowered or "no space left" in lowered or "disk full" in lowered:
        return StateError(
            f"the disk holding the state database {display} is full ({reason}), so {doing} failed",
            fix="Free some disk space and run the command again; the failed transaction was "
            "rolled back.",
        )
    if "database is locked" in lowered or "database is busy" in lowered:
        return StateError(
            f"the state database {display} stayed locked by another writer for "
            f"{SQLITE_BUSY_TIMEOUT_MS / 1000:g} s, so {doing} failed",
            fix="Wait for the other mvctl process to finish and run the command again.",
        )
    if "not a database" in lowered or "malformed" in lowered:
        return StateError(
            f"the state database {display} is damaged or not a state database ({reason})",
            fix="Restore it from a backup, or point MVCTL_STATE at the right file.",
        )
    if "unable to open database file" in lowered:
        return StateError(
            f"the state database {display} cannot be opened ({reason})",
            fix="Check that its folder exists and is readable and writable by this user.",
        )
    if invalidated or _is_connection_failure(lowered):
        return StateError(
            f"cannot connect to the state database {display}: {reason}",
            fix="Check that the server is running and reachable, and that the URL, user and "
            "password are right (MVCTL_STATE overrides the 'state:' setting).",
        )
    return StateError(
        f"the state database {display} failed while {doing}: {reason}",
        fix="The failed transaction was rolled back; check the database and run the command again.",
    )


def _is_connection_failure(lowered: str) -> bool:
    markers = (
        "connection refused",
        "could not connect",
        "connection failed",
        "could not translate host name",
        "timeout expired",
        "password authentication failed",
        "server closed the connection",
        "no route to host",
    )
    if re.search(r'(database|role) "[^"]*" does not exist', lowered):
        return True
    return any(marker in lowered for marker in markers)
