"""mvctl apply: lock, plan (or load a saved plan), confirm, run the actions, unlock."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mvctl import faults
from mvctl.apply.applier import (
    ActionOutcome,
    ApplyEvents,
    ApplySession,
    now_utc,
    roll_back_failed_models,
    run_actions,
)
from mvctl.core.evaluation import resolve_evaluations
from mvctl.core.plan import Plan, RegisterArtifact, TrainVersion
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.core.policy import plan_denials
from mvctl.core.resolve import ResolvedVersion, resolve_model
from mvctl.errors import ConflictError, StaleStateError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import close_failed, release_lock
from mvctl.workspace import Workspace, current_actor


@dataclass(frozen=True)
class ApplyOptions:
    plan_file: Path | None = None
    auto_approve: bool = False
    plan_options: PlanOptions = field(default_factory=PlanOptions)
    lock_timeout_s: float = 0.0
    parallel: int | None = None
    """Steps of one version run at once; None: one per CPU."""


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    status: str
    """'no_changes', 'declined', 'succeeded' or 'failed'."""
    apply_id: int | None = None
    outcomes: tuple[ActionOutcome, ...] = ()

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status != "done")


def load_plan_file(path: Path) -> Plan:
    try:
        return Plan.from_dict(json.loads(path.read_text("utf-8")))
    except OSError as error:
        raise UsageError(f"cannot read plan file {path}: {error.strerror}") from error
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"{path} is not a valid mvctl plan: {error}",
            fix="Save a plan with `mvctl plan --out FILE` and pass that file unchanged.",
        ) from error


def apply(
    workspace: Workspace,
    options: ApplyOptions,
    *,
    confirm: Callable[[Plan], bool],
    events: ApplyEvents,
) -> ApplyResult:
    saved = load_plan_file(options.plan_file) if options.plan_file else None
    if saved is not None and saved.project != workspace.config.project:
        raise UsageError(
            f"the plan is for project {saved.project!r}, not {workspace.config.project!r}",
            fix="Run apply in the project the plan was made for.",
        )
    actor = current_actor(options.plan_options.actor)
    digests, env_digests, _ = workspace.digests()
    state = workspace.open_state(create=True)
    lock_id = state.acquire_lock("apply", actor, timeout_s=options.lock_timeout_s)
    faults.reached("lock_taken")
    alerts = Alerts(workspace, "apply", actor, state.serial)
    apply_id: int | None = None
    try:
        state.close_interrupted_applies()
        recorded = state.snapshot()
        if saved is not None and saved.serial != recorded.serial:
            raise StaleStateError(
                f"the state moved from serial {saved.serial} to {recorded.serial} since this plan was made",
                fix="Run `mvctl plan` again and review the new plan.",
            )
        resolved = _resolve_all(workspace, digests, env_digests)
        if saved is not None:
            _check_saved_plan_matches_config(saved, resolved)
        plan = saved or build_plan(
            workspace.config,
            recorded,
            digests,
            env_digests,
            replace(options.plan_options, actor=actor),
            workspace.missing_artifacts(recorded),
        )
        conflicts = plan.conflicts
        if saved is not None:
            # A saved plan was checked for whoever made it; this apply's actor is checked here.
            denials = plan_denials(saved.actions, recorded, actor)
            conflicts = (*conflicts, *(d for d in denials if d not in conflicts))
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
        if not options.auto_approve and not confirm(plan):
            return ApplyResult(plan, "declined")
        apply_id = state.begin_apply(
            kind="apply", actor=actor, plan_hash=plan.hash, expected_serial=plan.serial
        )
        alerts.started(apply_id, plan)
        session = ApplySession(
            root=workspace.root,
            store=workspace.open_store(),
            state=state,
            apply_id=apply_id,
            actor=actor,
            resolved=resolved,
            trusted_types={
                name: tuple(m.trusted_types) for name, m in workspace.config.models.items()
            },
            events=events,
            clock=now_utc,
            work_root=workspace.private_dir / "work" / f"apply-{apply_id}",
            parallel=options.parallel or os.cpu_count() or 1,
            evaluations=resolve_evaluations(workspace.config, resolved, digests, env_digests),
            health_checks={
                name: m.health_check
                for name, m in workspace.config.models.items()
                if m.health_check
            },
        )
        outcomes = roll_back_failed_models(
            session,
            run_actions(session, plan.actions),
            {name for name, m in workspace.config.models.items() if m.on_failure == "rollback"},
        )
        faults.reached("actions_done")
        shutil.rmtree(session.work_root, ignore_errors=True)
        status = "failed" if any(o.status != "done" for o in outcomes) else "succeeded"
        state.finish_apply(apply_id, status)
        faults.reached("apply_finished")
        alerts.finished(apply_id, status, outcomes)
        return ApplyResult(plan, status, apply_id, outcomes)
    except BaseException as error:
        if apply_id is not None:
            alerts.failed(apply_id, error)
            stopped = close_failed(state, apply_id, error)
            if stopped is not error:
                raise stopped from error
        raise
    finally:
        try:
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _check_saved_plan_matches_config(
    plan: Plan, resolved: dict[tuple[str, str], ResolvedVersion]
) -> None:
    """A reviewed plan is applied as reviewed: refuse it if what it trains was since edited."""
    for action in plan.actions:
        if not isinstance(action, TrainVersion | RegisterArtifact):
            continue
        version = resolved.get((action.model, action.label))
        if version is None or version.spec_hash != action.spec_hash:
            what = "is no longer declared" if version is None else "was changed"
            raise StaleStateError(
                f"{action.model}@{action.label} {what} in the config or its files since the plan was made",
                fix="Run `mvctl plan` again and review the new plan.",
            )


def _resolve_all(
    workspace: Workspace, digests: dict[str, str], env_digests: dict[str, str]
) -> dict[tuple[str, str], ResolvedVersion]:
    resolved: dict[tuple[str, str], ResolvedVersion] = {}
    for name, model in workspace.config.models.items():
        for label, version in resolve_model(name, model, digests, env_digests).items():
            resolved[(name, label)] = version
    return resolved
