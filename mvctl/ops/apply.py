"""mvctl apply: lock, plan, confirm, run the actions, unlock.

With a saved plan, apply still plans: it recomputes the plan with the options the file
records and runs it only if it equals the file (``ops.saved_plan``); nothing is ever run
from the file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mvctl import faults
from mvctl.actor import current_actor
from mvctl.core.lineage import resolve_as_recorded
from mvctl.core.plan import Plan
from mvctl.core.planner import PlanOptions
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import ResolvedVersion, resolve_model
from mvctl.errors import ConflictError, StaleStateError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import acquire_lock, close_interrupted, release_lock
from mvctl.ops.plan import plan_against
from mvctl.ops.saved_plan import SavedPlan, check_promise, load_saved_plan
from mvctl.results.apply import ApplyResult
from mvctl.state.locking import DEFAULT_LEASE_S
from mvctl.workspace import Workspace

if TYPE_CHECKING:
    from mvctl.apply.session import ApplyEvents


@dataclass(frozen=True)
class ApplyOptions:
    plan_file: Path | None = None
    auto_approve: bool = False
    plan_options: PlanOptions = field(default_factory=PlanOptions)
    lock_timeout_s: float = 0.0
    lock_lease_s: float = DEFAULT_LEASE_S
    parallel: int | None = None
    """Steps run at once across the whole apply; None: one per CPU."""
    executor: str | None = None
    """`local`, `ray` or `ray:ADDRESS` (`--executor`); None: the config's `executor:`."""


def apply(
    workspace: Workspace,
    options: ApplyOptions,
    *,
    confirm: Callable[[Plan], bool],
    events: ApplyEvents,
) -> ApplyResult:
    saved = load_saved_plan(options.plan_file) if options.plan_file else None
    plan_options = options.plan_options
    if saved is not None:
        _check_saved_plan_fits(saved, workspace, plan_options)
        plan_options = saved.options
    digests, env_digests, _ = workspace.digests()
    workspace.check_registered_artifacts(digests)
    actor = current_actor(options.plan_options.actor)
    state = workspace.open_state(create=True)
    lock_id = acquire_lock(
        state, "apply", actor, timeout_s=options.lock_timeout_s, lease_s=options.lock_lease_s
    )
    faults.reached("lock_taken")
    alerts = Alerts(workspace.config.notifications, workspace, "apply", actor, state.serial)
    try:
        close_interrupted(state, workspace)
        recorded = state.snapshot()
        if saved is not None and saved.serial != recorded.serial:
            raise StaleStateError(
                f"the state moved from serial {saved.serial} to {recorded.serial} since this plan was made",
                fix="Run `mvctl plan` again and review the new plan.",
            )
        declared = {
            name: resolve_model(name, model, digests, env_digests)
            for name, model in workspace.config.models.items()
        }
        resolved = _resolve_as_recorded(declared, recorded)
        plan = plan_against(
            workspace,
            state,
            recorded,
            digests,
            env_digests,
            replace(plan_options, actor=actor),
            declared,
        )
        conflicts = plan.conflicts
        if saved is not None and not any(c.kind == "not_allowed" for c in conflicts):
            check_promise(saved, plan)
        if conflicts:
            alerts.conflict(conflicts)
            raise ConflictError(
                f"the plan has {len(conflicts)} conflict(s), so nothing was applied: "
                + "; ".join(f"{c.kind} {c.target}: {c.message}" for c in conflicts[:3])
                + (f" (+{len(conflicts) - 3} more)" if len(conflicts) > 3 else ""),
                fix="Run `mvctl plan` to see each conflict and how to resolve it.",
            )
        if not plan.has_changes:
            return ApplyResult(plan, "no_changes")
        # The applier and the step machinery are loaded only when there is work to do.
        from mvctl.ops.apply_run import run_plan

        return run_plan(
            workspace,
            state,
            plan,
            auto_approve=options.auto_approve,
            parallel=options.parallel,
            executor=options.executor,
            resolved=resolved,
            digests=digests,
            env_digests=env_digests,
            actor=actor,
            alerts=alerts,
            confirm=confirm,
            events=events,
        )
    finally:
        try:
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _check_saved_plan_fits(
    saved: SavedPlan, workspace: Workspace, plan_options: PlanOptions
) -> None:
    """The file is for this project, and the command line asks for nothing it does not record."""
    if saved.project != workspace.config.project:
        raise UsageError(
            f"the plan is for project {saved.project!r}, not {workspace.config.project!r}",
            fix="Run apply in the project the plan was made for.",
        )
    if plan_options not in (PlanOptions(), saved.options):
        raise UsageError(
            f"{saved.path} was planned with other options than this command line gives "
            "(--target, --on-conflict, --retry-failed, --refresh-only)",
            fix="Apply the file without those options (it records its own), or make a new plan "
            "with them: `mvctl plan --out FILE ...`.",
        )


def _resolve_as_recorded(
    declared: dict[str, dict[str, ResolvedVersion]], recorded: RecordedState
) -> dict[tuple[str, str], ResolvedVersion]:
    """Every declared version as the plan takes it: trained ones whose recipe is unchanged as
    recorded (their evaluation data is their own step's output), the others as declared."""
    resolved: dict[tuple[str, str], ResolvedVersion] = {}
    for name, versions in declared.items():
        for label, version in resolve_as_recorded(name, versions, recorded.versions).items():
            resolved[(name, label)] = version
    return resolved
