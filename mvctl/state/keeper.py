"""Keeping the state lock provably alive while this process holds it.

The holder of the lock opens a database connection of its own for as long as it holds it:

* on PostgreSQL that connection takes a session-level advisory lock keyed by the lock id
  before the lock row is inserted, and keeps it until after the row is deleted. The server
  releases it the moment the session ends (the process killed, its machine gone), which is
  the proof that the next apply reads (``liveness.why_dead``);
* on both backends a daemon thread refreshes the row's ``heartbeat_at`` every quarter of
  the lease, the proof for a holder on another machine where neither pid nor session can be
  probed.

Should the refresh find the row gone or the session lost, the lock is ``lost``: ``StateDB``
then refuses this process's further writes rather than write beside a new holder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from mvctl.state import lock as state_lock
from mvctl.state.connection import SQLITE_BUSY_TIMEOUT_MS, Link, state_error_for

MIN_BEAT_S = 0.5
MAX_BEAT_S = 30.0
CLOSE_WAIT_S = SQLITE_BUSY_TIMEOUT_MS / 1000 + 1
"""How long closing waits for a heartbeat in flight (one waiting out a busy database)."""


class LockKeeper:
    """The holder's own connection (and advisory lock) and its heartbeat thread."""

    def __init__(self, link: Link, lease_s: float, clock: Callable[[], str]) -> None:
        self._link = link
        self._backend = link.backend
        self._clock = clock
        self.lease_s = lease_s
        self._interval = min(MAX_BEAT_S, max(MIN_BEAT_S, lease_s / 4))
        self._conn: Any = None
        self._use = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.session: int | None = None
        """PostgreSQL: this connection's backend pid, once it holds its advisory lock."""
        self.lost: str | None = None
        """Why this process no longer holds the lock it took; None while it does."""

    @property
    def _separate_connection_possible(self) -> bool:
        """An in-memory SQLite database is seen by one connection only."""
        target = self._link.target
        return not target.is_sqlite or target.sqlite_path is not None

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._backend.connect()
        return self._conn

    def claim(self, lock_id: str) -> bool:
        """PostgreSQL: take the advisory lock of ``lock_id`` on this connection's session,
        before the lock row names it; False only if another live lock's key is the same
        (a hash collision: take another id). Elsewhere there is nothing to claim."""
        if self._backend.name != "postgresql":
            return True
        try:
            with self._use:
                taken, backend_pid = (
                    self._connection()
                    .execute(
                        self._backend.sql(state_lock.CLAIM_SESSION),
                        (state_lock.ADVISORY_CLASS, lock_id),
                    )
                    .fetchone()
                )
        except (self._backend.error, OSError) as exc:
            raise state_error_for(exc, self._link.target.display, "taking the state lock") from exc
        if taken:
            self.session = int(backend_pid)
        return bool(taken)

    def start(self, lock_id: str) -> None:
        """Refresh the heartbeat of lock ``lock_id`` until ``close``."""
        if not self._separate_connection_possible:
            return
        self._thread = threading.Thread(
            target=self._beat, args=(lock_id,), name="mvctl-lock-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, lock_id: str) -> None:
        while not self._stopped.wait(self._interval):
            try:
                with self._use:
                    changed = (
                        self._connection()
                        .execute(self._backend.sql(state_lock.HEARTBEAT), (self._clock(), lock_id))
                        .rowcount
                    )
            except (self._backend.error, OSError):
                if self._conn is not None and self._backend.broken(self._conn):
                    self.lost = (
                        "its database session ended, so another apply may take the lock over"
                    )
                    return
                continue  # busy (another writer's transaction): the next beat tries again
            if changed != 1:
                self.lost = "its lock row is gone (broken with `unlock --force`, or taken over)"
                return

    def close(self) -> None:
        """Stop the heartbeat and close the connection, which frees the advisory lock; call
        after the lock row is deleted."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=CLOSE_WAIT_S)
            if self._thread.is_alive():
                return  # stuck in a beat on an unresponsive database: exiting frees it all
        with self._use:
            conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(self._backend.error, OSError):
                conn.close()
