"""The events apply, revert, trigger and monitor announce, shaped for ``apply.notify``.

Every event is one JSON object: its kind and a fresh id (so a receiver can drop a repeat),
the project, operation, actor and time, the apply it belongs to, and the state serial after
what happened — a failure is reported with the state it left. Sending never raises and never
waits past the notifier's budget: an alert must not turn a failure into a worse one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mvctl import clock
from mvctl.apply.notify import Notifier
from mvctl.core.plan import action_to_dict
from mvctl.core.records import value_json
from mvctl.errors import MvctlError
from mvctl.results.apply import ROLLED_BACK

if TYPE_CHECKING:
    from mvctl.core.monitoring import RuleVerdict
    from mvctl.core.plan import Conflict, Plan
    from mvctl.core.revert import RevertOutline
    from mvctl.project import Project
    from mvctl.results.apply import ActionOutcome
    from mvctl.results.monitor import MonitorRollback
    from mvctl.spec.models import Notification


class Alerts:
    """The events of one apply, revert or monitor run, sent to the config's notifications."""

    def __init__(
        self,
        notifications: Sequence[Notification],
        project: Project,
        operation: str,
        actor: str,
        serial: Callable[[], int],
    ) -> None:
        self._notifier = Notifier(notifications, project.root)
        self._project = project.name
        self._operation = operation
        self._actor = actor
        self._serial = serial

    def conflict(self, conflicts: Sequence[Conflict]) -> None:
        """The operation was refused before any change: conflicts, or policy denials."""
        self._send(
            "conflict",
            None,
            conflicts=[
                {"kind": c.kind, "target": c.target, "message": c.message} for c in conflicts
            ],
        )

    def started(self, apply_id: int, plan: Plan) -> None:
        self._send("apply_started", apply_id, plan_hash=plan.hash, summary=plan.summary())

    def finished(self, apply_id: int, status: str, outcomes: Sequence[ActionOutcome]) -> None:
        """gate_failed for each promotion a gate held back (an alias move or the replacement
        of a version aliases serve), rollback for each one undone, then how the apply ended.
        """
        for outcome in outcomes:
            if outcome.gate_failed:
                self._send(
                    "gate_failed",
                    apply_id,
                    action=action_to_dict(outcome.action),
                    message=outcome.message,
                )
            if outcome.status == ROLLED_BACK:
                self._send(
                    "rollback",
                    apply_id,
                    automatic=True,
                    action=action_to_dict(outcome.action),
                    message=outcome.message,
                )
        not_done = [
            {"action": action_to_dict(o.action), "status": o.status, "message": o.message}
            for o in outcomes
            if o.status != "done"
        ]
        if status == "succeeded":
            self._send("apply_succeeded", apply_id, changes=len(outcomes))
        else:
            self._send("apply_failed", apply_id, error=None, not_done=not_done)

    def failed(self, apply_id: int | None, error: BaseException) -> None:
        """The operation stopped on an error after it had begun."""
        message = error.message if isinstance(error, MvctlError) else type(error).__name__
        self._send("apply_failed", apply_id, error=message, not_done=[])

    def rollback(
        self,
        apply_id: int,
        outline: RevertOutline,
        reverts: int | None,
        forced: Sequence[str] = (),
    ) -> None:
        self._send(
            "rollback",
            apply_id,
            automatic=False,
            reverts_apply_id=reverts,
            forced=list(forced),
            description=outline.description,
            restored=[
                {
                    "target": str(r.target),
                    "from": value_json(r.current),
                    "to": value_json(r.restored),
                }
                for r in outline.restorations
            ],
        )

    def trigger_fired(self, details: dict[str, Any]) -> None:
        """A trigger wrote a new version (and an alias move) into the config; nothing is
        trained until the change is applied."""
        self._send("trigger_fired", None, **details)

    def degraded(
        self,
        model: str,
        alias: str,
        version: str,
        verdict: RuleVerdict,
        rollback: MonitorRollback | None,
    ) -> None:
        """A monitoring rule broke on the samples of what ``model:alias`` serves."""
        self._send(
            "degraded",
            rollback.apply_id if rollback is not None else None,
            model=model,
            alias=alias,
            version=version,
            rule=verdict.rule,
            bound=verdict.bound,
            values=list(verdict.values),
            samples=list(verdict.samples),
            reason=verdict.reason,
            rollback=None
            if rollback is None
            else {
                "status": rollback.status,
                "to": rollback.to_version,
                "message": rollback.message,
            },
        )

    def monitor_rollback(
        self,
        apply_id: int,
        model: str,
        alias: str,
        rollback: MonitorRollback,
        broken: Sequence[RuleVerdict],
    ) -> None:
        """A broken monitoring rule moved the alias back (`on_degraded: rollback`)."""
        self._send(
            "rollback",
            apply_id,
            automatic=True,
            model=model,
            alias=alias,
            restored=rollback.to_version,
            replaced=rollback.from_version,
            rules=[verdict.rule for verdict in broken],
            samples=sorted({i for verdict in broken for i in verdict.samples}),
            message=rollback.message,
        )

    def close(self) -> None:
        self._notifier.close()

    def _send(self, kind: str, apply_id: int | None, **details: Any) -> None:
        if not self._notifier.targets:
            return
        try:
            serial: int | None = self._serial()
        except MvctlError:
            serial = None  # the state is what failed; the event still goes out
        self._notifier.send(
            {
                "event": kind,
                "id": uuid.uuid4().hex,
                "project": self._project,
                "operation": self._operation,
                "actor": self._actor,
                "time": clock.now_stamp(),
                "apply_id": apply_id,
                "serial": serial,
                "details": details,
            }
        )
