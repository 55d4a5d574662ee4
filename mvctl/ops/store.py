"""mvctl store gc: find (and with ``delete``, remove) blobs the state no longer refers to.

A blob is kept while any recorded version (its artifact, its steps' outputs and logs, its
failure log), any version value in the change log (what a revert may restore) or any step run
(the step cache) names it. Deleting takes the state lock, because an apply writes its blobs
before the rows that name them: holding the lock, no apply is between the two.
"""

from __future__ import annotations

from mvctl.actor import current_actor
from mvctl.errors import UsageError
from mvctl.results.store import GcResult
from mvctl.workspace import Workspace


def gc(workspace: Workspace, *, delete: bool, lock_timeout_s: float = 0.0) -> GcResult:
    store = workspace.open_store()
    if not delete:
        state = workspace.open_state(create=False)
        try:
            referenced = state.referenced_digests()
        finally:
            state.close()
        stored = set(store.list())
        return GcResult(
            store.display, tuple(sorted(stored - referenced)), len(stored & referenced), False
        )
    state = workspace.open_state(create=False)
    try:
        recorded_anything = state.serial() > 0
    finally:
        state.close()
    if not recorded_anything:
        count = sum(1 for _ in store.list())
        if count:
            raise UsageError(
                f"the state {workspace.state_url} records nothing, so all {count} blobs in "
                f"{store.display} would be deleted",
                fix="Check that `state:` / MVCTL_STATE names the state this store belongs to; "
                "to empty the store on purpose, delete it by hand.",
            )
        return GcResult(store.display, (), 0, True)
    state = workspace.open_state(create=True)
    try:
        lock_id = state.acquire_lock("store gc", current_actor(), timeout_s=lock_timeout_s)
        try:
            referenced = state.referenced_digests()
            stored = set(store.list())
            garbage = tuple(sorted(stored - referenced))
            for digest in garbage:
                store.delete(digest)
            return GcResult(store.display, garbage, len(stored & referenced), True)
        finally:
            state.release_lock(lock_id)
    finally:
        state.close()
