"""A plan as `mvctl plan` shows it: the Plan value, and where it was saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvctl.core.comparison import MetricTable
from mvctl.core.plan import Plan


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    state_url: str
    files_hashed: int
    metric_tables: tuple[MetricTable, ...] = ()
    """With ``metric_tables=True``: each version trained or promoted against its alias's now."""
    saved_to: Path | None = None
    """The file `--out` wrote, for `mvctl apply FILE`."""
    signed: bool = False
    """Whether that file is signed with MVCTL_PLAN_KEY."""
