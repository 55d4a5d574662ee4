"""mvctl plan: read config, state and digests; build the plan. Writes no state."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mvctl.core.comparison import MetricTable, plan_metric_tables
from mvctl.core.evaluation import resolve_evaluations
from mvctl.core.plan import Plan
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.core.resolve import resolve_model
from mvctl.workspace import Workspace, current_actor


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    state_url: str
    files_hashed: int
    metric_tables: tuple[MetricTable, ...] = ()
    """With ``metric_tables=True``: each version trained or promoted against its alias's now."""


def make_plan(
    workspace: Workspace, options: PlanOptions, *, metric_tables: bool = False
) -> PlanResult:
    """The plan for ``options.actor`` (None: the actor from the environment, as apply finds it)."""
    options = replace(options, actor=current_actor(options.actor))
    digests, env_digests, hashed = workspace.digests()
    state = workspace.open_state(create=False)
    try:
        recorded = state.snapshot()
    finally:
        state.close()
    missing = workspace.missing_artifacts(recorded)
    plan = build_plan(workspace.config, recorded, digests, env_digests, options, missing)
    tables: tuple[MetricTable, ...] = ()
    if metric_tables:
        resolved = {
            (name, label): version
            for name, model in workspace.config.models.items()
            for label, version in resolve_model(name, model, digests, env_digests).items()
        }
        evaluations = resolve_evaluations(workspace.config, resolved, digests, env_digests)
        tables = plan_metric_tables(plan, recorded, evaluations)
    return PlanResult(plan, state.display_url, hashed, tables)
