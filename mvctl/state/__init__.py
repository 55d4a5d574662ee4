"""The state edge: SQL tables declared through sqlmodel, SQLite or PostgreSQL, the lock, the
serial, alembic migrations. It hands the pure middle a read-only ``RecordedState`` and takes
writes as ``Change`` values, each committed with its change-log row in one transaction.
Reads, writes and the lock use the driver directly (``connection``, ``reader``, ``writer``,
``lock``); SQLAlchemy is imported only to migrate (``migrating``), so no other command pays for it.

Its two ports, which the ops name in their signatures:

* ``StateReader``: everything plan, status, show, history, report and check read. Opened
  with ``Workspace.open_state(create=False)`` it is a ``ReadOnlyStateDB`` (``reading.py``),
  which has no write method at all;
* ``StateWriter``: the reads, plus the lock and the writes apply and revert make. Opened
  with ``create=True`` it is a ``StateDB`` (``db.py``: writes; ``locking.py``: the lock).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from mvctl.core.monitoring import MonitorSample
    from mvctl.core.recorded import (
        Change,
        Firing,
        LoggedChange,
        RecordedEvaluation,
        RecordedOverview,
        RecordedState,
        StepRun,
    )
    from mvctl.core.records import PinRecord, PolicyRecord, VersionRecord
    from mvctl.results.records import ApplyRecord, EvaluationRecord, LockInfo, VersionDetail
    from mvctl.state.inventory import Inventory
    from mvctl.state.lock import Takeover


class StateReader(Protocol):
    """The recorded state, read; a missing or empty database reads as empty."""

    display_url: str

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def serial(self) -> int: ...
    def snapshot(self) -> RecordedState: ...
    def overview(self, model: str | None = None) -> RecordedOverview: ...
    def step_run(self, cache_key: str) -> StepRun | None: ...
    def step_outputs(self, cache_keys: Collection[str]) -> dict[str, dict[str, str]]: ...
    def version_detail(self, model: str, label: str) -> VersionDetail | None: ...
    def version_value(self, model: str, label: str) -> VersionRecord | None: ...
    def versions_of(self, model: str) -> list[VersionDetail]: ...
    def pin_value(self, model: str, alias: str) -> PinRecord | None: ...
    def policy_value(self) -> PolicyRecord | None: ...
    def evaluation_result(
        self,
        model: str,
        label: str,
        dataset_digest: str,
        evaluation_hash: str,
        spec_hash: str | None = None,
    ) -> RecordedEvaluation | None: ...
    def evaluations_of(self, model: str) -> list[EvaluationRecord]: ...
    def monitor_samples(self, model: str, alias: str | None = None) -> list[MonitorSample]: ...
    def referenced_digests(self) -> frozenset[str]: ...
    def artifact_check(self, key: str) -> str | None: ...
    def applies(
        self,
        *,
        model: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[ApplyRecord]: ...
    def apply_record(self, apply_id: int) -> ApplyRecord | None: ...
    def last_apply_id(
        self, *, kind: str | None = None, status: str | None = None, with_changes: bool = False
    ) -> int | None: ...
    def changes(
        self, *, apply_ids: Collection[int] | None = None, after_apply_id: int | None = None
    ) -> list[LoggedChange]: ...
    def inventory(self) -> Inventory | None: ...
    def trigger_firings(self) -> list[Firing]: ...
    def lock_holder(self) -> LockInfo | None: ...
    def dead_holder_reason(self, holder: LockInfo) -> str | None: ...


class StateWriter(StateReader, Protocol):
    """The reads, the state lock, and the writes; every write needs the lock held."""

    takeover: Takeover | None
    """The dead holder whose lock ``acquire_lock`` took over, if it did."""

    def acquire_lock(
        self,
        operation: str,
        actor: str,
        *,
        timeout_s: float = 0.0,
        lease_s: float | None = ...,
    ) -> str: ...
    def release_lock(self, lock_id: str) -> None: ...
    def force_unlock(self, lock_id: str) -> LockInfo: ...
    def migrate(self) -> tuple[str | None, str]: ...
    def begin_apply(
        self,
        *,
        kind: str,
        actor: str,
        plan_hash: str,
        expected_serial: int | None,
        reverts_apply_id: int | None = None,
    ) -> int: ...
    def record(self, apply_id: int, changes: Sequence[Change]) -> int: ...
    def finish_apply(self, apply_id: int, status: str, message: str | None = None) -> None: ...
    def close_interrupted_applies(self) -> list[int]: ...
    def record_step_run(self, run: StepRun) -> None: ...
    def record_firing(self, firing: Firing, write: Callable[[], None]) -> bool: ...
    def record_sample(self, sample: MonitorSample) -> int: ...
    def record_artifact_check(self, key: str, digest: str, kind: str) -> None: ...
