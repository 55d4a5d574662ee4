"""The exit codes of every mvctl command: one table, the same as the README's "Exit codes".

CI reads them to tell apart what happened: nothing to do, changes to review, conflicts to
resolve, a model that was not good enough, a person who said no, a tool that failed. A code
is decided once, here, from a command's result or error; commands never pick numbers. The
CLI ends with them, and `--json` error documents carry them (``error.schema.json`` lists
them), so they sit outside both.
"""

from __future__ import annotations

import signal
from enum import IntEnum
from typing import TYPE_CHECKING

from mvctl.errors import ConflictError, Interrupted

if TYPE_CHECKING:
    from mvctl.core.plan import Plan
    from mvctl.results.apply import ApplyResult
    from mvctl.results.check import CheckResult
    from mvctl.results.freeze import FreezeResult
    from mvctl.results.monitor import MonitorResult
    from mvctl.results.reproduce import ReproduceResult
    from mvctl.results.revert import RevertResult
    from mvctl.results.trigger import TriggerResult


class ExitCode(IntEnum):
    OK = 0
    """Done; for `plan --detailed-exitcode`: no changes."""
    ERROR = 1
    """The command failed: bad input or options, a step or evaluation that failed, a state
    that is not whole (`state check`), a config that `freeze --check` would edit, a stale or
    edited plan, a held lock, an internal error."""
    CHANGES = 2
    """`plan --detailed-exitcode`: the plan has changes and no conflicts."""
    CONFLICTS = 3
    """The plan has conflicts (a `not_allowed` policy denial among them); `plan` reports them,
    `apply` and `revert` refuse to start."""
    REFUSED = 4
    """Apply recorded what it could, but a promotion was refused: a gate failed or was
    inconclusive, or a health check or `on_failure: rollback` put the alias back; nothing
    else failed."""
    DECLINED = 5
    """Answered "no" at the confirmation prompt: nothing changed."""
    DIFFERS = 6
    """`reproduce`: the version was re-run from its record, and a step's output, the model or
    a metric differs from what the record holds."""
    DEGRADED = 7
    """`mvctl monitor` recorded the sample, and a monitoring rule broke (`degraded` was sent,
    and the alias rolled back where the model says so) or could not be decided (a NaN or
    missing value, which is never a pass)."""
    INTERRUPTED = 128 + signal.SIGINT
    """Stopped by SIGINT (Ctrl-C), after cleaning up."""
    TERMINATED = 128 + signal.SIGTERM
    """Stopped by SIGTERM (a cancelled CI job), after cleaning up."""


def for_error(error: BaseException) -> ExitCode:
    """The code for a command that ended with ``error``."""
    if isinstance(error, Interrupted):
        return ExitCode(128 + error.signum)
    if isinstance(error, ConflictError):
        return ExitCode.CONFLICTS
    return ExitCode.ERROR


def for_plan(plan: Plan, *, detailed: bool) -> ExitCode:
    if plan.has_conflicts:
        return ExitCode.CONFLICTS
    if detailed and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def for_apply(result: ApplyResult) -> ExitCode:
    if result.status == "declined":
        return ExitCode.DECLINED
    if not result.failed:
        return ExitCode.OK
    return ExitCode.REFUSED if result.only_refused else ExitCode.ERROR


def for_revert(result: RevertResult) -> ExitCode:
    return ExitCode.DECLINED if result.status == "declined" else ExitCode.OK


def for_trigger(result: TriggerResult) -> ExitCode:
    """0 whatever fired (the edit is a proposal); with --apply, the apply's own code."""
    return ExitCode.OK if result.applied is None else for_apply(result.applied)


def for_monitor(result: MonitorResult) -> ExitCode:
    return ExitCode.OK if result.status == "ok" else ExitCode.DEGRADED


def for_check(result: CheckResult) -> ExitCode:
    return ExitCode.OK if result.ok else ExitCode.ERROR


def for_freeze(result: FreezeResult) -> ExitCode:
    """`freeze --check` fails while the config does not yet pin what history holds."""
    return ExitCode.ERROR if result.check and result.edits else ExitCode.OK


def for_reproduce(result: ReproduceResult) -> ExitCode:
    return ExitCode.OK if result.status == "match" else ExitCode.DIFFERS
