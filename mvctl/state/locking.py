"""``LockingStateDB``: taking, keeping and giving back the state lock, on top of the reads.

One writer at a time holds the lock row (``state/lock.py``). A holder that is provably dead
(``state/liveness.py``) is taken over at once; the process that holds the lock keeps its
proofs of life meanwhile (``state/keeper.py``), and refuses to write once it has lost it.
The lock row is written in plain SQL on the driver's connection: no SQLAlchemy.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager

from mvctl import clock
from mvctl.errors import LockHeldError, NotFoundError, StateError
from mvctl.results.records import LockInfo
from mvctl.state import liveness
from mvctl.state import lock as state_lock
from mvctl.state.connection import Link, Tx
from mvctl.state.keeper import LockKeeper
from mvctl.state.lock import Takeover
from mvctl.state.reading import ReadOnlyStateDB

LOCK_POLL_S = 0.2
DEFAULT_LEASE_S = 120.0
"""How long an apply's heartbeat may stay silent before it counts as dead (`--lock-lease`)."""
LOG = logging.getLogger("mvctl.lock")


class LockingStateDB(ReadOnlyStateDB):
    """The reads, and the state lock that every writer holds while it writes."""

    def __init__(self, link: Link):
        super().__init__(link)
        self._keeper: LockKeeper | None = None
        self._held_lock_id: str | None = None
        self.takeover: Takeover | None = None
        """The dead holder whose lock ``acquire_lock`` took over, if it did."""

    def close(self) -> None:
        self._stop_keeping()
        super().close()

    def _lock_write(self, doing: str) -> AbstractContextManager[Tx]:
        """A plain write transaction for the lock row (``BEGIN IMMEDIATE`` on SQLite)."""
        return self._link.transaction(doing, write=True)

    def _require_ready(self) -> None:
        if not self._ready:
            raise StateError(
                f"the state database {self.display_url} has not been created yet",
                fix="Run `mvctl apply` or `mvctl state migrate` to create it.",
            )

    def acquire_lock(
        self,
        operation: str,
        actor: str,
        *,
        timeout_s: float = 0.0,
        lease_s: float | None = DEFAULT_LEASE_S,
    ) -> str:
        """Take the state lock, waiting up to ``timeout_s`` for its holder; return its id.

        A holder that is provably dead (``state/liveness.py``) is taken over at once: a
        warning names it and why, and ``takeover`` keeps it for the apply record. This
        process keeps its own proofs of life while it holds the lock (``state/keeper.py``);
        ``lease_s`` is how long its heartbeat may stay silent before it counts as dead. With
        ``lease_s=None`` the lock is taken by hand: nothing proves it alive or dead, and it
        stays until `mvctl state unlock`.
        """
        self._require_ready()
        keeper = None if lease_s is None else LockKeeper(self._link, lease_s, clock.now_stamp)
        try:
            lock_id = self._take_lock(operation, actor, timeout_s, keeper)
        except BaseException:
            if keeper is not None:
                keeper.close()
            raise
        if keeper is not None:
            self._stop_keeping()  # a lock this object took before and lost
            keeper.start(lock_id)
            self._keeper, self._held_lock_id = keeper, lock_id
        return lock_id

    def _take_lock(
        self, operation: str, actor: str, timeout_s: float, keeper: LockKeeper | None
    ) -> str:
        lock_id = state_lock.new_lock_id()
        while keeper is not None and not keeper.claim(lock_id):
            lock_id = state_lock.new_lock_id()
        pid = os.getpid()
        process = liveness.process_identity(pid) if keeper is not None else None
        started = time.monotonic()
        while True:
            moment = clock.now()
            now = clock.stamp(moment)
            info = LockInfo(
                lock_id=lock_id,
                actor=actor,
                operation=operation,
                pid=pid,
                host=liveness.this_host(),
                acquired_at=now,
                process=process,
                heartbeat_at=None if keeper is None else now,
                lease_s=None if keeper is None else keeper.lease_s,
                session=None if keeper is None else keeper.session,
            )
            with self._lock_write("taking the state lock") as tx:
                if state_lock.try_insert(tx, info):
                    return lock_id
                holder = state_lock.read_holder(tx)
                alive = self._session_alive(tx, holder)
            if holder is None:
                continue  # released between the insert and the read: try again at once
            dead = liveness.why_dead(holder, now=moment, session_alive=alive)
            if dead is not None:
                with self._lock_write("taking over the state lock") as tx:
                    if state_lock.take_over(tx, holder, info):
                        self.takeover = Takeover(holder, dead, now)
                        LOG.warning("Warning: %s.", self.takeover.describe())
                        return lock_id
                continue  # someone else took it over first, or it was released
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise state_lock.held_error(holder, round(waited, 1))
            time.sleep(min(LOCK_POLL_S, timeout_s - waited))

    def _ensure_lock_held(self) -> None:
        """Refuse a write once this process lost the lock it took: another apply may be
        writing now, and two writers would fork the change log."""
        if self._held_lock_id is None:
            return
        lost = None if self._keeper is None else self._keeper.lost
        if lost is None:
            with self._read("checking the state lock") as tx:
                holder = state_lock.read_holder(tx)
            if holder is not None and holder.lock_id == self._held_lock_id:
                return
            lost = (
                f"it is held by {holder.describe()} now"
                if holder is not None
                else "it was broken with `mvctl state unlock --force`"
            )
        raise LockHeldError(
            f"this process no longer holds the state lock {self._held_lock_id}: {lost}",
            fix="Nothing more was written. Run `mvctl state check`, then the command again "
            "once the other holder is done.",
        )

    def release_lock(self, lock_id: str) -> None:
        """Release the lock if ``lock_id`` still holds it.

        A lock broken with ``unlock --force`` (and perhaps taken by someone else since) is
        not ours any more; releasing it must not remove the new holder's row, nor fail the
        apply that is cleaning up. The row goes first, the proofs of life after it.
        """
        try:
            if self._ready:
                with self._lock_write("releasing the state lock") as tx:
                    state_lock.delete_if_held_by(tx, lock_id)
        finally:
            if self._held_lock_id == lock_id:
                self._stop_keeping()

    def _stop_keeping(self) -> None:
        keeper, self._keeper, self._held_lock_id = self._keeper, None, None
        if keeper is not None:
            keeper.close()

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Break the lock left by a process that is gone; the id must match, so a lock taken
        since by a live process is not broken by mistake."""
        holder: LockInfo | None = None
        if self._ready:
            with self._lock_write("breaking the state lock") as tx:
                holder = state_lock.read_holder(tx)
                if holder is not None and holder.lock_id == lock_id:
                    state_lock.delete_if_held_by(tx, lock_id)
                    return holder
        if holder is None:
            raise NotFoundError(
                f"there is no state lock to break (asked for lock id {lock_id})",
                fix="Nothing holds the state; run the command again without unlocking.",
            )
        raise NotFoundError(
            f"lock id {lock_id} does not hold the state; it is locked by {holder.describe()}",
            fix=f"To break that lock, run `mvctl state unlock --force {holder.lock_id}`.",
        )
