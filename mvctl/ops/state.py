"""mvctl state: migrate, lock and unlock by hand. Each needs only where the state is, so
they take a ``Project`` and work over a mistake elsewhere in the config (`mvctl.project`)."""

from __future__ import annotations

from mvctl.actor import current_actor
from mvctl.errors import UsageError
from mvctl.project import Project
from mvctl.state.db import LockInfo


def migrate(project: Project) -> tuple[str | None, str]:
    state = project.open_state(create=True)
    try:
        return state.migrate()
    finally:
        state.close()


def take_lock(project: Project, reason: str) -> str:
    state = project.open_state(create=True)
    try:
        return state.acquire_lock(reason, current_actor(), lease_s=None)
    finally:
        state.close()


def release_lock(project: Project, lock_id: str, *, force: bool) -> LockInfo:
    state = project.open_state(create=True)
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
