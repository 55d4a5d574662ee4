"""Ending an apply or revert that failed without hiding why it failed.

When the state database itself is what failed (a full disk, a read-only file, a dropped
server), closing the apply record and releasing the lock fail as well. Those second failures
must not replace the error the user needs to read, and a lock left behind must be named with
what frees it, so every failure ends in a message that says how to recover.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import suppress
from pathlib import Path

from mvctl.errors import MvctlError, StateError
from mvctl.project import Project
from mvctl.state import StateWriter

INTACT = "Everything recorded before the failure is intact (each change commits with its log row)."
AGAIN = {
    "apply": "Check with `mvctl state check`, then run `mvctl apply` again: finished steps are cached.",
    "revert": "Check with `mvctl state check`, then run the `mvctl revert` again.",
}


def work_folder(project: Project, apply_id: int) -> Path:
    """Where apply ``apply_id`` runs its steps; removed when it ends, even by a signal, and
    by the next apply or revert if it was killed."""
    return project.private_dir / "work" / f"apply-{apply_id}"


def close_interrupted(state: StateWriter, project: Project) -> None:
    """Close the records of applies that died holding the lock, and remove their work
    folders; call holding the lock."""
    for apply_id in state.close_interrupted_applies():
        shutil.rmtree(work_folder(project, apply_id), ignore_errors=True)


def close_failed(
    state: StateWriter, apply_id: int, error: BaseException, kind: str = "apply"
) -> BaseException:
    """Close the apply record as failed; the error to raise in place of ``error``.

    A state failure gains the recovery steps. If the record cannot be closed (the database
    still fails), it stays 'running' and the next apply closes it as interrupted.
    """
    reason = (
        error.message if isinstance(error, MvctlError) else (str(error) or type(error).__name__)
    )
    # If this fails too, the error in flight is the one to report; `state check` shows the
    # record still open.
    with suppress(MvctlError):
        state.finish_apply(apply_id, "failed", reason)
    if isinstance(error, StateError) and INTACT not in (error.fix or ""):
        return StateError(
            f"{kind} #{apply_id} stopped: {error.what}",
            obj=error.obj,
            fix=f"{error.fix or ''} {INTACT} {AGAIN[kind]}".strip(),
        )
    return error


def acquire_lock(
    state: StateWriter, operation: str, actor: str, *, timeout_s: float, lease_s: float | None
) -> str:
    """Take the state lock for ``operation``; when it cannot be taken (held, or the database
    failed), close the state before the error leaves, since no ``finally`` owns it yet."""
    try:
        return state.acquire_lock(operation, actor, timeout_s=timeout_s, lease_s=lease_s)
    except BaseException:
        state.close()
        raise


def release_lock(state: StateWriter, lock_id: str) -> None:
    """Release the lock and close the state; for a ``finally`` block.

    If releasing fails, the error raised keeps the message of the error in flight (read
    from ``sys.exc_info``, which a ``finally`` block sees) and adds how to break the lock.
    """
    in_flight = sys.exc_info()[1]
    try:
        state.release_lock(lock_id)
    except MvctlError as failed:
        unlock = (
            f"The state lock {lock_id} could not be released ({failed.what}); once this "
            "process has ended and the state database works again, the next apply takes it "
            f"over (or break it with `mvctl state unlock --force {lock_id}`)."
        )
        if isinstance(in_flight, MvctlError):
            raise StateError(
                in_flight.what, obj=in_flight.obj, fix=f"{in_flight.fix or ''} {unlock}".strip()
            ) from in_flight
        raise StateError("the command finished, but " + failed.what, fix=unlock) from failed
    finally:
        state.close()
