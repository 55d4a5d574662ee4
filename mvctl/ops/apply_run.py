"""mvctl apply, once the plan has changes: confirm, then run the actions and record them.

Apart from ``ops/apply.py`` so that a no-op apply, which stops at the plan, never loads the
applier, the scheduler, the promotion path or the Ray executor.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from mvctl import clock, faults
from mvctl.apply.applier import run_actions
from mvctl.apply.processes import ProcessGroups
from mvctl.apply.promotion import roll_back_failed_models
from mvctl.apply.ray_executor import RaySteps, parse_executor
from mvctl.apply.resources import Machine, ResourcePool, ray_train_errors, resource_errors
from mvctl.apply.session import ApplyEvents, ApplySession
from mvctl.core.evaluation import resolve_evaluations
from mvctl.core.plan import Plan, RegisterArtifact, TrainVersion
from mvctl.core.resolve import ResolvedVersion, torch_module
from mvctl.errors import SpecErrors
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import close_failed, work_folder
from mvctl.results.apply import ApplyResult, ApplyStatus
from mvctl.spec.quantities import parse_duration
from mvctl.state import StateWriter
from mvctl.workspace import Workspace


def run_plan(
    workspace: Workspace,
    state: StateWriter,
    plan: Plan,
    *,
    auto_approve: bool,
    parallel: int | None,
    executor: str | None,
    resolved: dict[tuple[str, str], ResolvedVersion],
    digests: dict[str, str],
    env_digests: dict[str, str],
    actor: str,
    alerts: Alerts,
    confirm: Callable[[Plan], bool],
    events: ApplyEvents,
) -> ApplyResult:
    """Run ``plan`` (it has changes) under the lock the caller holds and releases."""
    processes = ProcessGroups()
    ray_steps: RaySteps | None = None
    apply_id: int | None = None
    try:
        machine = Machine.this()
        ray_steps = _ray_steps(workspace, executor)
        _check_resources(workspace, plan, resolved, machine, on_ray=ray_steps is not None)
        store = workspace.open_store()
        if _writes_blobs(plan):
            store.check_writable()
        if not auto_approve and not confirm(plan):
            return ApplyResult(plan, "declined")
        if ray_steps is not None:
            ray_steps.connect(store)
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
            pool=ResourcePool(machine, parallel or machine.cpus),
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
            session.step_inputs_here = not ray_steps.fetches_inputs
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
        processes.close()
        if ray_steps is not None:
            ray_steps.close()


def _ray_steps(workspace: Workspace, executor: str | None) -> RaySteps | None:
    """The Ray executor when `--executor` or else the config's `executor:` asks for it."""
    if executor is not None:
        kind, address = parse_executor(executor)
    else:
        kind, address = workspace.config.executor.type, workspace.config.executor.address
    return RaySteps(address) if kind == "ray" and address is not None else None


def _check_resources(
    workspace: Workspace,
    plan: Plan,
    resolved: dict[tuple[str, str], ResolvedVersion],
    machine: Machine,
    *,
    on_ray: bool,
) -> None:
    """Refuse, before anything runs, a step to train that asks more than this machine has,
    or that trains on Ray Train workers without the Ray executor."""
    actions = [a for a in plan.actions if isinstance(a, TrainVersion)]
    training = [resolved[(a.model, a.label)] for a in actions]
    errors = resource_errors(workspace.loaded, training, machine)
    if not on_ray:
        to_run = {(a.model, a.label, s.name) for a in actions for s in a.steps_to_run}
        steps = [
            (v.model, s) for v in training for s in v.steps if (v.model, v.label, s.name) in to_run
        ]
        errors += ray_train_errors(workspace.loaded, steps)
    if errors:
        raise SpecErrors(errors)


def _writes_blobs(plan: Plan) -> bool:
    """Whether applying ``plan`` puts anything into the store (a step to run, an artifact)."""
    return any(
        isinstance(action, RegisterArtifact)
        or (isinstance(action, TrainVersion) and action.steps_to_run)
        for action in plan.actions
    )
