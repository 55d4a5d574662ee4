"""Carry out a plan's actions, one handler per action kind.

A handler does its slow work first (train, copy into the store), then commits the state change
with its change-log row in one transaction. A version that fails is recorded as failed with
its log; alias moves that needed it are skipped; the other actions go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mvctl import faults
from mvctl.apply.artifacts import check_safe_artifact
from mvctl.apply.health import check_health
from mvctl.apply.pipeline import VersionFailed, run_steps
from mvctl.core.evaluation import ResolvedEvaluation
from mvctl.core.plan import (
    Action,
    ArchiveVersion,
    CreateModel,
    EvaluateVersion,
    MoveAlias,
    RecordPolicy,
    RefreshAlias,
    RegisterArtifact,
    ReleasePin,
    RemoveAlias,
    RestoreVersion,
    TrainVersion,
    UpdateMetadata,
)
from mvctl.core.recorded import (
    POLICY_TARGET,
    VERSION_ARCHIVED,
    VERSION_FAILED,
    VERSION_TRAINED,
    Change,
    Target,
)
from mvctl.core.resolve import ResolvedVersion
from mvctl.errors import DigestMismatchError, MvctlError, NotFoundError
from mvctl.state.db import StateDB
from mvctl.store.blobs import BlobStore, hash_file


class ApplyEvents(Protocol):
    """What apply tells the person watching; the CLI renders it, tests record it.

    The step events come from the threads that run a version's independent steps at once, so
    an implementation must be safe to call from several threads.
    """

    def step_started(self, target: str, step: str, status: str) -> None: ...
    def step_progress(
        self, target: str, step: str, fraction: float, fields: dict[str, Any]
    ) -> None: ...
    def step_finished(self, target: str, step: str, status: str, seconds: float) -> None: ...
    def action_finished(self, outcome: ActionOutcome) -> None: ...


@dataclass(frozen=True)
class ActionOutcome:
    action: Action
    status: str
    """'done', 'failed' or 'skipped'."""
    message: str = ""
    steps: tuple[tuple[str, str], ...] = ()
    """For a trained version: (step, 'run' or 'cached') in step order, as apply did it."""


@dataclass
class ApplySession:
    """Everything the handlers share during one apply."""

    root: Path
    store: BlobStore
    state: StateDB
    apply_id: int
    actor: str
    resolved: Mapping[tuple[str, str], ResolvedVersion]
    trusted_types: Mapping[str, tuple[str, ...]]
    events: ApplyEvents
    clock: Callable[[], str]
    work_root: Path
    unusable: dict[tuple[str, str], str] = field(default_factory=dict)
    """Versions that failed in this apply -> why; aliases needing them stay put."""
    parallel: int = 1
    """How many independent steps of a version may run at once (`apply --parallel`)."""
    evaluations: Mapping[str, ResolvedEvaluation] = field(default_factory=dict)
    """Each model's resolved evaluation (scoring settings, datasets per version), by name."""
    health_checks: Mapping[str, str] = field(default_factory=dict)
    """Each model's `health_check:` command, run after every promotion of one of its aliases."""


Handler = Callable[[ApplySession, Any], ActionOutcome]

ROLLED_BACK = "rolled_back"
"""Outcome of a promotion whose health check failed: the alias is back where it was."""


def run_actions(session: ApplySession, actions: tuple[Action, ...]) -> list[ActionOutcome]:
    """Run every action in order; a failure stops only what depends on it."""
    outcomes = []
    for action in actions:
        outcome = HANDLERS[type(action)](session, action)
        session.events.action_finished(outcome)
        outcomes.append(outcome)
    return outcomes


def _record(session: ApplySession, *changes: Change) -> None:
    session.state.record(session.apply_id, list(changes))


def _create_model(session: ApplySession, action: CreateModel) -> ActionOutcome:
    after = {"archived": False, "created_at": session.clock()}
    _record(session, Change(Target("model", action.model), None, after))
    return ActionOutcome(action, "done")


def _train_version(session: ApplySession, action: TrainVersion) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    before = session.state.version_value(action.model, action.label)
    try:
        lineage, artifact = _run_pipeline(session, version, action)
        faults.reached("version_trained")
        status, failure, message = VERSION_TRAINED, None, ""
    except VersionFailed as failed:
        lineage, artifact = {}, None
        status, failure, message = VERSION_FAILED, failed.failure, str(failed)
        session.unusable[(action.model, action.label)] = message
    after = _version_value(session, version, status, artifact, lineage, failure)
    _record(session, Change(Target("version", action.model, action.label), before, after))
    steps = tuple(
        (name, "cached" if info["cached"] else "run")
        for name, info in lineage.get("steps", {}).items()
    )
    return ActionOutcome(action, "failed" if failure else "done", message, steps)


def _run_pipeline(
    session: ApplySession, version: ResolvedVersion, action: TrainVersion
) -> tuple[dict[str, Any], str]:
    target = f"{version.model}@{version.label}"
    planned = {step.name: step for step in action.steps}
    for step in version.steps:
        if planned[step.name].cache_key != step.key:
            raise VersionFailed(
                f"step {step.name} no longer matches the plan",
                {"step": step.name, "reason": "plan mismatch"},
            )
    outputs, lineage = run_steps(session, version)
    artifact_at = version.artifact_output()
    if artifact_at is None:
        raise VersionFailed(
            "the last step declares no output to use as the model", {"reason": "no artifact"}
        )
    step_name, file_name = artifact_at
    digest = outputs[step_name][file_name]
    _check_stored_artifact(session, version, digest, f"the model of {target}")
    return {"steps": lineage, "artifact": {"step": step_name, "file": file_name}}, digest


def _check_stored_artifact(
    session: ApplySession, version: ResolvedVersion, digest: str, what: str
) -> None:
    folder = session.work_root / "check"
    path = folder / f"{digest[7:23]}{_suffix(version)}"
    session.store.get_file(digest, path)
    try:
        check_safe_artifact(path, session.trusted_types.get(version.model, ()), what=what)
    except MvctlError as error:
        raise VersionFailed(
            error.message, {"reason": "unsafe artifact", "detail": error.message}
        ) from error
    finally:
        path.unlink(missing_ok=True)


def _suffix(version: ResolvedVersion) -> str:
    artifact = version.artifact_output()
    return Path(artifact[1]).suffix if artifact else ""


def _register_artifact(session: ApplySession, action: RegisterArtifact) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    target = f"{action.model}@{action.label}"
    before = session.state.version_value(action.model, action.label)
    try:
        digest = _store_artifact(session, action, f"the artifact of {target}")
    except MvctlError as error:
        session.unusable[(action.model, action.label)] = error.message
        failure = {"reason": "artifact refused", "detail": error.message}
        after = _version_value(session, version, VERSION_FAILED, None, {}, failure)
        _record(session, Change(Target("version", action.model, action.label), before, after))
        return ActionOutcome(action, "failed", error.message)
    lineage = {"artifact": {"source": action.path}}
    after = _version_value(session, version, VERSION_TRAINED, digest, lineage, None)
    _record(session, Change(Target("version", action.model, action.label), before, after))
    return ActionOutcome(action, "done")


def _store_artifact(session: ApplySession, action: RegisterArtifact, what: str) -> str:
    """Check the file is the one planned and a safe format, then copy it into the store."""
    path = session.root / action.path
    if hash_file(path) != action.digest:
        raise DigestMismatchError(
            f"{action.path} changed since the plan was made",
            fix="Run `mvctl plan` again and review it.",
        )
    check_safe_artifact(path, session.trusted_types.get(action.model, ()), what=what)
    return session.store.put_file(path)


def _version_value(
    session: ApplySession,
    version: ResolvedVersion,
    status: str,
    artifact: str | None,
    lineage: dict[str, Any],
    failure: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "status": status,
        "spec_hash": version.spec_hash,
        "metadata_hash": version.metadata_hash,
        "artifact_digest": artifact,
        "spec": version.record_spec(),
        "params": version.params(),
        "lineage": lineage,
        "failure": failure,
        "description": version.description,
        "tags": dict(version.tags),
        "created_by": session.actor,
        "created_at": session.clock(),
        "apply_id": session.apply_id,
    }


def _change_version(session: ApplySession, model: str, label: str, **fields: Any) -> Change:
    before = session.state.version_value(model, label)
    if before is None:
        raise NotFoundError(
            f"version {model}@{label} is not recorded", fix="Run `mvctl plan` again."
        )
    return Change(Target("version", model, label), before, {**before, **fields})


def _update_metadata(session: ApplySession, action: UpdateMetadata) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    before = session.state.version_value(action.model, action.label)
    spec = dict(before["spec"]) if before else {}
    spec["metadata"] = version.metadata()
    change = _change_version(
        session,
        action.model,
        action.label,
        metadata_hash=action.metadata_hash,
        spec=spec,
        description=version.description,
        tags=dict(version.tags),
    )
    _record(session, change)
    return ActionOutcome(action, "done")


def _restore_version(session: ApplySession, action: RestoreVersion) -> ActionOutcome:
    _record(session, _change_version(session, action.model, action.label, status=VERSION_TRAINED))
    return ActionOutcome(action, "done")


def _archive_version(session: ApplySession, action: ArchiveVersion) -> ActionOutcome:
    _record(session, _change_version(session, action.model, action.label, status=VERSION_ARCHIVED))
    return ActionOutcome(action, "done")


def _move_alias(session: ApplySession, action: MoveAlias) -> ActionOutcome:
    why = session.unusable.get((action.model, action.to_version))
    if why is not None:
        return ActionOutcome(action, "skipped", f"{action.model}@{action.to_version} failed: {why}")
    value = session.state.version_value(action.model, action.to_version)
    if value is None or value["status"] != VERSION_TRAINED or not value["artifact_digest"]:
        return ActionOutcome(
            action, "skipped", f"{action.model}@{action.to_version} is not trained"
        )
    gate_decision: tuple[Change, ...] = ()
    if action.gates:
        from mvctl.apply.gating import check_alias_gates

        decision, blocked = check_alias_gates(session, action)
        if blocked is not None:
            _record(session, decision)
            return ActionOutcome(action, "failed", blocked)
        gate_decision = (decision,)
    session.store.verify(value["artifact_digest"])
    faults.reached("alias_verified")
    before = {"version": action.from_version} if action.from_version else None
    _record(
        session,
        *gate_decision,
        Change(Target("alias", action.model, action.alias), before, {"version": action.to_version}),
    )
    command = session.health_checks.get(action.model)
    if command is None:
        return ActionOutcome(action, "done")
    failure = check_health(
        command,
        root=session.root,
        work_dir=session.work_root,
        store=session.store,
        model=action.model,
        alias=action.alias,
        version=action.to_version,
        artifact_digest=value["artifact_digest"],
    )
    if failure is None:
        return ActionOutcome(action, "done")
    return _roll_back(session, action, "health_check", failure)


def _roll_back(session: ApplySession, action: MoveAlias, check: str, reason: str) -> ActionOutcome:
    """Move a promoted alias back to where it was, logging the automatic rollback and why."""
    before = {"version": action.from_version} if action.from_version else None
    rollback_record = Change(
        Target("gate", action.model, action.alias),
        None,
        {
            "version": action.to_version,
            "passed": False,
            "checks": [{"gate": check, "result": "fail", "message": reason}],
            "rollback": {"automatic": True, "reason": reason, "restored": action.from_version},
        },
    )
    promoted = {"version": action.to_version}
    _record(
        session,
        rollback_record,
        Change(Target("alias", action.model, action.alias), promoted, before),
    )
    restored = action.from_version or "nothing"
    return ActionOutcome(
        action, ROLLED_BACK, f"{action.alias} rolled back to {restored} automatically: {reason}"
    )


def roll_back_failed_models(
    session: ApplySession, outcomes: Sequence[ActionOutcome], rollback_models: Collection[str]
) -> tuple[ActionOutcome, ...]:
    """`on_failure: rollback`: a model with any failed change in this apply has every alias
    this apply promoted put back, so its aliases never mix old and new work."""
    failed = {
        o.action.model for o in outcomes if o.status != "done" and o.action.model in rollback_models
    }
    reason = "another change of this model failed in the same apply (on_failure: rollback)"
    settled = []
    for outcome in outcomes:
        action = outcome.action
        if isinstance(action, MoveAlias) and outcome.status == "done" and action.model in failed:
            outcome = _roll_back(session, action, "on_failure", reason)
            session.events.action_finished(outcome)
        settled.append(outcome)
    return tuple(settled)


def _evaluate_version(session: ApplySession, action: EvaluateVersion) -> ActionOutcome:
    # Imported here: scoring pulls in numpy and scikit-learn, which most applies never need.
    from mvctl.apply.evaluating import evaluate_version

    return evaluate_version(session, action)


def _remove_alias(session: ApplySession, action: RemoveAlias) -> ActionOutcome:
    _record(
        session,
        Change(Target("alias", action.model, action.alias), {"version": action.from_version}, None),
    )
    return ActionOutcome(action, "done")


def _release_pin(session: ApplySession, action: ReleasePin) -> ActionOutcome:
    before = session.state.pin_value(action.model, action.alias)
    _record(session, Change(Target("pin", action.model, action.alias), before, None))
    return ActionOutcome(action, "done")


def _refresh_alias(session: ApplySession, action: RefreshAlias) -> ActionOutcome:
    """Log the alias as it is, so the log agrees with the state; the row keeps its value."""

    def value(version: str | None) -> dict[str, str] | None:
        return None if version is None else {"version": version}

    target = Target("alias", action.model, action.alias)
    _record(session, Change(target, value(action.logged), value(action.current)))
    return ActionOutcome(action, "done")


def _record_policy(session: ApplySession, action: RecordPolicy) -> ActionOutcome:
    """Record the config's policy; it is in force from the next apply on."""
    before = session.state.policy_value()
    _record(session, Change(POLICY_TARGET, before, action.policy))
    return ActionOutcome(action, "done")


HANDLERS: dict[type, Handler] = {
    CreateModel: _create_model,
    TrainVersion: _train_version,
    RegisterArtifact: _register_artifact,
    UpdateMetadata: _update_metadata,
    RestoreVersion: _restore_version,
    EvaluateVersion: _evaluate_version,
    MoveAlias: _move_alias,
    RemoveAlias: _remove_alias,
    ArchiveVersion: _archive_version,
    ReleasePin: _release_pin,
    RefreshAlias: _refresh_alias,
    RecordPolicy: _record_policy,
}


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
