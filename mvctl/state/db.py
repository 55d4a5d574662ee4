"""``StateDB``: the recorded truth in SQLite or PostgreSQL, read as values, written as Changes.

Plan, status and history open the state read-only (``create=False``): that creates no file
and no table, and a missing database reads as empty, because a plan is pure. Apply, revert
and the lock commands open it with ``create=True``, which creates and migrates it.

Reads and the lock run in plain SQL on the driver's own connection (``reader``, ``lock``);
writes and migrations go through SQLAlchemy (``writer``), imported at the first write. A
no-op plan or apply, which only reads and takes the lock, so never imports SQLAlchemy,
sqlmodel or alembic: together they take longer to import than the whole command may. Every
write is one short transaction that takes the writer's lock up front. Everything returned is
a plain value; no ORM object leaves this module.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mvctl.core.hashing import canonical_json
from mvctl.core.recorded import Change, LoggedChange, RecordedEvaluation, RecordedState, StepRun
from mvctl.errors import LockHeldError, NotFoundError, StateError, UsageError
from mvctl.results.records import ApplyRecord, EvaluationRecord, LockInfo, VersionDetail
from mvctl.state import evaluations, inventory, liveness, reader, schema
from mvctl.state import lock as state_lock
from mvctl.state.connection import Link, Tx
from mvctl.state.inventory import Inventory
from mvctl.state.keeper import LockKeeper
from mvctl.state.lock import Takeover
from mvctl.state.url import parse_state_url

if TYPE_CHECKING:
    from mvctl.state.writer import Writer

__all__ = [
    "ApplyRecord",
    "EvaluationRecord",
    "LockInfo",
    "StateDB",
    "Takeover",
    "VersionDetail",
    "normalize_since",
    "utc_now",
]

APPLY_KINDS = ("apply", "revert")
APPLY_END_STATUSES = ("succeeded", "failed", "partial")

LOCK_POLL_S = 0.2
DEFAULT_LEASE_S = 120.0
"""How long an apply's heartbeat may stay silent before it counts as dead (`--lock-lease`)."""
LOG = logging.getLogger("mvctl.lock")
RUNNING_APPLIES = "SELECT id FROM applies WHERE status = 'running'"
INTERRUPTED = "interrupted: its process ended while it held the lock (killed or crashed)"


def utc_now() -> str:
    """Now as the state stores times: ISO-8601 UTC to the second, ending in 'Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_since(since: str) -> str:
    """A date or date-time bound as stored text, so it compares as a string on both backends."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise UsageError(
            f"'{since}' is not a date or time",
            fix="Give an ISO date or time such as 2026-11-29 or 2026-11-29T08:30:00Z.",
        ) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class StateDB:
    """The state database: snapshot for the planner, changes and the lock for apply/revert."""

    def __init__(self, link: Link):
        """Use ``StateDB.open``, which finds out whether the schema is there and current."""
        self._link = link
        self._writer: Writer | None = None
        self._ready = False
        self._found_revision: str | None = None
        self._keeper: LockKeeper | None = None
        self._held_lock_id: str | None = None
        self.takeover: Takeover | None = None
        """The dead holder whose lock ``acquire_lock`` took over, if it did."""
        self.display_url = link.target.display

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool) -> StateDB:
        """Open the state at ``url``; with ``create``, create and migrate it as needed.

        Without ``create`` nothing is written: a SQLite file that does not exist is not
        created, and a database without the mvctl schema reads as an empty state.
        """
        target = parse_state_url(url)
        if create and target.in_memory:
            raise StateError(
                f"the state URL '{target.display}' is an in-memory SQLite database, which is "
                "gone when mvctl exits, so nothing written to it would be recorded",
                fix="Point `state:` in mvctl.yaml (or MVCTL_STATE) at a file, such as "
                "sqlite:///.mvctl/state.db, or at a PostgreSQL database.",
            )
        path = target.sqlite_path
        if path is not None and create:
            _make_folder(path.parent, target.display)
        db = cls(Link(target, wal=create))
        # Without ``create``, touching a missing SQLite file would create it: don't.
        missing_file = path is not None and not path.exists()
        if not create and (missing_file or target.in_memory):
            return db
        try:
            with db._read("opening the state") as tx:
                found = schema.current_revision(tx)
            schema.check_known(found, target.display)
            db._found_revision = found
            if found == schema.HEAD_REVISION:
                db._ready = True
            elif create:
                db._migrate_to_head()
            elif found is not None:
                raise schema.needs_migrate_error(found, target.display)
            return db
        except BaseException:
            db.close()
            raise

    def migrate(self) -> tuple[str | None, str]:
        """Bring the schema to head: (the revision this database was at when opened, head).

        ``open(create=True)`` already migrates, so ``mvctl state migrate`` opens that way and
        reports the revision found at open time.
        """
        self._migrate_to_head()
        return self._found_revision, schema.HEAD_REVISION

    def _migrate_to_head(self) -> None:
        self._get_writer().migrate_to_head()
        self._ready = True

    def close(self) -> None:
        self._stop_keeping()
        if self._writer is not None:
            self._writer.close()
        self._link.close()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------

    def _read(self, doing: str) -> AbstractContextManager[Tx]:
        """One consistent read: a single snapshot even across several SELECTs."""
        return self._link.transaction(doing, write=False)

    def _lock_write(self, doing: str) -> AbstractContextManager[Tx]:
        """A plain write transaction for the lock row (``BEGIN IMMEDIATE`` on SQLite)."""
        return self._link.transaction(doing, write=True)

    def _get_writer(self) -> Writer:
        """The SQLAlchemy writer, imported and built at the first write."""
        if self._writer is None:
            from mvctl.state.writer import Writer

            self._writer = Writer(self._link)
        return self._writer

    def _require_ready(self) -> None:
        if not self._ready:
            raise StateError(
                f"the state database {self.display_url} has not been created yet",
                fix="Run `mvctl apply` or `mvctl state migrate` to create it.",
            )

    # -- reading -----------------------------------------------------------------------

    def serial(self) -> int:
        if not self._ready:
            return 0
        with self._read("reading the serial") as tx:
            return reader.serial(tx)

    def snapshot(self) -> RecordedState:
        """The whole recorded state the planner needs, read in one consistent transaction."""
        if not self._ready:
            return RecordedState()
        with self._read("reading the state") as tx:
            return reader.snapshot(tx)

    def step_run(self, cache_key: str) -> StepRun | None:
        if not self._ready:
            return None
        with self._read("reading a step run") as tx:
            return reader.step_run(tx, cache_key)

    def step_outputs(self, cache_keys: Collection[str]) -> dict[str, dict[str, str]]:
        """{cache key: {output name: digest}} for the recorded step runs among ``cache_keys``."""
        if not self._ready or not cache_keys:
            return {}
        with self._read("reading step runs") as tx:
            return reader.step_outputs(tx, cache_keys)

    def applies(
        self, *, model: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[ApplyRecord]:
        """Applies and reverts, newest first; ``model``: only those that changed that model."""
        if not self._ready:
            return []
        bound = None if since is None else normalize_since(since)
        with self._read("reading the apply history") as tx:
            return reader.applies(tx, model=model, since=bound, limit=limit)

    def apply_record(self, apply_id: int) -> ApplyRecord | None:
        if not self._ready:
            return None
        with self._read("reading the apply history") as tx:
            return reader.apply_record(tx, apply_id)

    def last_apply_id(
        self, *, kind: str | None = None, status: str | None = None, with_changes: bool = False
    ) -> int | None:
        """The newest apply matching the filters; ``with_changes``: only one that changed
        something (what a bare `mvctl revert` undoes)."""
        if not self._ready:
            return None
        with self._read("reading the apply history") as tx:
            return reader.last_apply_id(tx, kind=kind, status=status, with_changes=with_changes)

    def changes(
        self, *, apply_ids: Collection[int] | None = None, after_apply_id: int | None = None
    ) -> list[LoggedChange]:
        """Change-log rows in the order they were made (apply id, then seq)."""
        if not self._ready or (apply_ids is not None and not apply_ids):
            return []
        with self._read("reading the change log") as tx:
            return reader.changes(tx, apply_ids=apply_ids, after_apply_id=after_apply_id)

    def version_detail(self, model: str, label: str) -> VersionDetail | None:
        if not self._ready:
            return None
        with self._read("reading versions") as tx:
            details = reader.version_details(tx, model, label)
        return details[0] if details else None

    def version_value(self, model: str, label: str) -> dict[str, Any] | None:
        """The version as a ``Change`` value (``VersionDetail.value``), for a change's before."""
        detail = self.version_detail(model, label)
        return None if detail is None else detail.value()

    def pin_value(self, model: str, alias: str) -> dict[str, Any] | None:
        """The pin as a ``Change`` value: {"version", "revert_apply_id"}, or None."""
        if not self._ready:
            return None
        with self._read("reading a pin") as tx:
            return reader.pin_value(tx, model, alias)

    def policy_value(self) -> dict[str, Any] | None:
        """The policy in force as a ``Change`` value, or None while none is recorded."""
        if not self._ready:
            return None
        with self._read("reading the policy") as tx:
            recorded = reader.recorded_policy(tx)
        return None if recorded is None else dict(recorded.value)

    def versions_of(self, model: str) -> list[VersionDetail]:
        """Every recorded version of ``model``, in the order they were recorded."""
        if not self._ready:
            return []
        with self._read("reading versions") as tx:
            return reader.version_details(tx, model)

    def evaluation_result(
        self,
        model: str,
        label: str,
        dataset_digest: str,
        evaluation_hash: str,
        spec_hash: str | None = None,
    ) -> RecordedEvaluation | None:
        """The latest stored result of the version as trained now (or, with ``spec_hash``, as
        trained under that spec), on one dataset."""
        if not self._ready:
            return None
        with self._read("reading evaluations") as tx:
            return evaluations.latest_result(
                tx, model, label, dataset_digest, evaluation_hash, spec_hash
            )

    def evaluations_of(self, model: str) -> list[EvaluationRecord]:
        """Every stored evaluation of ``model``, oldest first (reports, compare)."""
        if not self._ready:
            return []
        with self._read("reading evaluations") as tx:
            return evaluations.evaluations_of(tx, model)

    def referenced_digests(self) -> frozenset[str]:
        """Every blob the state refers to, in one snapshot; what `mvctl store gc` keeps."""
        if not self._ready:
            return frozenset()
        with self._read("reading the blobs the state refers to") as tx:
            return reader.referenced_digests(tx)

    # -- the lock ----------------------------------------------------------------------

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
        keeper = None if lease_s is None else LockKeeper(self._link, lease_s, utc_now)
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
            now = utc_now()
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
            dead = liveness.why_dead(holder, now=datetime.now(UTC), session_alive=alive)
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

    def _session_alive(self, tx: Tx, holder: LockInfo | None) -> bool | None:
        """PostgreSQL: whether ``holder``'s session still holds its advisory lock."""
        if holder is None or holder.session is None or self._link.backend.name != "postgresql":
            return None
        return state_lock.session_alive(tx, holder)

    def dead_holder_reason(self, holder: LockInfo) -> str | None:
        """Why ``holder`` is provably dead, or None while it may be alive (status, check)."""
        alive = None
        if self._ready:
            with self._read("reading the state lock") as tx:
                alive = self._session_alive(tx, holder)
        return liveness.why_dead(holder, now=datetime.now(UTC), session_alive=alive)

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

    def lock_holder(self) -> LockInfo | None:
        if not self._ready:
            return None
        with self._read("reading the state lock") as tx:
            return state_lock.read_holder(tx)

    def inventory(self) -> Inventory | None:
        """Every row, the change log and the lock in one snapshot (`state check`); None
        while the database has not been created."""
        if not self._ready:
            return None
        with self._read("reading the whole state") as tx:
            return inventory.inventory(tx)

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

    # -- writing -----------------------------------------------------------------------

    def begin_apply(
        self,
        *,
        kind: str,
        actor: str,
        plan_hash: str,
        expected_serial: int | None,
        reverts_apply_id: int | None = None,
    ) -> int:
        """Open an apply (or revert) record, refusing a plan made against another serial."""
        if kind not in APPLY_KINDS:
            raise ValueError(f"apply kind must be one of {APPLY_KINDS}, not {kind!r}")
        self._require_ready()
        self._ensure_lock_held()
        return self._get_writer().begin_apply(
            kind=kind,
            actor=actor,
            plan_hash=plan_hash,
            expected_serial=expected_serial,
            reverts_apply_id=reverts_apply_id,
            now=utc_now(),
        )

    def record(self, apply_id: int, changes: Sequence[Change]) -> int:
        """Write ``changes`` and their change-log rows and bump the serial, all or nothing.

        Returns the new serial. No changes: nothing is written and the serial stays, so a
        no-op apply never makes saved plans stale.
        """
        if not changes:
            return self.serial()
        self._require_ready()
        self._ensure_lock_held()
        return self._get_writer().record(apply_id, changes, utc_now())

    def finish_apply(self, apply_id: int, status: str, message: str | None = None) -> None:
        """Close an apply record with how it ended and the serial it left behind."""
        if status not in APPLY_END_STATUSES:
            raise ValueError(f"apply status must be one of {APPLY_END_STATUSES}, not {status!r}")
        self._require_ready()
        self._ensure_lock_held()
        self._get_writer().finish_apply(apply_id, status, message, utc_now())

    def close_interrupted_applies(self) -> list[int]:
        """Close as failed every apply left 'running' by a killed process; call holding the
        lock. A plain read first, so the usual case (none) writes nothing. The message names
        the takeover of the dead process's lock, if this process took it over."""
        self._require_ready()
        with self._read("reading the apply history") as tx:
            if not tx.rows(RUNNING_APPLIES):
                return []
        message = INTERRUPTED
        if self.takeover is not None:
            holder = self.takeover.holder
            message += (
                f"; its lock {holder.lock_id} ({holder.actor}, pid {holder.pid} on "
                f"{holder.host}) was taken over at {self.takeover.at}: {self.takeover.reason}"
            )
        return self._get_writer().close_interrupted(message, utc_now())

    def record_step_run(self, run: StepRun) -> None:
        """Remember a finished step. A cache key already recorded keeps its record unless the
        outputs differ: the step ran again because those were gone from the store, and later
        restores must find the new ones."""
        self._require_ready()
        self._ensure_lock_held()
        self._get_writer().record_step_run(
            {
                "cache_key": run.cache_key,
                "model": run.model,
                "step": run.step,
                "outputs_json": canonical_json(dict(run.outputs)),
                "inputs_json": run.inputs_json,
                "log_digest": run.log_digest,
                "duration_s": run.duration_s,
                "apply_id": run.apply_id,
                "created_at": utc_now(),
            }
        )


def _make_folder(folder: Path, display: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"cannot create the folder for the state database {display}: {exc}",
            fix="Check that the path is right and its parent folder is writable.",
        ) from exc
