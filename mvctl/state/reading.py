"""``ReadOnlyStateDB``: the state opened to read — the snapshot, history, versions, results.

Plan, status, show, history and report open the state this way (``Workspace.open_state``
with ``create=False``): that creates no file and no table, and a missing database reads as
empty, because a plan is pure. The object has no write and no lock method, so the read path
cannot call one; ``StateDB`` (``state/db.py``) adds them for apply and revert.

Every read is one transaction on the driver's own connection (``connection``), plain SQL
from ``reader``; SQLAlchemy is not imported. Everything returned is a plain value.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from mvctl import clock
from mvctl.core.monitoring import MonitorSample
from mvctl.core.recorded import (
    Firing,
    LoggedChange,
    RecordedEvaluation,
    RecordedOverview,
    RecordedState,
    StepRun,
)
from mvctl.core.records import PinRecord, PolicyRecord, VersionRecord
from mvctl.errors import UsageError
from mvctl.results.records import ApplyRecord, EvaluationRecord, LockInfo, VersionDetail
from mvctl.state import evaluations, inventory, liveness, reader, samples, schema
from mvctl.state import lock as state_lock
from mvctl.state.connection import Link, Tx
from mvctl.state.inventory import Inventory
from mvctl.state.url import parse_state_url


def normalize_since(since: str) -> str:
    """A date or date-time bound as stored text, so it compares as a string on both backends."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise UsageError(
            f"'{since}' is not a date or time",
            fix="Give an ISO date or time such as 2026-11-29 or 2026-11-29T08:30:00Z.",
        ) from exc
    return clock.stamp(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


class ReadOnlyStateDB:
    """The recorded state, read: a snapshot for the planner, and each record the commands show."""

    def __init__(self, link: Link):
        """Use ``open``, which finds out whether the schema is there and current."""
        self._link = link
        self._ready = False
        self._found_revision: str | None = None
        self.display_url = link.target.display

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Self:
        """Open the state at ``url`` to read. Nothing is written: a SQLite file that does not
        exist is not created, and a database without the mvctl schema reads as empty."""
        target = parse_state_url(url)
        db = cls(Link(target, wal=False))
        path = target.sqlite_path
        # Touching a missing SQLite file would create it: don't.
        if (path is not None and not path.exists()) or target.in_memory:
            return db
        try:
            found = db._find_schema()
            if found is not None and not db._ready:
                raise schema.needs_migrate_error(found, db.display_url)
        except BaseException:
            db.close()
            raise
        return db

    def _find_schema(self) -> str | None:
        """The schema's revision (None: no mvctl schema), refused when unknown; the state is
        ready to use when it is the head revision."""
        with self._read("opening the state") as tx:
            found = schema.current_revision(tx)
        schema.check_known(found, self.display_url)
        self._found_revision = found
        self._ready = found == schema.HEAD_REVISION
        return found

    def close(self) -> None:
        self._link.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, doing: str) -> AbstractContextManager[Tx]:
        """One consistent read: a single snapshot even across several SELECTs."""
        return self._link.transaction(doing, write=False)

    # -- the recorded state --------------------------------------------------------------

    def serial(self) -> int:
        if not self._ready:
            return 0
        with self._read("reading the serial") as tx:
            return reader.serial(tx)

    def artifact_check(self, key: str) -> str | None:
        """The format recorded when the model file under ``key`` passed its safe-format check;
        None when it never did (or the state is empty)."""
        if not self._ready:
            return None
        with self._read("reading an artifact check") as tx:
            row = tx.first("SELECT format FROM artifact_checks WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def snapshot(self) -> RecordedState:
        """The whole recorded state the planner needs, read in one consistent transaction."""
        if not self._ready:
            return RecordedState()
        with self._read("reading the state") as tx:
            return reader.snapshot(tx)

    def overview(self, model: str | None = None) -> RecordedOverview:
        """What `mvctl status` shows; ``model``: that model's rows only."""
        if not self._ready:
            return RecordedOverview()
        with self._read("reading the state") as tx:
            return reader.overview(tx, model)

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

    def version_detail(self, model: str, label: str) -> VersionDetail | None:
        if not self._ready:
            return None
        with self._read("reading versions") as tx:
            details = reader.version_details(tx, model, label)
        return details[0] if details else None

    def version_value(self, model: str, label: str) -> VersionRecord | None:
        """The version's record, a change's before value."""
        detail = self.version_detail(model, label)
        return None if detail is None else detail.record()

    def versions_of(self, model: str) -> list[VersionDetail]:
        """Every recorded version of ``model``, in the order they were recorded."""
        if not self._ready:
            return []
        with self._read("reading versions") as tx:
            return reader.version_details(tx, model)

    def pin_value(self, model: str, alias: str) -> PinRecord | None:
        if not self._ready:
            return None
        with self._read("reading a pin") as tx:
            return reader.pin_value(tx, model, alias)

    def policy_value(self) -> PolicyRecord | None:
        """The policy in force, or None while none is recorded."""
        if not self._ready:
            return None
        with self._read("reading the policy") as tx:
            recorded = reader.recorded_policy(tx)
        return None if recorded is None else PolicyRecord.from_json(recorded.value)

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

    def monitor_samples(self, model: str, alias: str | None = None) -> list[MonitorSample]:
        """The monitor samples of one alias of ``model`` (or all of them), oldest first."""
        if not self._ready:
            return []
        with self._read("reading monitor samples") as tx:
            return samples.samples_of(tx, model, alias)

    def referenced_digests(self) -> frozenset[str]:
        """Every blob the state refers to, in one snapshot; what `mvctl store gc` keeps."""
        if not self._ready:
            return frozenset()
        with self._read("reading the blobs the state refers to") as tx:
            return reader.referenced_digests(tx)

    def trigger_firings(self) -> list[Firing]:
        """Every recorded trigger firing, oldest first."""
        if not self._ready:
            return []
        with self._read("reading trigger firings") as tx:
            return reader.trigger_firings(tx)

    # -- history -------------------------------------------------------------------------

    def applies(
        self,
        *,
        model: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[ApplyRecord]:
        """Applies and reverts, newest first; ``model``: only those that changed that model;
        ``before``: only those older than that apply id (the next page)."""
        if not self._ready:
            return []
        bound = None if since is None else normalize_since(since)
        with self._read("reading the apply history") as tx:
            return reader.applies(tx, model=model, since=bound, limit=limit, before=before)

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

    def inventory(self) -> Inventory | None:
        """Every row, the change log and the lock in one snapshot (`state check`); None
        while the database has not been created."""
        if not self._ready:
            return None
        with self._read("reading the whole state") as tx:
            return inventory.inventory(tx)

    # -- the lock, as it stands ----------------------------------------------------------

    def lock_holder(self) -> LockInfo | None:
        if not self._ready:
            return None
        with self._read("reading the state lock") as tx:
            return state_lock.read_holder(tx)

    def dead_holder_reason(self, holder: LockInfo) -> str | None:
        """Why ``holder`` is provably dead, or None while it may be alive (status, check)."""
        alive = None
        if self._ready:
            with self._read("reading the state lock") as tx:
                alive = self._session_alive(tx, holder)
        return liveness.why_dead(holder, now=clock.now(), session_alive=alive)

    def _session_alive(self, tx: Tx, holder: LockInfo | None) -> bool | None:
        """PostgreSQL: whether ``holder``'s session still holds its advisory lock."""
        if holder is None or holder.session is None or self._link.backend.name != "postgresql":
            return None
        return state_lock.session_alive(tx, holder)
