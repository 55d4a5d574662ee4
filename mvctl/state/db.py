"""``StateDB``: the state opened to write — what apply, revert and the lock commands use.

It is the reads (``ReadOnlyStateDB``, ``state/reading.py``) and the lock
(``LockingStateDB``, ``state/locking.py``), plus the writes: opening with ``create=True``
creates and migrates the database, and each write records ``Change`` values with their
change-log rows. Writes run in plain SQL on the reads' connection (``writer``); only a
migration imports SQLAlchemy, sqlmodel and alembic (``migrating``), which together take longer
to import than a whole revert may. Every write is one short transaction that takes the
writer's lock up front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from mvctl import clock
from mvctl.core.hashing import canonical_json
from mvctl.core.monitoring import MonitorSample
from mvctl.core.recorded import Change, Firing, StepRun
from mvctl.errors import StateError
from mvctl.results.records import ApplyRecord, EvaluationRecord, LockInfo, VersionDetail
from mvctl.state import schema
from mvctl.state.connection import Link
from mvctl.state.lock import Takeover
from mvctl.state.locking import DEFAULT_LEASE_S, LockingStateDB
from mvctl.state.reading import normalize_since
from mvctl.state.sqlite_head import create_at_head
from mvctl.state.url import parse_state_url
from mvctl.state.writer import Writer

__all__ = [
    "DEFAULT_LEASE_S",
    "ApplyRecord",
    "EvaluationRecord",
    "LockInfo",
    "StateDB",
    "Takeover",
    "VersionDetail",
    "normalize_since",
]

APPLY_KINDS = ("apply", "revert", "rollback")
APPLY_END_STATUSES = ("succeeded", "failed", "partial")
RUNNING_APPLIES = "SELECT id FROM applies WHERE status = 'running'"
INTERRUPTED = "interrupted: its process ended while it held the lock (killed or crashed)"


class StateDB(LockingStateDB):
    """The state database to write: the reads, the lock, and the changes apply and revert make."""

    def __init__(self, link: Link):
        """Use ``StateDB.open``, which finds out whether the schema is there and current."""
        super().__init__(link)
        self._writer = Writer(link)

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Self:
        """Open the state at ``url``; with ``create``, create and migrate it as needed.

        Without ``create`` it opens as ``ReadOnlyStateDB.open`` does, nothing written.
        """
        if not create:
            return super().open(url)
        target = parse_state_url(url)
        if target.in_memory:
            raise StateError(
                f"the state URL '{target.display}' is an in-memory SQLite database, which is "
                "gone when mvctl exits, so nothing written to it would be recorded",
                fix="Point `state:` in mvctl.yaml (or MVCTL_STATE) at a file, such as "
                "sqlite:///.mvctl/state.db, or at a PostgreSQL database.",
            )
        if target.sqlite_path is not None:
            _make_folder(target.sqlite_path.parent, target.display)
        db = cls(Link(target, wal=True))
        try:
            found = db._find_schema()
            if found is None and target.sqlite_path is not None and create_at_head(db._link):
                db._ready = True  # built at head; it held no schema when opened
            elif found != schema.HEAD_REVISION:
                db._migrate_to_head()
        except BaseException:
            db.close()
            raise
        return db

    def migrate(self) -> tuple[str | None, str]:
        """Bring the schema to head: (the revision this database was at when opened, head).

        ``open(create=True)`` already migrates, so ``mvctl state migrate`` opens that way and
        reports the revision found at open time.
        """
        if not self._ready:
            self._migrate_to_head()
        return self._found_revision, schema.HEAD_REVISION

    def _migrate_to_head(self) -> None:
        # Imported here: SQLAlchemy and alembic take longer to import than a revert may.
        from mvctl.state.migrating import migrate_to_head

        migrate_to_head(self._link)
        self._ready = True

    def close(self) -> None:
        self._stop_keeping()
        super().close()

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
        return self._writer.begin_apply(
            kind=kind,
            actor=actor,
            plan_hash=plan_hash,
            expected_serial=expected_serial,
            reverts_apply_id=reverts_apply_id,
            now=clock.now_stamp(),
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
        return self._writer.record(apply_id, changes, clock.now_stamp())

    def finish_apply(self, apply_id: int, status: str, message: str | None = None) -> None:
        """Close an apply record with how it ended and the serial it left behind."""
        if status not in APPLY_END_STATUSES:
            raise ValueError(f"apply status must be one of {APPLY_END_STATUSES}, not {status!r}")
        self._require_ready()
        self._ensure_lock_held()
        self._writer.finish_apply(apply_id, status, message, clock.now_stamp())

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
        return self._writer.close_interrupted(message, clock.now_stamp())

    def record_artifact_check(self, key: str, digest: str, kind: str) -> None:
        """Remember that the model file ``digest`` passed its safe-format check under ``key``.
        A cache beside the recorded state: plain SQL, no serial bump, no change-log row."""
        self._require_ready()
        with self._link.transaction("recording an artifact check", write=True) as tx:
            tx.execute(
                "INSERT INTO artifact_checks (key, digest, format, checked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, digest, kind, clock.now_stamp()),
            )

    def record_step_run(self, run: StepRun) -> None:
        """Remember a finished step. A cache key already recorded keeps its record unless the
        outputs differ: the step ran again because those were gone from the store, and later
        restores must find the new ones."""
        self._require_ready()
        self._ensure_lock_held()
        self._writer.record_step_run(
            {
                "cache_key": run.cache_key,
                "model": run.model,
                "step": run.step,
                "outputs_json": canonical_json(dict(run.outputs)),
                "inputs_json": run.inputs_json,
                "log_digest": run.log_digest,
                "duration_s": run.duration_s,
                "apply_id": run.apply_id,
                "created_at": clock.now_stamp(),
            }
        )

    def record_firing(self, firing: Firing, write: Callable[[], None]) -> bool:
        """Record a trigger's firing and, in the same transaction, ``write`` what it proposes
        (the config edit): False, with nothing written, when that trigger already fired on that
        occasion (another run got there first). A ``write`` that raises records nothing.

        Triggers never train, so this needs no state lock and moves no serial.
        """
        self._require_ready()
        return self._writer.record_firing(
            {
                "model": firing.model,
                "trigger": firing.trigger,
                "kind": firing.kind,
                "occasion": firing.occasion,
                "period": firing.period,
                "digests_json": canonical_json(dict(firing.digests)),
                "label": firing.label,
                "source": firing.source,
                "file": firing.file,
                "fired_at": firing.fired_at,
                "actor": firing.actor,
            },
            write,
        )

    def record_sample(self, sample: MonitorSample) -> int:
        """Append a monitor sample (its ``id`` is ignored); the id it was stored under."""
        self._require_ready()
        self._ensure_lock_held()
        return self._writer.record_sample(
            {
                "model": sample.model,
                "alias": sample.alias,
                "version": sample.version,
                "spec_hash": sample.spec_hash,
                "taken_at": sample.taken_at,
                "recorded_at": sample.recorded_at,
                "actor": sample.actor,
                "dataset": sample.dataset,
                "dataset_digest": sample.dataset_digest,
                "rows": sample.rows,
                "labelled": sample.labelled,
                "metrics_json": canonical_json(dict(sample.metrics)),
                "status_json": canonical_json(dict(sample.metric_status)),
                "drift_json": canonical_json(dict(sample.drift)),
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
