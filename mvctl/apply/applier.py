"""Carry out a plan's actions, one handler per action kind.

A handler does its slow work first (train, copy into the store), then commits the state change
with its change-log row in one transaction. A version that fails is recorded as failed with
its log; alias moves that needed it are skipped; the other actions go on. Everything that
changes what an alias serves goes through ``apply.promotion``: a version aliases point at is
retrained into a candidate, not recorded, until its ReplaceServedVersion passes the gates.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mvctl import faults
from mvctl.apply.artifacts import check_safe_artifact, private_path
from mvctl.apply.bundle_store import store_bundle
from mvctl.apply.evaluating import evaluate_version
from mvctl.apply.pipeline import run_steps
from mvctl.apply.promotion import promote_move, promote_replacement
from mvctl.apply.scheduling import run_concurrently
from mvctl.apply.served import check_once
from mvctl.apply.session import ApplySession
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
    ReplaceServedVersion,
    RestoreVersion,
    TrainVersion,
    UpdateMetadata,
)
from mvctl.core.recorded import POLICY_TARGET, Change, Target
from mvctl.core.records import (
    VERSION_ARCHIVED,
    VERSION_FAILED,
    VERSION_TRAINED,
    AliasRecord,
    ModelRecord,
    PolicyRecord,
    VersionRecord,
    VersionStatus,
)
from mvctl.core.resolve import ResolvedVersion
from mvctl.errors import (
    DigestMismatchError,
    MvctlError,
    NotFoundError,
    StepFailedError,
    UnsafeArtifactError,
)
from mvctl.results.apply import ActionOutcome
from mvctl.store.blobs import hash_file

Handler = Callable[[ApplySession, Any], ActionOutcome]


def run_actions(session: ApplySession, actions: tuple[Action, ...]) -> list[ActionOutcome]:
    """Run every action, independent ones at once (``apply.scheduling``); a failure stops
    only what depends on it. The outcomes come back in plan order."""
    session.held.update((a.model, a.label) for a in actions if isinstance(a, ReplaceServedVersion))
    return run_concurrently(session, actions, _run_action)


def _run_action(session: ApplySession, action: Action) -> ActionOutcome:
    outcome = HANDLERS[type(action)](session, action)
    session.events.action_finished(outcome)
    return outcome


def _record(session: ApplySession, *changes: Change) -> None:
    session.state.record(session.apply_id, list(changes))


def _create_model(session: ApplySession, action: CreateModel) -> ActionOutcome:
    after = ModelRecord(archived=False, created_at=session.clock())
    _record(session, Change(Target("model", action.model), None, after))
    return ActionOutcome(action, "done")


def _train_version(session: ApplySession, action: TrainVersion) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    before = session.state.version_value(action.model, action.label)
    try:
        lineage, artifact = _run_pipeline(session, version, action)
        faults.reached("version_trained")
        status, failure, message = VERSION_TRAINED, None, ""
    except StepFailedError as failed:
        lineage, artifact = {}, None
        status, failure, message = VERSION_FAILED, failed.failure, failed.what
        session.unusable[(action.model, action.label)] = message
    after = _version_value(session, version, status, artifact, lineage, failure)
    _record_version(session, action.model, action.label, before, after)
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
            raise StepFailedError(
                f"step {step.name} no longer matches the plan",
                {"step": step.name, "reason": "plan mismatch"},
            )
    outputs, lineage = run_steps(session, version)
    artifact_at = version.artifact_output()
    if artifact_at is None:
        raise StepFailedError(
            "the last step declares no output to use as the model", {"reason": "no artifact"}
        )
    step_name, file_name = artifact_at
    digest = outputs[step_name][file_name]
    _check_stored_artifact(session, version, digest, f"the model of {target}")
    return {"steps": lineage, "artifact": {"step": step_name, "file": file_name}}, digest


def _check_stored_artifact(
    session: ApplySession, version: ResolvedVersion, digest: str, what: str
) -> None:
    name = f"{digest[7:23]}{_suffix(version)}"
    with private_path(session.work_root / "check", name) as path:
        session.store.get_file(digest, path)
        try:
            check_safe_artifact(path, session.trusted_types.get(version.model, ()), what=what)
        except MvctlError as error:
            raise StepFailedError(
                error.message, {"reason": "unsafe artifact", "detail": error.message}
            ) from error


def _suffix(version: ResolvedVersion) -> str:
    artifact = version.artifact_output()
    return Path(artifact[1]).suffix if artifact else ""


def _register_artifact(session: ApplySession, action: RegisterArtifact) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    target = f"{action.model}@{action.label}"
    before = session.state.version_value(action.model, action.label)
    try:
        if action.bundle is not None:
            bundle = store_bundle(session, action)
        else:
            digest = _store_artifact(session, action, f"the artifact of {target}")
    except MvctlError as error:
        session.unusable[(action.model, action.label)] = error.message
        reason = "bundle refused" if action.bundle is not None else "artifact refused"
        failure = {"reason": reason, "detail": error.message}
        after = _version_value(session, version, VERSION_FAILED, None, {}, failure)
        _record_version(session, action.model, action.label, before, after)
        return ActionOutcome(action, "failed", error.message)
    if action.bundle is None:
        lineage = {"artifact": {"source": action.path}}
        after = _version_value(session, version, VERSION_TRAINED, digest, lineage, None)
        _record_version(session, action.model, action.label, before, after)
        return ActionOutcome(action, "done")
    after = replace(
        _version_value(
            session, version, VERSION_TRAINED, bundle.artifact_digest, bundle.lineage, None
        ),
        params=bundle.params,
    )
    _record_version(session, action.model, action.label, before, after)
    if (action.model, action.label) not in session.held and bundle.evaluations:
        target_of = Target("evaluation", action.model, action.label)
        _record(session, *(Change(target_of, None, result) for result in bundle.evaluations))
    return ActionOutcome(action, "done", f"imported from {action.bundle.origin}")


def _record_version(
    session: ApplySession,
    model: str,
    label: str,
    before: VersionRecord | None,
    after: VersionRecord,
) -> None:
    """Record a version as trained (or failed); one that aliases serve is held back instead,
    so the old record keeps serving until ReplaceServedVersion lets the new one replace it."""
    if (model, label) not in session.held:
        _record(session, Change(Target("version", model, label), before, after))
    elif after.status == VERSION_TRAINED:
        session.candidates[(model, label)] = after


def _store_artifact(session: ApplySession, action: RegisterArtifact, what: str) -> str:
    """Copy the file aside once, then check that copy is the one planned and a safe format and
    store it: what is checked is what is stored, even if the project's file changes meanwhile.
    The same bytes registered again under the same rules (another version from one file) are
    not audited again: the verdict is remembered by digest, as for promotions."""
    source = session.root / action.path
    name = f"{action.digest[7:23]}{source.suffix}"
    with private_path(session.work_root / "register", name) as copy:
        try:
            shutil.copyfile(source, copy)
        except OSError as error:
            raise UnsafeArtifactError(
                f"cannot read {action.path}: {error.strerror}", fix="Check the file and run again."
            ) from error
        if hash_file(copy) != action.digest:
            raise DigestMismatchError(
                f"{action.path} changed since the plan was made",
                fix="Run `mvctl plan` again and review it.",
            )
        check_once(
            copy,
            action.digest,
            session.trusted_types.get(action.model, ()),
            registered=True,
            torch_module=session.torch_modules.get(action.model),
            checks=session.state,
            what=what,
            shown=Path(action.path),
        )
        return session.store.put_file(copy)


def _version_value(
    session: ApplySession,
    version: ResolvedVersion,
    status: VersionStatus,
    artifact: str | None,
    lineage: Mapping[str, Any],
    failure: Mapping[str, Any] | None,
) -> VersionRecord:
    return VersionRecord(
        status=status,
        spec_hash=version.spec_hash,
        metadata_hash=version.metadata_hash,
        artifact_digest=artifact,
        spec=version.record_spec(),
        params=version.params(),
        lineage=lineage,
        failure=failure,
        description=version.description,
        tags=dict(version.tags),
        created_by=session.actor,
        created_at=session.clock(),
        apply_id=session.apply_id,
    )


def _recorded_version(session: ApplySession, model: str, label: str) -> VersionRecord:
    before = session.state.version_value(model, label)
    if before is None:
        raise NotFoundError(
            f"version {model}@{label} is not recorded", fix="Run `mvctl plan` again."
        )
    return before


def _update_metadata(session: ApplySession, action: UpdateMetadata) -> ActionOutcome:
    version = session.resolved[(action.model, action.label)]
    before = _recorded_version(session, action.model, action.label)
    after = replace(
        before,
        metadata_hash=action.metadata_hash,
        spec={**before.spec, "metadata": version.metadata()},
        description=version.description,
        tags=dict(version.tags),
    )
    _record(session, Change(Target("version", action.model, action.label), before, after))
    return ActionOutcome(action, "done")


def _restore_version(session: ApplySession, action: RestoreVersion) -> ActionOutcome:
    _record(session, _status_change(session, action.model, action.label, VERSION_TRAINED))
    return ActionOutcome(action, "done")


def _archive_version(session: ApplySession, action: ArchiveVersion) -> ActionOutcome:
    _record(session, _status_change(session, action.model, action.label, VERSION_ARCHIVED))
    return ActionOutcome(action, "done")


def _status_change(session: ApplySession, model: str, label: str, status: VersionStatus) -> Change:
    before = _recorded_version(session, model, label)
    return Change(Target("version", model, label), before, replace(before, status=status))


def _remove_alias(session: ApplySession, action: RemoveAlias) -> ActionOutcome:
    before = AliasRecord(action.from_version)
    _record(session, Change(Target("alias", action.model, action.alias), before, None))
    return ActionOutcome(action, "done")


def _release_pin(session: ApplySession, action: ReleasePin) -> ActionOutcome:
    before = session.state.pin_value(action.model, action.alias)
    _record(session, Change(Target("pin", action.model, action.alias), before, None))
    return ActionOutcome(action, "done")


def _refresh_alias(session: ApplySession, action: RefreshAlias) -> ActionOutcome:
    """Log the alias as it is, so the log agrees with the state; the row keeps its value."""

    def value(version: str | None) -> AliasRecord | None:
        return None if version is None else AliasRecord(version)

    target = Target("alias", action.model, action.alias)
    _record(session, Change(target, value(action.logged), value(action.current)))
    return ActionOutcome(action, "done")


def _record_policy(session: ApplySession, action: RecordPolicy) -> ActionOutcome:
    """Record the config's policy; it is in force from the next apply on."""
    before = session.state.policy_value()
    _record(session, Change(POLICY_TARGET, before, PolicyRecord.from_json(action.policy)))
    return ActionOutcome(action, "done")


HANDLERS: dict[type, Handler] = {
    CreateModel: _create_model,
    TrainVersion: _train_version,
    RegisterArtifact: _register_artifact,
    UpdateMetadata: _update_metadata,
    RestoreVersion: _restore_version,
    EvaluateVersion: evaluate_version,
    MoveAlias: promote_move,
    ReplaceServedVersion: promote_replacement,
    RemoveAlias: _remove_alias,
    ArchiveVersion: _archive_version,
    ReleasePin: _release_pin,
    RefreshAlias: _refresh_alias,
    RecordPolicy: _record_policy,
}
