"""Two versions scored on the same data, metric by metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mvctl.core.comparison import MetricDelta


@dataclass(frozen=True)
class VersionScores:
    reference: str
    source: Literal["stored", "computed"]
    metrics: Mapping[str, float | None]
    metric_status: Mapping[str, str]


@dataclass(frozen=True)
class DatasetComparison:
    dataset: str
    digest: str
    a: VersionScores
    b: VersionScores
    rows: tuple[MetricDelta, ...]
    """B against A: a positive delta means B's number is larger."""


@dataclass(frozen=True)
class CompareResult:
    a: str
    b: str
    datasets: tuple[DatasetComparison, ...]
