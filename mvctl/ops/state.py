"""mvctl state: migrate, lock and unlock by hand."""

from __future__ import annotations

from mvctl.actor import current_actor
from mvctl.errors import UsageError
from mvctl.state.db import LockInfo
from mvctl.workspace import Workspace


def migrate(workspace: Workspace) -> tuple[str | None, str]:
    state = workspace.open_state(create=True)
    try:
        return state.migrate()
    finally:
        state.close()


def take_lock(workspace: Workspace, reason: str) -> str:
    state = workspace.open_state(create=True)
    try:
        return state.acquire_lock(reason, current_actor(), lease_s=None)
    finally:
        state.close()


def release_lock(workspace: Workspace, lock_id: str, *, force: bool) -> LockInfo:
    state = workspace.open_state(create=True)
    try:
        holder = state.lock_holder()
        if (
            holder is not None
            and holder.lock_id == lock_id
            and holder.actor != current_actor()
            and not force
        ):
            raise UsageError(
                f"lock {lock_id} is held by {holder.actor}, not you",
                fix=f"If that process is gone, break it with `mvctl state unlock --force {lock_id}`.",
            )
        return state.force_unlock(lock_id)
    finally:
        state.close()
