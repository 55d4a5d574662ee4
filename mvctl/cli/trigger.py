"""mvctl trigger."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from mvctl.cli.app import AppContext, actor_option, emit, json_option, lock_timeout_option, pass_app

FIRST_YEAR, LAST_YEAR = 1970, 9998


def parse_moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """--now as a UTC date-time: ISO text; one without a zone is UTC. Years outside
    1970-9998 are refused: the state's stamps and cron periods are four-digit years."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time such as 2026-11-29T02:30:00Z."
        ) from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise click.BadParameter(
            f"{value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR} that mvctl records."
        )
    return moment


@click.command()
@click.argument("selected", nargs=-1, metavar="[MODEL[:TRIGGER]]...")
@click.option(
    "--now",
    callback=parse_moment,
    metavar="TIME",
    help="Evaluate at this moment (ISO date-time, UTC unless it names a zone; default: now).",
)
@click.option("--dry-run", is_flag=True, help="Show what would fire; write no file and no state.")
@click.option(
    "--apply",
    "then_apply",
    is_flag=True,
    help="Apply right after writing, through the normal apply path (gates, health checks, "
    "on_failure, the policy in force), without asking.",
)
@actor_option
@lock_timeout_option
@json_option
@pass_app
def trigger(
    app: AppContext,
    selected: tuple[str, ...],
    now: datetime | None,
    dry_run: bool,
    then_apply: bool,
    actor: str | None,
    lock_timeout: float,
    as_json: bool,
) -> int:
    """Evaluate the triggers; write the version each one that fires proposes into the config.

    A trigger fires at most once per cron period, per change of its watched files, or per set
    of monitor samples its `when:` condition held on (the state records each firing). Nothing is trained: review the edit (a pull request), then
    apply it, or pass --apply.
    """
    from mvctl.exit_codes import for_trigger
    from mvctl.ops.trigger import TriggerOptions, run_triggers
    from mvctl.render.progress import ApplyReporter
    from mvctl.render.trigger import format_trigger, trigger_json

    options = TriggerOptions(now, dry_run, then_apply, actor, selected, lock_timeout)
    reporter = ApplyReporter(app.console(stderr=as_json))
    result = run_triggers(app.workspace(), options, events=reporter)
    emit(app, result, as_json=as_json, json=trigger_json, text=format_trigger)
    return for_trigger(result)


COMMANDS = [trigger]
