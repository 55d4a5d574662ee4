"""The state lock: one row (id 1) in the ``lock`` table, so the database itself arbitrates.

Taking the lock is inserting that row and holding it is the row existing; a second writer's
insert finds it and fails fast with a message naming the holder. An apply or revert records
with it what proves it alive (its process, a heartbeat and lease, on PostgreSQL its session:
``state/liveness.py``), so a lock whose holder died is taken over by the next one: the dead
holder's row is deleted by its lock id and the new row inserted in one transaction, so two
processes taking over at once cannot both win. A lock taken by hand records none of it and
stays until ``mvctl state unlock``. ``StateDB`` wraps these statements in its own
transactions; nothing here commits. Plain SQL, shared by both backends: taking and releasing
the lock is part of every apply, even one with nothing to do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mvctl.errors import LockHeldError
from mvctl.results.records import LockInfo
from mvctl.state.connection import Tx

LOCK_ROW_ID = 1

ADVISORY_CLASS = 0x6D76
"""The first half of the key of the PostgreSQL advisory lock a holder keeps on its own
session; the second half is a hash of its lock id, so each holder's key is its own."""


@dataclass(frozen=True, slots=True)
class Takeover:
    """A lock taken over from a dead holder: who held it, and the proof that it is dead."""

    holder: LockInfo
    reason: str
    at: str

    def describe(self) -> str:
        return f"took over the state lock of {self.holder.describe()}: {self.reason}"


def new_lock_id() -> str:
    """Short enough to type in `mvctl state unlock --force`, random enough never to repeat."""
    return secrets.token_hex(4)


COLUMNS = (
    "lock_id, actor, operation, pid, host, acquired_at, process, heartbeat_at, lease_s, session"
)
# ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a failed
# insert aborts the whole transaction, and a held lock is an expected outcome here. RETURNING
# tells whether the row went in; an INSERT's rowcount is not reliable across drivers.
INSERT = (
    f"INSERT INTO lock (id, {COLUMNS}) VALUES ({LOCK_ROW_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
HOLDER = f"SELECT {COLUMNS} FROM lock WHERE id = {LOCK_ROW_ID}"
DELETE = f"DELETE FROM lock WHERE id = {LOCK_ROW_ID} AND lock_id = ?"
HEARTBEAT = f"UPDATE lock SET heartbeat_at = ? WHERE id = {LOCK_ROW_ID} AND lock_id = ?"

# Whether a holder's session still holds its advisory lock, from the server's lock table: a
# read that takes nothing, so `status` and `state check` can ask it too.
SESSION_ALIVE = (
    "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
    "AND classid = ?::oid AND objid = hashtext(?)::oid AND objsubid = 2"
)
CLAIM_SESSION = "SELECT pg_try_advisory_lock(?, hashtext(?)), pg_backend_pid()"


def try_insert(tx: Tx, info: LockInfo) -> bool:
    """Insert the lock row unless one exists; True when this call took the lock."""
    params = (
        info.lock_id,
        info.actor,
        info.operation,
        info.pid,
        info.host,
        info.acquired_at,
        info.process,
        info.heartbeat_at,
        info.lease_s,
        info.session,
    )
    return bool(tx.rows(INSERT, params))


def read_holder(tx: Tx) -> LockInfo | None:
    row = tx.first(HOLDER)
    return None if row is None else LockInfo(*row)


def delete_if_held_by(tx: Tx, lock_id: str) -> bool:
    """Delete the lock row only when ``lock_id`` holds it; True when a row was deleted."""
    return tx.execute(DELETE, (lock_id,)) == 1


def take_over(tx: Tx, dead: LockInfo, info: LockInfo) -> bool:
    """Replace ``dead``'s row with ``info``'s; False when the row changed meanwhile (another
    process took it over first, or the holder released it)."""
    return delete_if_held_by(tx, dead.lock_id) and try_insert(tx, info)


def session_alive(tx: Tx, holder: LockInfo) -> bool:
    """PostgreSQL: whether the holder's session still holds its advisory lock."""
    return bool(tx.rows(SESSION_ALIVE, (ADVISORY_CLASS, holder.lock_id)))


def held_error(holder: LockInfo, waited_s: float) -> LockHeldError:
    waited = f" (waited {waited_s:g} s)" if waited_s > 0 else ""
    if holder.provable:
        fix = (
            "Wait for it to finish (`--lock-timeout SECONDS` waits here). If it dies, the next "
            "apply takes the lock over; if it cannot be proven dead (its machine is unreachable "
            f"and its lease has not run out), `mvctl state unlock --force {holder.lock_id}` "
            "breaks it."
        )
    else:
        fix = (
            "Wait for it to finish, or if that process is gone run "
            f"`mvctl state unlock --force {holder.lock_id}`."
        )
    return LockHeldError(f"the state is locked by {holder.describe()}{waited}", fix=fix)
