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

from collections.abc import Collection, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from mvctl import __version__, faults
from mvctl.apply.artifacts import check_safe_artifact, private_path, registered_file
from mvctl.apply.gating import blocked_reasons, check_gates
from mvctl.apply.health import check_health
from mvctl.apply.session import ApplySession, Promotion
from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.plan import Action, MoveAlias, ReplaceServedVersion
from mvctl.core.recorded import Change, Target
from mvctl.core.records import VERSION_TRAINED, AliasRecord, GateDecision, Rollback
from mvctl.errors import MvctlError
from mvctl.results.apply import ROLLED_BACK, ActionOutcome
from mvctl.state import StateWriter
from mvctl.store.blobs import BlobStore


def promote_move(session: ApplySession, action: MoveAlias) -> ActionOutcome:
    """Point an alias at a recorded, trained version."""
    target = f"{action.model}@{action.to_version}"
    why = session.unusable.get((action.model, action.to_version))
    if why is not None:
        return ActionOutcome(action, "skipped", f"{target} failed: {why}")
    value = session.state.version_value(action.model, action.to_version)
    if value is None or value.status != VERSION_TRAINED or not value.artifact_digest:
        return ActionOutcome(action, "skipped", f"{target} is not trained")
    alias = Target("alias", action.model, action.alias)
    before = AliasRecord(action.from_version) if action.from_version else None
    after = AliasRecord(action.to_version)
    promotion = Promotion(
        action.model,
        action.to_version,
        (action.alias,),
        value,
        value.artifact_digest,
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
    if candidate is None or not candidate.artifact_digest:
        why = session.unusable.get(key, "nothing was retrained")
        return ActionOutcome(action, "skipped", f"{kept}: retraining it failed: {why}")
    if old is None or old.spec_hash != action.replaces:
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
        candidate.artifact_digest,
        action.gates,
        (Change(version, old, candidate),),
        (Change(version, candidate, old),),
        kept,
        f"{action.label} as it was (spec {action.replaces[:12]})",
        candidate_spec=candidate.spec_hash,
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
            promotion.artifact,
            promotion.value.lineage,
            session.trusted_types.get(promotion.model, ()),
            session.torch_modules.get(promotion.model),
            session.work_root,
            session.state,
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
        decisions = _decisions(promotion, passed=not blocked, checks=tuple(checks))
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
            artifact_digest=promotion.artifact,
            timeout_s=session.health_timeouts[promotion.model],
            processes=session.processes,
        )
        if failure is not None:
            return roll_back(session, action, "health_check", failure)
    return ActionOutcome(action, "done")


def roll_back(session: ApplySession, action: Action, check: str, reason: str) -> ActionOutcome:
    """Put back what a promotion changed, logging the automatic rollback and why."""
    promotion = session.promoted.pop(action)
    decisions = _decisions(
        promotion,
        passed=False,
        checks=({"gate": check, "result": "fail", "message": reason},),
        rollback=Rollback(reason, promotion.restored),
    )
    session.state.record(session.apply_id, [*decisions, *promotion.undo])
    aliases = ", ".join(promotion.aliases)
    restored = promotion.restored or "nothing"
    return ActionOutcome(
        action, ROLLED_BACK, f"{aliases} rolled back to {restored} automatically: {reason}"
    )


def _decisions(
    promotion: Promotion,
    *,
    passed: bool,
    checks: tuple[Mapping[str, Any], ...],
    rollback: Rollback | None = None,
) -> tuple[Change, ...]:
    """One gate-log row per alias the promotion changes."""
    decision = GateDecision(
        promotion.label, passed, checks, spec_hash=promotion.candidate_spec, rollback=rollback
    )
    return tuple(
        Change(Target("gate", promotion.model, alias), None, decision)
        for alias in promotion.aliases
    )


def verify_served_artifact(
    store: BlobStore,
    digest: str,
    lineage: Mapping[str, Any],
    trusted_types: Sequence[str],
    torch_module: str | None,
    work_dir: Path,
    checks: StateWriter,
    *,
    what: str,
) -> None:
    """The model ``digest`` of a version with ``lineage``, which an alias is to serve, is in
    the store, matches its digest and is a safe model format, checked as strictly as when it
    entered (a registered file's unchecked types must be listed); otherwise raises naming the
    blob and the fix. A verdict already in ``checks`` under the same ``check_key`` stands for
    the format check; the blob is fetched and its digest verified every time."""
    name = f"{digest.removeprefix('sha256:')}{artifact_suffix(lineage)}"
    with private_path(work_dir / "verify", name) as path:
        store.get_file(digest, path)
        check_once(
            path,
            digest,
            trusted_types,
            registered=registered_file(lineage),
            torch_module=torch_module,
            checks=checks,
            what=what,
        )


def check_once(
    path: Path,
    digest: str,
    trusted_types: Sequence[str],
    *,
    registered: bool,
    torch_module: str | None,
    checks: StateWriter,
    what: str,
    shown: Path | None = None,
) -> None:
    """Check that ``path``, whose bytes were verified to hash to ``digest``, is a safe model
    format, unless the same bytes already passed the same rules (``check_key``); remember a
    pass. Raises as ``check_safe_artifact`` does."""
    key = check_key(digest, trusted_types, registered=registered, torch_module=torch_module)
    if checks.artifact_check(key) is not None:
        return
    kind = check_safe_artifact(
        path,
        trusted_types,
        what=what,
        registered=registered,
        torch_module=torch_module,
        shown=shown,
    )
    checks.record_artifact_check(key, digest, kind)


def check_key(
    digest: str, trusted_types: Sequence[str], *, registered: bool, torch_module: str | None
) -> str:
    """What a safe-format verdict depends on: the bytes (their digest), the trust the config
    gives them, and the checking code (mvctl's, skops' and scikit-learn's versions, whose
    defaults decide what is trusted). The same key means the same bytes passed the same rules,
    so the audit, which imports skops and scikit-learn, runs once per key. Loading a model
    audits its bytes again whatever is recorded here."""
    return sha256_hex(
        canonical_json(
            {
                "digest": digest,
                "trusted_types": sorted(set(trusted_types)),
                "registered": registered,
                "torch_module": torch_module,
                "checker": list(_checker_versions()),
            }
        )
    )


@cache
def _checker_versions() -> tuple[str, str, str]:
    """mvctl's, skops' and scikit-learn's versions: looked up once per process, since finding
    an installed package's version reads the metadata of every package on the path."""
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""

    return __version__, installed("skops"), installed("scikit-learn")


def artifact_suffix(lineage: Mapping[str, Any]) -> str:
    """The model file's extension as recorded in the version's lineage ('' when unknown)."""
    artifact = lineage.get("artifact") or {}
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
