"""What `mvctl reproduce` found: each step re-run from the record, the model, the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mvctl.core.reproduction import MetricCheck, OutputCheck

InputSource = Literal["store", "working_tree"]
StepStatus = Literal["match", "differs", "failed", "not_run"]


@dataclass(frozen=True)
class RestoredFile:
    """A dep file put into the scratch project, and where it came from."""

    step: str
    path: str
    digest: str
    source: InputSource
    why: str
    """Why that source: 'kept in the store', or why the working tree's copy had to do."""


@dataclass(frozen=True)
class StepRerun:
    """One step re-run in the scratch project, its outputs against the record's."""

    step: str
    key: str
    status: StepStatus
    outputs: tuple[OutputCheck, ...]
    message: str = ""
    """Why it failed or did not run; empty when it ran to the end."""
    log_tail: str = ""


@dataclass(frozen=True)
class DatasetRescore:
    """The re-run's model scored on one dataset the record holds metrics for."""

    dataset: str
    digest: str
    metrics: tuple[MetricCheck, ...]
    skipped: str = ""
    """Why it was not scored again (its data or settings are not in the config any more, its
    step did not reproduce); empty when it was."""


@dataclass(frozen=True)
class ReproduceResult:
    model: str
    label: str
    status: Literal["match", "differs"]
    recorded_artifact: str
    reproduced_artifact: str | None
    steps: tuple[StepRerun, ...]
    restored: tuple[RestoredFile, ...]
    datasets: tuple[DatasetRescore, ...]
    notes: tuple[str, ...] = ()
    """Inputs the record cannot restore, said once each: an `env:` variable whose value now
    differs from the one recorded (only its digest is kept)."""

    @property
    def reference(self) -> str:
        return f"{self.model}@{self.label}"

    @property
    def first_difference(self) -> str | None:
        """The first step, in run order, whose outputs differ or that failed."""
        return next((s.step for s in self.steps if s.status in ("differs", "failed")), None)

    @property
    def differing_metrics(self) -> tuple[tuple[str, MetricCheck], ...]:
        return tuple(
            (dataset.dataset, check)
            for dataset in self.datasets
            for check in dataset.metrics
            if check.status == "differs"
        )
