"""The state lock: one row (id 1) in the ``lock`` table, so the database itself arbitrates.

Taking the lock is inserting that row and holding it is the row existing; a second writer's
insert finds it and fails fast with a message naming the holder. A crashed apply leaves its
row behind, which is why the holder's pid, host and lock id are kept: the user can see the
process is gone and break the lock with ``mvctl state unlock --force ID``. ``StateDB`` wraps
these statements in its own transactions; nothing here commits. Plain SQL, shared by both
backends: taking and releasing the lock is part of every apply, even one with nothing to do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mvctl.errors import LockHeldError
from mvctl.state.connection import Tx

LOCK_ROW_ID = 1


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds the state lock, doing what, from which process, since when."""

    lock_id: str
    actor: str
    operation: str
    pid: int
    host: str
    acquired_at: str

    def describe(self) -> str:
        return (
            f"{self.actor} ({self.operation}, pid {self.pid} on {self.host}) since "
            f"{self.acquired_at}, lock id {self.lock_id}"
        )


def new_lock_id() -> str:
    """Short enough to type in `mvctl state unlock --force`, random enough never to repeat."""
    return secrets.token_hex(4)


# ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a failed
# insert aborts the whole transaction, and a held lock is an expected outcome here. RETURNING
# tells whether the row went in; an INSERT's rowcount is not reliable across drivers.
INSERT = (
    "INSERT INTO lock (id, lock_id, actor, operation, pid, host, acquired_at) "
    f"VALUES ({LOCK_ROW_ID}, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id"
)
HOLDER = (
    f"SELECT lock_id, actor, operation, pid, host, acquired_at FROM lock WHERE id = {LOCK_ROW_ID}"
)
DELETE = f"DELETE FROM lock WHERE id = {LOCK_ROW_ID} AND lock_id = ?"


def try_insert(tx: Tx, info: LockInfo) -> bool:
    """Insert the lock row unless one exists; True when this call took the lock."""
    params = (info.lock_id, info.actor, info.operation, info.pid, info.host, info.acquired_at)
    return bool(tx.rows(INSERT, params))


def read_holder(tx: Tx) -> LockInfo | None:
    row = tx.first(HOLDER)
    return None if row is None else LockInfo(*row)


def delete_if_held_by(tx: Tx, lock_id: str) -> bool:
    """Delete the lock row only when ``lock_id`` holds it; True when a row was deleted."""
    return tx.execute(DELETE, (lock_id,)) == 1


def held_error(holder: LockInfo, waited_s: float) -> LockHeldError:
    waited = f" (waited {waited_s:g} s)" if waited_s > 0 else ""
    return LockHeldError(
        f"the state is locked by {holder.describe()}{waited}",
        fix=(
            "Wait for it to finish, or if that process is gone run "
            f"`mvctl state unlock --force {holder.lock_id}`."
        ),
    )
