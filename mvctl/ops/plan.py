"""mvctl plan: read config, state and digests; build the plan. Writes no state."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.plan import Plan
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.workspace import Workspace


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    state_url: str
    files_hashed: int


def make_plan(workspace: Workspace, options: PlanOptions) -> PlanResult:
    digests, env_digests, hashed = workspace.digests()
    state = workspace.open_state(create=False)
    try:
        recorded = state.snapshot()
    finally:
        state.close()
    plan = build_plan(workspace.config, recorded, digests, env_digests, options)
    return PlanResult(plan, state.display_url, hashed)
