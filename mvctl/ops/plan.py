"""mvctl plan: read config, state and digests; build the plan. Writes no state; with ``out``,
saves the plan for `mvctl apply FILE` (``ops.saved_plan`` writes and reads that file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mvctl.actor import current_actor
from mvctl.core.comparison import MetricTable, plan_metric_tables
from mvctl.core.drift import artifacts_to_check
from mvctl.core.evaluation import resolve_evaluations
from mvctl.core.lineage import resolve_as_recorded
from mvctl.core.plan import Plan
from mvctl.core.planner import PlanOptions, build_plan, restored_step_keys
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import ResolvedVersion, resolve_model
from mvctl.ops.files import write_user_file
from mvctl.ops.saved_plan import plan_file_text
from mvctl.results.plan import PlanResult
from mvctl.state import StateReader
from mvctl.workspace import Workspace


def make_plan(
    workspace: Workspace,
    options: PlanOptions,
    *,
    metric_tables: bool = False,
    out: Path | None = None,
) -> PlanResult:
    """The plan for ``options.actor`` (None: the actor from the environment, as apply finds it),
    saved to ``out`` when given."""
    options = replace(options, actor=current_actor(options.actor))
    digests, env_digests, hashed = workspace.digests()
    workspace.check_registered_artifacts(digests)
    state = workspace.open_state(create=False)
    try:
        recorded = state.snapshot()
        plan = plan_against(workspace, state, recorded, digests, env_digests, options)
    finally:
        state.close()
    tables: tuple[MetricTable, ...] = ()
    if metric_tables:
        resolved = {
            (name, label): version
            for name, model in workspace.config.models.items()
            for label, version in resolve_as_recorded(
                name, resolve_model(name, model, digests, env_digests), recorded.versions
            ).items()
        }
        evaluations = resolve_evaluations(workspace.config, resolved, digests, env_digests)
        tables = plan_metric_tables(plan, recorded, evaluations)
    signed = False
    if out is not None:
        text, signed = plan_file_text(plan)
        write_user_file(out, text, "the plan")
    return PlanResult(plan, state.display_url, hashed, tables, out, signed)


def plan_against(
    workspace: Workspace,
    state: StateReader,
    recorded: RecordedState,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
    options: PlanOptions,
    declared: Mapping[str, Mapping[str, ResolvedVersion]] | None = None,
) -> Plan:
    """The plan against ``recorded``, told which blobs it relies on are gone from the store:
    artifacts that aliases need, and the outputs of the steps it would restore. Those are
    looked up one blob at a time (never a scan of the store), and only the steps of versions
    the plan trains, so a no-op plan costs no lookup. ``declared``: as ``build_plan`` takes it."""
    missing = workspace.missing_blobs(artifacts_to_check(workspace.config, recorded))
    bundles = workspace.bundle_sources(digests)
    plan = build_plan(
        workspace.config,
        recorded,
        digests,
        env_digests,
        options,
        missing,
        bundles=bundles,
        declared=declared,
    )
    restored = restored_step_keys(plan, recorded)
    if not restored:
        return plan
    outputs = state.step_outputs(restored)
    gone = (restored - outputs.keys()) | workspace.missing_step_outputs(outputs)
    if not gone:
        return plan
    # Steps that run instead of restoring only ever restore fewer: one more pass is exact.
    return build_plan(
        workspace.config, recorded, digests, env_digests, options, missing, gone, bundles, declared
    )
