"""mvctl revert: undo an apply (or return to the state after one) as a new transaction.

Only pointers and statuses move; nothing is retrained or deleted. Aliases put back to a
version the config does not ask for are pinned, so the next plan shows a conflict instead of
quietly re-promoting what was just reverted. The policy in force decides who may revert what
(a protected alias, a model's versions, the policy itself), before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.policy import revert_denials
from mvctl.core.recorded import Change, Target
from mvctl.core.revert import Restoration, RevertOutline, current_value, outline_to, outline_undo
from mvctl.errors import ConflictError, NotFoundError, RevertError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.guard import close_failed, release_lock
from mvctl.state.db import StateDB
from mvctl.workspace import Workspace, current_actor


@dataclass(frozen=True)
class RevertOptions:
    apply_id: int | None = None
    to: int | None = None
    release: bool = False
    auto_approve: bool = False
    lock_timeout_s: float = 0.0
    actor: str | None = None
    """Who reverts (--actor); None: from the environment, as `current_actor` finds it."""


@dataclass(frozen=True)
class RevertResult:
    outline: RevertOutline
    status: str
    """'nothing', 'declined' or 'done'."""
    apply_id: int | None = None


def revert(
    workspace: Workspace, options: RevertOptions, *, confirm: Callable[[RevertOutline], bool]
) -> RevertResult:
    if sum([options.apply_id is not None, options.to is not None, options.release]) > 1:
        raise UsageError(
            "give one of APPLY_ID, --to APPLY_ID or --release", fix="See `mvctl revert --help`."
        )
    declared = {
        (name, alias): label
        for name, model in workspace.config.models.items()
        for alias, label in model.aliases.items()
    }
    actor = current_actor(options.actor)
    state = workspace.open_state(create=True)
    lock_id = state.acquire_lock("revert", actor, timeout_s=options.lock_timeout_s)
    alerts = Alerts(workspace, "revert", actor, state.serial)
    try:
        state.close_interrupted_applies()
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
            log = state.changes()
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
            state.record(apply_id, _changes(state, outline, apply_id))
        except BaseException as error:
            alerts.failed(apply_id, error)
            stopped = close_failed(state, apply_id, error, "revert")
            if stopped is not error:
                raise stopped from error
            raise
        state.finish_apply(apply_id, "succeeded")
        alerts.rollback(apply_id, outline, reverts)
        return RevertResult(outline, "done", apply_id)
    finally:
        try:
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _apply_to_undo(state: StateDB, apply_id: int | None) -> int:
    if apply_id is not None:
        return apply_id
    last = state.last_apply_id(with_changes=True)
    if last is None:
        raise RevertError("nothing has been applied yet, so there is nothing to revert")
    return last


def _changes(state: StateDB, outline: RevertOutline, apply_id: int) -> list[Change]:
    changes = []
    for restoration in outline.restorations:
        target = restoration.target
        if target.kind == "version":
            full = state.version_value(target.model, target.name)
            changes.append(Change(target, full, {**(full or {}), **restoration.restored}))
        else:
            changes.append(Change(target, restoration.current, restoration.restored))
    for model, alias, version in outline.pins:
        target = Target("pin", model, alias)
        changes.append(
            Change(
                target,
                state.pin_value(model, alias),
                {"version": version, "revert_apply_id": apply_id},
            )
        )
    return changes
