"""mvctl apply: lock, plan, confirm, run the actions, unlock.

With a saved plan, apply still plans: it recomputes the plan with the options the file
records and runs it only if it equals the file (``ops.saved_plan``); nothing is ever run
from the file itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mvctl import clock, faults
from mvctl.apply.applier import run_actions
from mvctl.apply.processes import ProcessGroups
from mvctl.apply.promotion import roll_back_failed_models
from mvctl.apply.ray_executor import RaySteps, parse_executor
from mvctl.apply.resources import Machine, ResourcePool, resource_errors
from mvctl.apply.session import ApplyEvents, ApplySession
from mvctl.core.evaluation import resolve_evaluations
from mvctl.core.lineage import resolve_as_recorded
from mvctl.core.plan import Plan, RegisterArtifact, TrainVersion
from mvctl.core.planner import PlanOptions
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import ResolvedVersion, resolve_model, torch_module
from mvctl.errors import ConflictError, SpecErrors, StaleStateError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import (
    acquire_lock,
    close_failed,
    close_interrupted,
    release_lock,
    work_folder,
)
from mvctl.ops.plan import plan_against
from mvctl.ops.saved_plan import SavedPlan, check_promise, load_saved_plan
from mvctl.results.apply import ApplyResult, ApplyStatus
from mvctl.spec.quantities import parse_duration
from mvctl.state.locking import DEFAULT_LEASE_S
from mvctl.workspace import Workspace, current_actor


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
    alerts = Alerts(workspace, "apply", actor, state.serial)
    processes = ProcessGroups()
    ray_steps: RaySteps | None = None
    apply_id: int | None = None
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
        machine = Machine.this()
        _check_resources(workspace, plan, resolved, machine)
        store = workspace.open_store()
        if _writes_blobs(plan):
            store.check_writable()
        if not options.auto_approve and not confirm(plan):
            return ApplyResult(plan, "declined")
        ray_steps = _ray_steps(workspace, options)
        if ray_steps is not None:
            ray_steps.connect()
            processes.also_stop(ray_steps.stop)
        apply_id = state.begin_apply(
            kind="apply", actor=actor, plan_hash=plan.hash, expected_serial=plan.serial
        )
        alerts.started(apply_id, plan)
        session = ApplySession(
            root=workspace.root,
            store=store,
            state=state,
            apply_id=apply_id,
            actor=actor,
            resolved=resolved,
            trusted_types={
                name: tuple(m.trusted_types) for name, m in workspace.config.models.items()
            },
            events=events,
            clock=clock.now_stamp,
            work_root=work_folder(workspace, apply_id),
            pool=ResourcePool(machine, options.parallel or machine.cpus),
            evaluations=resolve_evaluations(workspace.config, resolved, digests, env_digests),
            health_checks={
                name: m.health_check
                for name, m in workspace.config.models.items()
                if m.health_check
            },
            health_timeouts={
                name: parse_duration(m.health_check_timeout)
                for name, m in workspace.config.models.items()
            },
            torch_modules={name: torch_module(m) for name, m in workspace.config.models.items()},
            processes=processes,
            digest_cache=workspace.digest_cache(),
        )
        if ray_steps is not None:
            session.step_runner = ray_steps.run_step
        outcomes = roll_back_failed_models(
            session,
            run_actions(session, plan.actions),
            {name for name, m in workspace.config.models.items() if m.on_failure == "rollback"},
        )
        faults.reached("actions_done")
        shutil.rmtree(session.work_root, ignore_errors=True)
        status: ApplyStatus = "failed" if any(o.status != "done" for o in outcomes) else "succeeded"
        state.finish_apply(apply_id, status)
        faults.reached("apply_finished")
        alerts.finished(apply_id, status, outcomes)
        return ApplyResult(plan, status, apply_id, outcomes)
    except BaseException as error:
        # Interrupted (SIGINT, SIGTERM) or failed: no step outlives the apply, nor its folder.
        processes.stop()
        if apply_id is not None:
            shutil.rmtree(work_folder(workspace, apply_id), ignore_errors=True)
            alerts.failed(apply_id, error)
            stopped = close_failed(state, apply_id, error)
            if stopped is not error:
                raise stopped from error
        raise
    finally:
        try:
            processes.close()
            if ray_steps is not None:
                ray_steps.close()
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _ray_steps(workspace: Workspace, options: ApplyOptions) -> RaySteps | None:
    """The Ray executor when `--executor` or else the config's `executor:` asks for it."""
    if options.executor is not None:
        kind, address = parse_executor(options.executor)
    else:
        kind, address = workspace.config.executor.type, workspace.config.executor.address
    return RaySteps(address) if kind == "ray" and address is not None else None


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


def _check_resources(
    workspace: Workspace,
    plan: Plan,
    resolved: dict[tuple[str, str], ResolvedVersion],
    machine: Machine,
) -> None:
    """Refuse, before anything runs, a step to train that asks more than this machine has."""
    training = [resolved[(a.model, a.label)] for a in plan.actions if isinstance(a, TrainVersion)]
    errors = resource_errors(workspace.loaded, training, machine)
    if errors:
        raise SpecErrors(errors)


def _writes_blobs(plan: Plan) -> bool:
    """Whether applying ``plan`` puts anything into the store (a step to run, an artifact)."""
    return any(
        isinstance(action, RegisterArtifact)
        or (isinstance(action, TrainVersion) and action.steps_to_run)
        for action in plan.actions
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
