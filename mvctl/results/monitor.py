"""What `mvctl monitor` and `mvctl history --monitor` found: samples and rule verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mvctl.core.monitoring import MonitorSample, MonitorStatus, RuleVerdict
from mvctl.results.trigger import TriggerOutcome

RollbackStatus = Literal["done", "refused", "impossible"]


@dataclass(frozen=True)
class MonitorRollback:
    """What `on_degraded: rollback` did: moved the alias back, or why it could not."""

    status: RollbackStatus
    from_version: str
    to_version: str | None
    apply_id: int | None
    message: str


@dataclass(frozen=True)
class MonitorResult:
    sample: MonitorSample
    """The sample just recorded."""
    status: MonitorStatus
    verdicts: tuple[RuleVerdict, ...]
    on_degraded: str | None
    """The model's `monitoring.on_degraded`; None when it declares no monitoring."""
    rollback: MonitorRollback | None
    trigger: TriggerOutcome | None = None
    """`on_degraded: trigger NAME`, once a rule broke: what the trigger did."""


@dataclass(frozen=True)
class SampleVerdicts:
    """A stored sample with the rules decided on it and the samples before it."""

    sample: MonitorSample
    status: MonitorStatus
    verdicts: tuple[RuleVerdict, ...]


@dataclass(frozen=True)
class MonitorHistory:
    model: str
    alias: str
    rules: tuple[str, ...]
    samples: tuple[SampleVerdicts, ...]
    """Oldest first."""
