"""mvctl apply."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mvctl.cli.app import (
    AppContext,
    actor_option,
    emit,
    json_option,
    lock_options,
    pass_app,
    plan_options,
)


def confirm_on_terminal(question: str, *, err: bool) -> bool:
    """Ask on the terminal (on stderr with ``err``, beside JSON on stdout); with no terminal
    to ask on, refuse rather than guess."""
    from mvctl.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(
            "there is no terminal to confirm on",
            fix="Review the plan and re-run with --auto-approve (as CI does after the merge approved it).",
        )
    return click.confirm(question, default=False, err=err)


@click.command()
@click.argument(
    "planfile", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@plan_options
@actor_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Run at most N steps at once, across every version and model, within the cores, "
    "memory and GPUs the steps declare (default: one per CPU).",
)
@click.option(
    "--executor",
    default=None,
    metavar="local|ray[:ADDRESS]",
    help="Run the steps here (local) or as Ray tasks: ray (the Ray running on this machine), "
    "ray:local (a Ray started for this apply) or ray:HOST:PORT (default: the config's "
    "`executor:`).",
)
@lock_options
@json_option
@pass_app
def apply(
    app: AppContext,
    planfile: Path | None,
    targets: tuple[str, ...],
    on_conflict: str | None,
    retry_failed: bool,
    refresh_only: bool,
    actor: str | None,
    auto_approve: bool,
    parallel: int | None,
    executor: str | None,
    lock_timeout: float,
    lock_lease: float,
    as_json: bool,
) -> int:
    """Train, record and promote what the plan says (computes a plan if PLANFILE is not given)."""
    from mvctl.core.planner import PlanOptions
    from mvctl.exit_codes import for_apply
    from mvctl.ops.apply import ApplyOptions
    from mvctl.ops.apply import apply as run_apply
    from mvctl.render.apply_result import apply_json, format_apply_result
    from mvctl.render.plan import format_plan_text
    from mvctl.render.progress import ApplyReporter

    # Progress and the plan to confirm go where people read: stderr under --json.
    console = app.console(stderr=as_json)

    def confirm(plan: Any) -> bool:
        console.print(format_plan_text(plan))
        return confirm_on_terminal("Apply these changes?", err=as_json)

    options = ApplyOptions(
        planfile,
        auto_approve,
        PlanOptions(targets, on_conflict, retry_failed, refresh_only, actor),
        lock_timeout,
        lock_lease,
        parallel=parallel,
        executor=executor,
    )
    reporter = ApplyReporter(console)
    try:
        result = run_apply(app.workspace(), options, confirm=confirm, events=reporter)
    finally:
        reporter.close()
    emit(app, result, as_json=as_json, json=apply_json, text=format_apply_result)
    return for_apply(result)


COMMANDS = [apply]
