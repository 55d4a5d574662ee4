"""The one promotion path: every change of what an alias serves goes through ``promote``.

An alias move and the replacement of a version that aliases serve (an overwrite, retrained
under its label) each describe their change as a ``Promotion``, and ``promote`` takes both
through the same steps: verify the artifact the aliases will serve (its digest and a safe
format), decide the gates on that artifact's own evaluation, commit the change with the gate
decisions in one transaction, run the health check for each alias, and put the old state
back when it fails. ``roll_back`` is the same undo for `on_failure: rollback`. A promotion held
back leaves the aliases serving what they served, and says why.

Revert uses ``verify_served_artifact`` alone: it returns to versions that passed their gates
when they were promoted, so it only makes sure their artifacts are still there and safe.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl import faults
from mvctl.apply.applier import ApplySession
from mvctl.apply.artifacts import check_safe_artifact, registered_file
from mvctl.apply.gating import blocked_reasons, check_gates
from mvctl.apply.health import check_health
from mvctl.core.plan import Action, GateCheck, MoveAlias, ReplaceServedVersion
from mvctl.core.recorded import VERSION_TRAINED, Change, Target
from mvctl.errors import MvctlError
from mvctl.results.apply import ROLLED_BACK, ActionOutcome
from mvctl.store.blobs import BlobStore


@dataclass(frozen=True)
class Promotion:
    """One change of what aliases serve, and the change that puts the old back."""

    model: str
    label: str
    """The version the aliases serve once it is done."""
    aliases: tuple[str, ...]
    value: dict[str, Any]
    """The version record they will serve (its artifact is verified, its numbers gated)."""
    gates: tuple[GateCheck, ...]
    changes: tuple[Change, ...]
    undo: tuple[Change, ...]
    kept: str
    """What stays when it is held back, in words ('production stays at 1.0.0')."""
    restored: str | None
    """The version a rollback returns to (None: nothing), for the log."""
    candidate_spec: str | None = None
    """Set for a retrained version not recorded yet: its gates read this apply's results."""


def promote_move(session: ApplySession, action: MoveAlias) -> ActionOutcome:
    """Point an alias at a recorded, trained version."""
    target = f"{action.model}@{action.to_version}"
    why = session.unusable.get((action.model, action.to_version))
    if why is not None:
        return ActionOutcome(action, "skipped", f"{target} failed: {why}")
    value = session.state.version_value(action.model, action.to_version)
    if value is None or value["status"] != VERSION_TRAINED or not value["artifact_digest"]:
        return ActionOutcome(action, "skipped", f"{target} is not trained")
    alias = Target("alias", action.model, action.alias)
    before = {"version": action.from_version} if action.from_version else None
    after = {"version": action.to_version}
    promotion = Promotion(
        action.model,
        action.to_version,
        (action.alias,),
        value,
        action.gates,
        (Change(alias, before, after),),
        (Change(alias, after, before),),
        f"{action.alias} stays at {action.from_version or 'no version'}",
        action.from_version,
    )
    return promote(session, action, promotion)


def promote_replacement(session: ApplySession, action: ReplaceServedVersion) -> ActionOutcome:
    """Let a version retrained under its label replace the record its aliases serve."""
    key = (action.model, action.label)
    target = f"{action.model}@{action.label}"
    serving = ", ".join(action.aliases)
    verb = "keeps" if len(action.aliases) == 1 else "keep"
    kept = f"{serving} {verb} serving the old record of {target} (spec {action.replaces[:12]})"
    candidate = session.candidates.pop(key, None)
    old = session.state.version_value(action.model, action.label)
    if candidate is None:
        why = session.unusable.get(key, "nothing was retrained")
        return ActionOutcome(action, "skipped", f"{kept}: retraining it failed: {why}")
    if old is None or old["spec_hash"] != action.replaces:
        session.unusable[key] = "its record changed since the plan was made"
        return ActionOutcome(
            action,
            "failed",
            f"{target} no longer has the record the plan replaces; run `mvctl plan` again",
        )
    version = Target("version", action.model, action.label)
    promotion = Promotion(
        action.model,
        action.label,
        action.aliases,
        candidate,
        action.gates,
        (Change(version, old, candidate),),
        (Change(version, candidate, old),),
        kept,
        f"{action.label} as it was (spec {action.replaces[:12]})",
        candidate_spec=candidate["spec_hash"],
    )
    outcome = promote(session, action, promotion)
    if outcome.status != "done":
        session.unusable[key] = outcome.message
    return outcome


def promote(session: ApplySession, action: Action, promotion: Promotion) -> ActionOutcome:
    """Verify, gate, commit, health-check: the same steps for every promotion."""
    try:
        verify_served_artifact(
            session.store,
            promotion.value,
            session.trusted_types.get(promotion.model, ()),
            session.torch_modules.get(promotion.model),
            session.work_root,
            what=f"the artifact of {promotion.model}@{promotion.label}",
        )
    except MvctlError as error:
        return ActionOutcome(action, "failed", f"{promotion.kept}: {error.message}")
    decisions: tuple[Change, ...] = ()
    if promotion.gates:
        checks = check_gates(
            session, promotion.model, promotion.label, promotion.gates, promotion.candidate_spec
        )
        blocked = blocked_reasons(checks)
        decisions = _decisions(promotion, {"passed": not blocked, "checks": checks})
        if blocked:
            session.state.record(session.apply_id, list(decisions))
            return ActionOutcome(action, "failed", f"{promotion.kept}: {blocked}", gate_failed=True)
    faults.reached("alias_verified")
    session.state.record(session.apply_id, [*decisions, *promotion.changes])
    session.promoted[action] = promotion
    command = session.health_checks.get(promotion.model)
    if command is None:
        return ActionOutcome(action, "done")
    for alias in promotion.aliases:
        failure = check_health(
            command,
            root=session.root,
            work_dir=session.work_root,
            store=session.store,
            model=promotion.model,
            alias=alias,
            version=promotion.label,
            artifact_digest=promotion.value["artifact_digest"],
        )
        if failure is not None:
            return roll_back(session, action, "health_check", failure)
    return ActionOutcome(action, "done")


def roll_back(session: ApplySession, action: Action, check: str, reason: str) -> ActionOutcome:
    """Put back what a promotion changed, logging the automatic rollback and why."""
    promotion = session.promoted.pop(action)
    rollback = {
        "passed": False,
        "checks": [{"gate": check, "result": "fail", "message": reason}],
        "rollback": {"automatic": True, "reason": reason, "restored": promotion.restored},
    }
    session.state.record(session.apply_id, [*_decisions(promotion, rollback), *promotion.undo])
    aliases = ", ".join(promotion.aliases)
    restored = promotion.restored or "nothing"
    return ActionOutcome(
        action, ROLLED_BACK, f"{aliases} rolled back to {restored} automatically: {reason}"
    )


def _decisions(promotion: Promotion, value: dict[str, Any]) -> tuple[Change, ...]:
    """One gate-log row per alias the promotion changes."""
    spec = {"spec_hash": promotion.candidate_spec} if promotion.candidate_spec else {}
    return tuple(
        Change(
            Target("gate", promotion.model, alias),
            None,
            {"version": promotion.label, **spec, **value},
        )
        for alias in promotion.aliases
    )


def verify_served_artifact(
    store: BlobStore,
    value: dict[str, Any],
    trusted_types: Sequence[str],
    torch_module: str | None,
    work_dir: Path,
    *,
    what: str,
) -> None:
    """The model of the version record ``value``, which an alias is to serve, is in the store,
    matches its digest and is a safe model format, checked as strictly as when it entered
    (a registered file's unchecked types must be listed); otherwise raises naming the blob
    and the fix."""
    digest = value["artifact_digest"]
    path = work_dir / "verify" / f"{digest.removeprefix('sha256:')}{artifact_suffix(value)}"
    store.get_file(digest, path)
    try:
        check_safe_artifact(
            path,
            trusted_types,
            what=what,
            registered=registered_file(value.get("lineage") or {}),
            torch_module=torch_module,
        )
    finally:
        path.unlink(missing_ok=True)


def artifact_suffix(value: dict[str, Any]) -> str:
    """The model file's extension as recorded in its lineage ('' when unknown)."""
    artifact = (value.get("lineage") or {}).get("artifact") or {}
    name = artifact.get("file") or artifact.get("source") or ""
    return Path(str(name)).suffix


def roll_back_failed_models(
    session: ApplySession, outcomes: Sequence[ActionOutcome], rollback_models: Collection[str]
) -> tuple[ActionOutcome, ...]:
    """`on_failure: rollback`: a model with any failed change in this apply has every
    promotion this apply made put back, so its aliases never mix old and new work."""
    failed = {
        o.action.model for o in outcomes if o.status != "done" and o.action.model in rollback_models
    }
    reason = "another change of this model failed in the same apply (on_failure: rollback)"
    settled = []
    for outcome in outcomes:
        action = outcome.action
        if outcome.status == "done" and action.model in failed and action in session.promoted:
            outcome = roll_back(session, action, "on_failure", reason)
            session.events.action_finished(outcome)
        settled.append(outcome)
    return tuple(settled)
