"""What the HTML report shows, gathered from the state and the config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvctl.core.monitoring import MonitorSample
from mvctl.results.history import HistoryEntry
from mvctl.results.records import EvaluationRecord, VersionDetail


@dataclass(frozen=True)
class ModelReport:
    name: str
    task: str
    description: str | None
    metrics: tuple[str, ...]
    versions: tuple[VersionDetail, ...]
    """In the order they were recorded (the x axis of the trends)."""
    aliases: tuple[tuple[str, str], ...]
    """(alias, version), by alias."""
    results: tuple[EvaluationRecord, ...]
    """The latest successful result per (version, dataset), current settings only."""
    samples: tuple[MonitorSample, ...] = ()
    """Every monitor sample of the model's aliases, oldest first."""
    rules: tuple[str, ...] = ()
    """The model's monitoring rules (their absolute bounds are drawn)."""
    gates: tuple[str, ...] = ()
    """The model's evaluation gates (their bounds are drawn on the trends)."""


@dataclass(frozen=True)
class ReportData:
    project: str
    state_url: str
    serial: int
    generated_at: str
    models: tuple[ModelReport, ...]
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class ReportResult:
    """The page `mvctl report` wrote, and what it covers."""

    data: ReportData
    output: Path
    size: int
    """Bytes written."""
