"""What an apply did: one outcome per action, and whether what held it back was a refusal.

A promotion that a gate held back (failed or inconclusive), or that apply put back because
its health check failed or another change of its model failed (`on_failure: rollback`), is a
refusal: apply worked, the model was not good enough. CI tells it from a failure (a step that
crashed, an artifact missing) by the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mvctl.core.plan import Action, Plan

ApplyStatus = Literal["no_changes", "declined", "succeeded", "failed"]
OutcomeStatus = Literal["done", "failed", "skipped", "rolled_back"]
"""How an action ended: 'rolled_back' is a promotion whose health check failed (or whose
model failed elsewhere under `on_failure: rollback`): the aliases are back where they were."""
ROLLED_BACK: OutcomeStatus = "rolled_back"


@dataclass(frozen=True)
class ActionOutcome:
    action: Action
    status: OutcomeStatus
    message: str = ""
    steps: tuple[tuple[str, str], ...] = ()
    """For a trained version: (step, 'run' or 'cached') in step order, as apply did it."""
    gate_failed: bool = False
    """A promotion a gate held back (what `gate_failed` is sent for)."""

    @property
    def refused(self) -> bool:
        """A promotion held back or put back because the model was not good enough."""
        return self.gate_failed or self.status == ROLLED_BACK


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    status: ApplyStatus
    apply_id: int | None = None
    outcomes: tuple[ActionOutcome, ...] = ()

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status != "done")

    @property
    def only_refused(self) -> bool:
        """Something was refused and nothing else went wrong: every outcome that is not done
        is a refusal, or skipped because of one (a failure always leaves a failed outcome)."""
        failed = self.failed
        return any(o.refused for o in failed) and all(
            o.refused or o.status == "skipped" for o in failed
        )
