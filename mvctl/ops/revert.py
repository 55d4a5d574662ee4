"""mvctl revert: undo an apply (or return to the state after one) as a new transaction.

Only pointers and statuses move; nothing is retrained or deleted. Aliases put back to a
version the config does not ask for are pinned, so the next plan shows a conflict instead of
quietly re-promoting what was just reverted. Gates are not checked again (what comes back
passed them when it was promoted), but every artifact an alias is to serve again is verified
first, digest and safe format: a missing, corrupt or unsafe one refuses the revert unless
`--force`, which goes ahead and writes what it forced past into the change log.
The policy in force decides who may revert what
(a protected alias, a model's versions, the policy itself), before anything changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

from mvctl.actor import current_actor
from mvctl.apply.served import verify_served_artifact
from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.policy import revert_denials
from mvctl.core.recorded import Change, RecordedState, Target
from mvctl.core.records import GateDecision, PinRecord
from mvctl.core.revert import (
    Restoration,
    RevertOutline,
    StatusOnly,
    VersionRestoration,
    current_value,
    outline_to,
    outline_undo,
    served_changes,
)
from mvctl.errors import ConflictError, MvctlError, NotFoundError, RevertError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import acquire_lock, close_failed, close_interrupted, release_lock
from mvctl.ops.revert_settings import RevertSettings, ServedCheck
from mvctl.results.revert import RevertResult
from mvctl.state import StateReader, StateWriter
from mvctl.state.locking import DEFAULT_LEASE_S


@dataclass(frozen=True)
class RevertOptions:
    apply_id: int | None = None
    to: int | None = None
    release: bool = False
    auto_approve: bool = False
    lock_timeout_s: float = 0.0
    force: bool = False
    """Restore even where an artifact to serve again fails verification (and log that)."""
    lock_lease_s: float = DEFAULT_LEASE_S
    actor: str | None = None
    """Who reverts (--actor); None: from the environment, as `current_actor` finds it."""


@dataclass(frozen=True)
class _Unverified:
    model: str
    alias: str
    version: str
    problem: str
    fix: str

    @property
    def line(self) -> str:
        return (
            f"{self.model}:{self.alias} would serve {self.model}@{self.version}, but {self.problem}"
        )


def revert(
    settings: RevertSettings, options: RevertOptions, *, confirm: Callable[[RevertOutline], bool]
) -> RevertResult:
    if sum([options.apply_id is not None, options.to is not None, options.release]) > 1:
        raise UsageError(
            "give one of APPLY_ID, --to APPLY_ID or --release", fix="See `mvctl revert --help`."
        )
    project = settings.project
    declared = dict(settings.aliases)
    actor = current_actor(options.actor)
    state = project.open_state(create=True)
    lock_id = acquire_lock(
        state, "revert", actor, timeout_s=options.lock_timeout_s, lease_s=options.lock_lease_s
    )
    alerts = Alerts(settings.notifications, project, "revert", actor, state.serial)
    try:
        close_interrupted(state, project)
        recorded = state.snapshot()
        if options.release:
            outline = RevertOutline(
                "release every pin left by revert",
                tuple(
                    Restoration(
                        Target("pin", m, a), current_value(recorded, Target("pin", m, a)), None
                    )
                    for (m, a) in sorted(recorded.pins)
                ),
                (),
            )
            reverts = None
        else:
            reverts = (
                options.to if options.to is not None else _apply_to_undo(state, options.apply_id)
            )
            if state.apply_record(reverts) is None:
                raise NotFoundError(f"there is no apply {reverts}", fix="See `mvctl history`.")
            # Only that apply's changes and later ones matter: a revert reads what it undoes,
            # never the whole history.
            log = state.changes(after_apply_id=reverts - 1)
            if options.to is not None:
                outline = outline_to(log, recorded, reverts, declared)
            else:
                outline = outline_undo(log, recorded, reverts, declared)
        if outline.is_empty:
            return RevertResult(outline, "nothing")
        denials = revert_denials(outline.restorations, recorded, actor)
        if denials:
            alerts.conflict(denials)
            raise ConflictError(
                "the policy in force does not allow this revert, so nothing was changed: "
                + "; ".join(f"{c.kind} {c.target}: {c.message}" for c in denials),
                fix="Revert as an allowed actor (--actor, MVCTL_ACTOR or the CI's user), or "
                "have an admin apply a policy change that allows it first.",
            )
        unverified = _verify_served(settings, state, outline, recorded)
        if unverified and not options.force:
            raise RevertError(
                "revert refused, nothing changed: " + "; ".join(u.line for u in unverified),
                fix=" ".join(dict.fromkeys(u.fix for u in unverified))
                + " To restore the pointers anyway, run the same revert with --force "
                "(the change log records it).",
            )
        if not options.auto_approve and not confirm(outline):
            return RevertResult(outline, "declined")
        apply_id = state.begin_apply(
            kind="revert",
            actor=actor,
            plan_hash=sha256_hex(canonical_json([outline.description, repr(outline.restorations)])),
            expected_serial=recorded.serial,
            reverts_apply_id=reverts,
        )
        try:
            state.record(
                apply_id, [*_forced_records(unverified), *_changes(state, outline, apply_id)]
            )
        except BaseException as error:
            alerts.failed(apply_id, error)
            stopped = close_failed(state, apply_id, error, "revert")
            if stopped is not error:
                raise stopped from error
            raise
        forced = tuple(u.line for u in unverified)
        message = (
            "forced (--force) past a failed artifact check: "
            + ", ".join(f"{u.model}:{u.alias} -> {u.version}" for u in unverified)
            if unverified
            else None
        )
        state.finish_apply(apply_id, "succeeded", message)
        alerts.rollback(apply_id, outline, reverts, forced)
        return RevertResult(outline, "done", apply_id, forced)
    finally:
        try:
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _verify_served(
    settings: RevertSettings, state: StateWriter, outline: RevertOutline, recorded: RecordedState
) -> list[_Unverified]:
    """Every artifact an alias is to serve once reverted: in the store, intact, a safe format."""
    to_verify = served_changes(outline, recorded)
    if not to_verify:
        return []
    work_dir = settings.project.private_dir / "work" / "revert"
    store = settings.project.open_store()
    unverified = []
    try:
        for served in to_verify:
            target = f"{served.model}@{served.version}"
            if not served.artifact_digest:
                unverified.append(
                    _Unverified(
                        served.model,
                        served.alias,
                        served.version,
                        "it has no artifact (it is not trained)",
                        f"Point {served.alias} at a trained version instead (`mvctl show {target}`).",
                    )
                )
                continue
            record = served.record or state.version_value(served.model, served.version)
            check = settings.checks.get(served.model, ServedCheck())
            try:
                verify_served_artifact(
                    store,
                    served.artifact_digest,
                    record.lineage if record is not None else {},
                    check.trusted_types,
                    check.torch_module,
                    work_dir,
                    state,
                    what=f"the artifact of {target}",
                )
            except MvctlError as error:
                unverified.append(
                    _Unverified(
                        served.model, served.alias, served.version, error.what, error.fix or ""
                    )
                )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return unverified


def _forced_records(unverified: list[_Unverified]) -> list[Change]:
    """The log's record of each alias `--force` restored past a failed artifact check."""
    return [
        Change(
            Target("gate", u.model, u.alias),
            None,
            GateDecision(
                u.version,
                passed=False,
                checks=({"gate": "artifact", "result": "fail", "reason": u.problem},),
                forced=True,
            ),
        )
        for u in unverified
    ]


def _apply_to_undo(state: StateReader, apply_id: int | None) -> int:
    if apply_id is not None:
        return apply_id
    last = state.last_apply_id(with_changes=True)
    if last is None:
        raise RevertError("nothing has been applied yet, so there is nothing to revert")
    return last


def _changes(state: StateWriter, outline: RevertOutline, apply_id: int) -> list[Change]:
    changes = []
    for restoration in outline.restorations:
        target = restoration.target
        if isinstance(restoration, VersionRestoration):
            changes.append(_version_change(state, restoration))
        else:
            changes.append(Change(target, restoration.current, restoration.restored))
    for model, alias, version in outline.pins:
        target = Target("pin", model, alias)
        pin = PinRecord(version, revert_apply_id=apply_id)
        changes.append(Change(target, state.pin_value(model, alias), pin))
    return changes


def _version_change(state: StateReader, restoration: VersionRestoration) -> Change:
    """The version's record now, and the one it returns to: its earlier record whole, or the
    record now with its earlier status."""
    target, restored = restoration.target, restoration.restored
    now = state.version_value(target.model, target.name)
    if isinstance(restored, StatusOnly):
        if now is None:
            raise NotFoundError(
                f"version {target} is not recorded any more, so its status cannot go back",
                fix="Run `mvctl state check`, then the revert again.",
            )
        return Change(target, now, replace(now, status=restored.status))
    return Change(target, now, restored)
