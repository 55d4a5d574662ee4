"""What the state hands out about its records: versions, applies, evaluations, the lock.

The state reads its rows into these plain values (``mvctl.state``); ops put them into their
results and the renderers format them, so they live here, where render may read them without
importing the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvctl.core.records import VersionRecord


@dataclass(frozen=True, slots=True)
class ApplyRecord:
    """One apply or revert as history shows it."""

    id: int
    kind: str
    actor: str
    started_at: str
    finished_at: str | None
    plan_hash: str
    status: str
    message: str | None
    serial_before: int
    serial_after: int | None
    reverts_apply_id: int | None
    change_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionDetail(VersionRecord):
    """A recorded version with its model and label (for show, logs, reports and revert)."""

    model: str
    label: str


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds the state lock, doing what, from which process, since when; and what proves
    it alive (None for a lock taken by hand, or by an mvctl from before the proofs)."""

    lock_id: str
    actor: str
    operation: str
    pid: int
    host: str
    acquired_at: str
    process: str | None = None
    """The holder process's identity on its machine (``liveness.process_identity``)."""
    heartbeat_at: str | None = None
    """When the holder last said it is alive; past ``lease_s`` later it counts as dead."""
    lease_s: float | None = None
    session: int | None = None
    """PostgreSQL: the backend pid of the holder's session that keeps the advisory lock."""

    def describe(self) -> str:
        return (
            f"{self.actor} ({self.operation}, pid {self.pid} on {self.host}) since "
            f"{self.acquired_at}, lock id {self.lock_id}"
        )

    @property
    def provable(self) -> bool:
        """Whether the holder recorded anything that can prove it dead."""
        return self.heartbeat_at is not None


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    """One stored evaluation with its JSON decoded, for show, compare and reports."""

    id: int
    model: str
    label: str
    spec_hash: str
    dataset_digest: str
    evaluation_hash: str
    dataset: str
    status: str
    metrics: Mapping[str, Any]
    metric_status: Mapping[str, str]
    details: Mapping[str, Any]
    message: str | None
    evaluator_version: str
    created_at: str
    apply_id: int | None
