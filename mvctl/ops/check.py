"""mvctl state check: is the recorded truth whole, and is anything stuck?

Four questions, each answered with findings that name the object and the fix:

* the store — every blob a row names exists and hashes to its digest;
* the aliases — each points at a version that is recorded as trained, with an artifact;
* the change log — replayed, it gives exactly the tables (``core.replay``), every apply's
  rows run 1..n without a gap, and applies follow one another serial by serial (two
  writers at once would fork the sequence);
* the lock — a holder that is provably dead (``state/liveness.py``) is reported as such:
  the next apply or revert takes its lock over. A lock that records no proof of life (taken
  by hand, or by an older mvctl) whose process is gone (same host: the pid is not running;
  another host: older than ``stale_after_s``) is reported with the unlock command.

Errors make the command exit 1; warnings (a step output that will be rebuilt, an apply that
was interrupted and will be closed by the next one) do not. The check only reads.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from mvctl import clock
from mvctl.core.recorded import VERSION_ARCHIVED, VERSION_TRAINED, Target
from mvctl.core.replay import Mismatch, compare, replay
from mvctl.errors import DigestMismatchError, MvctlError
from mvctl.results.check import CheckResult, Finding
from mvctl.results.records import LockInfo
from mvctl.state.inventory import Inventory
from mvctl.store.blobs import BlobStore
from mvctl.workspace import Workspace

STALE_AFTER_S = 6 * 3600.0
"""A lock from another host older than this is reported as stale (its pid cannot be probed)."""


def check(workspace: Workspace, *, stale_after_s: float = STALE_AFTER_S) -> CheckResult:
    state = workspace.open_state(create=False)
    try:
        found = state.inventory()
        dead = None
        if found is not None and found.lock is not None:
            dead = state.dead_holder_reason(found.lock)
    finally:
        state.close()
    if found is None:
        return CheckResult(state.display_url, 0, (), {})
    store = workspace.open_store()
    findings = [
        *_check_lock(found, dead, stale_after_s),
        *_check_log(found, locked_by_live=_held_by_live(found.lock, dead, stale_after_s)),
        *_check_aliases(found),
        *_check_blobs(found, store),
    ]
    blobs = {use.digest for use in _referenced_blobs(found)}
    counts = {
        "rows": len(found.rows),
        "changes": len(found.changes),
        "applies": len(found.applies),
        "blobs": len(blobs),
    }
    return CheckResult(state.display_url, found.serial, tuple(findings), counts)


def _check_lock(found: Inventory, dead: str | None, stale_after_s: float) -> Iterator[Finding]:
    """``dead``: why the holder is provably dead, if it is."""
    holder = found.lock
    if holder is None:
        return
    unlock = f"mvctl state unlock --force {holder.lock_id}"
    if dead is not None:
        yield Finding(
            "warning",
            "dead_lock",
            "lock",
            f"held by {holder.describe()}, but its holder is dead: {dead}",
            "Nothing to do: the next `mvctl apply` (or revert) takes the lock over and "
            "resumes; finished steps are cached.",
        )
        return
    stale = None if holder.provable else _stale_reason(holder, stale_after_s)
    if stale is None:
        yield Finding(
            "warning",
            "lock_held",
            "lock",
            f"held by {holder.describe()}; it is running, "
            "so the state may change while this check reads it",
            "Wait for it to finish and check again.",
        )
        return
    yield Finding(
        "error",
        "stale_lock",
        "lock",
        f"held by {holder.describe()}, but {stale}, so the lock blocks every apply",
        f"Break it with `{unlock}`, then run `mvctl apply` again: finished steps are cached.",
    )


def _held_by_live(holder: LockInfo | None, dead: str | None, stale_after_s: float) -> bool:
    if holder is None or dead is not None:
        return False
    return holder.provable or _stale_reason(holder, stale_after_s) is None


def _stale_reason(holder: LockInfo, stale_after_s: float) -> str | None:
    """Why the holder is gone, or None while it may still be at work."""
    if holder.host == socket.gethostname():
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return f"pid {holder.pid} is not running on {holder.host}"
        except PermissionError:
            return None  # it exists, under another user
        return None
    try:
        taken = datetime.strptime(holder.acquired_at, clock.STAMP).replace(tzinfo=UTC)
    except ValueError:
        return (
            f"its time {holder.acquired_at!r} is unreadable and its host ({holder.host}) is another"
        )
    age = (clock.now() - taken).total_seconds()
    if age > stale_after_s:
        return f"it was taken {age / 3600:.1f} h ago on another host ({holder.host})"
    return None


def _check_log(found: Inventory, *, locked_by_live: bool) -> Iterator[Finding]:
    for mismatch in compare(replay(found.changes), found.rows):
        yield _mismatch_finding(mismatch)
    seqs: dict[int, list[int]] = {}
    for entry in found.changes:
        seqs.setdefault(entry.apply_id, []).append(entry.seq)
    for apply_id, numbers in sorted(seqs.items()):
        if numbers != list(range(1, len(numbers) + 1)):
            yield Finding(
                "error",
                "log_gap",
                f"apply #{apply_id}",
                f"its change-log rows are numbered {numbers}, not 1..{len(numbers)}",
                "The log was edited outside mvctl; restore the state from a backup.",
            )
    previous = None
    for record in found.applies:
        if (
            previous is not None
            and previous.serial_after is not None
            and record.serial_before < previous.serial_after
        ):
            yield Finding(
                "error",
                "forked_log",
                f"apply #{record.id}",
                f"it started at serial {record.serial_before}, before apply #{previous.id} "
                f"ended at serial {previous.serial_after}: two writers ran at once",
                "Compare both applies in `mvctl history`; restore from a backup if "
                "their changes clash.",
            )
        previous = record
        if record.status == "running" and not locked_by_live:
            yield Finding(
                "warning",
                "interrupted_apply",
                f"apply #{record.id}",
                f"{record.kind} #{record.id} by {record.actor} stopped before it finished "
                "(its process died); what it recorded is whole",
                "Run `mvctl apply` again: it resumes and closes this record.",
            )


def _mismatch_finding(mismatch: Mismatch) -> Finding:
    target = mismatch.target
    if mismatch.stored is None:
        what = "is in the change log but missing from the state"
    elif mismatch.logged is None:
        what = "is in the state but not in the change log"
    else:
        fields = "; ".join(
            f"{c.path}: logged {c.before!r}, stored {c.after!r}" for c in mismatch.changes[:4]
        )
        what = f"differs from its change log ({fields})"
    if target.kind == "alias":
        fix = (
            "It was changed outside mvctl: accept it with `mvctl apply --refresh-only`, or run "
            "`mvctl apply` to set it back to what the config says."
        )
    else:
        fix = (
            "It was written outside mvctl, which never writes a row without its log row; "
            "restore the state database from a backup."
        )
    return Finding("error", "log_mismatch", str(target), f"{target} {what}", fix)


def _check_aliases(found: Inventory) -> Iterator[Finding]:
    last_apply = {entry.target: entry.apply_id for entry in found.changes}
    for target, value in sorted(found.rows.items(), key=lambda item: str(item[0])):
        if target.kind != "alias":
            continue
        version_target = Target("version", target.model, value["version"])
        version = found.rows.get(version_target)
        ref = f"{target.model}@{value['version']}"
        if version is None:
            problem = f"points at {ref}, which is not recorded"
        elif version["status"] != VERSION_TRAINED or not version["artifact_digest"]:
            problem = f"points at {ref}, which is {version['status']}, not trained"
        else:
            continue
        fix = f"Point {target.name} at a trained version in the config and run `mvctl apply`"
        culprit = max(
            (last_apply[t] for t in (target, version_target) if t in last_apply), default=None
        )
        if culprit is not None:
            fix += f", or undo apply #{culprit}, which made it so, with `mvctl revert {culprit}`"
        yield Finding("error", "alias_untrained", str(target), f"{target} {problem}", fix + ".")


@dataclass(frozen=True)
class _BlobUse:
    what: str
    """What names the blob, for the message."""
    digest: str
    version: Target | None = None
    """The live version whose artifact it is: losing it loses that model."""


def _referenced_blobs(found: Inventory) -> Iterator[_BlobUse]:
    """Every blob a row names. Only a live version's artifact cannot be rebuilt by an apply
    that needs it; an archived version's is kept for a restore, and used by nothing."""
    for target, value in found.rows.items():
        if target.kind == "version" and value.get("artifact_digest"):
            live = value["status"] != VERSION_ARCHIVED
            yield _BlobUse(
                f"the artifact of {target}" + ("" if live else " (archived)"),
                value["artifact_digest"],
                target if live else None,
            )
    for run in found.step_runs:
        for name, digest in run.outputs.items():
            yield _BlobUse(
                f"output {name} of step {run.model}/{run.step} ({run.cache_key[:12]})", digest
            )
        if run.log_digest:
            yield _BlobUse(
                f"the log of step {run.model}/{run.step} ({run.cache_key[:12]})", run.log_digest
            )


def _check_blobs(found: Inventory, store: BlobStore) -> Iterator[Finding]:
    verdicts: dict[str, MvctlError | None] = {}
    for use in _referenced_blobs(found):
        digest = use.digest
        if digest not in verdicts:
            verdicts[digest] = _verify(store, digest)
        problem = verdicts[digest]
        if problem is None:
            continue
        if isinstance(problem, DigestMismatchError):
            fix = problem.fix or ""
            if use.version is not None:
                fix = f"Delete the corrupt copy ({store.location(digest)}). " + _lost_artifact_fix(
                    use.version
                )
            yield Finding("error", "blob_corrupt", digest, f"{use.what}: {problem.what}", fix)
        elif use.version is not None:
            yield Finding(
                "error",
                "blob_missing",
                digest,
                f"{use.what} is missing from the store {store.display}",
                _lost_artifact_fix(use.version),
            )
        else:
            yield Finding(
                "warning",
                "blob_missing",
                digest,
                f"{use.what} is missing from the store {store.display}",
                "Nothing to do: a step runs again the next time an apply needs its outputs, "
                "and an archived version needs its artifact only if it is declared again.",
            )


def _lost_artifact_fix(version: Target) -> str:
    return (
        "Put the blob back from a backup of the store. Without one, declare a new version of "
        f"{version.model} with the same spec and run `mvctl apply`: the step that made the "
        "model runs again, and a step that gives the same bytes puts this blob back. If the "
        "check still reports it, point the aliases at the new version and remove "
        f"{version.name} from the config: archived, its lost artifact is only a warning."
    )


def _verify(store: BlobStore, digest: str) -> MvctlError | None:
    try:
        store.verify(digest)
    except MvctlError as error:
        return error
    return None
