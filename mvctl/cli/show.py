"""mvctl status, history, show: the recorded truth."""

from __future__ import annotations

import click

from mvctl.cli.app import APPLY_ID, SQL_INT_MAX, TEXT, AppContext, emit, json_option, pass_app
from mvctl.cli.completion import complete_models, complete_versions

HISTORY_PAGE = 20
"""Applies `mvctl history` shows unless --limit says otherwise: a long log is read a page at a
time."""


@click.command()
@click.argument("model", required=False, type=TEXT, shell_complete=complete_models)
@json_option
@pass_app
def status(app: AppContext, model: str | None, as_json: bool) -> int:
    """Recorded models, versions, aliases, pins and the lock."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.status import status as read_status
    from mvctl.render.status import format_status, status_json

    result = read_status(app.project(), model)
    emit(app, result, as_json=as_json, json=status_json, text=format_status)
    return ExitCode.OK


@click.command()
@click.argument(
    "model",
    metavar="[MODEL|MODEL:ALIAS]",
    required=False,
    type=TEXT,
    shell_complete=complete_models,
)
@click.option(
    "--since", metavar="DATE", help="Only applies started at or after this ISO date/time."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=SQL_INT_MAX),
    default=HISTORY_PAGE,
    show_default=True,
    help="At most this many applies: a page.",
)
@click.option(
    "--before",
    type=APPLY_ID,
    metavar="ID",
    help="Only applies older than apply ID: the next page, as the last line of a full page says.",
)
@click.option(
    "--monitor",
    "samples",
    is_flag=True,
    help="The `mvctl monitor` samples of MODEL:ALIAS instead, oldest first, with the rules.",
)
@json_option
@pass_app
def history(
    app: AppContext,
    model: str | None,
    since: str | None,
    limit: int,
    before: int | None,
    samples: bool,
    as_json: bool,
) -> int:
    """Applies, reverts and automatic rollbacks, newest first, with every change they made, a
    page at a time; with --monitor, the monitor samples of one alias."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.history import history as read_history
    from mvctl.render.records import format_history, history_json

    if samples:
        from mvctl.errors import UsageError
        from mvctl.ops.monitor import monitor_history
        from mvctl.render.monitor import format_monitor_history, monitor_history_json

        limit_given = click.get_current_context().get_parameter_source("limit") not in (
            click.core.ParameterSource.DEFAULT,
            None,
        )
        paging = limit_given or before is not None
        if model is None or since is not None or paging:
            raise UsageError(
                "--monitor lists the samples of one alias and takes no --since, --limit or "
                "--before",
                fix="Run `mvctl history MODEL:ALIAS --monitor`.",
            )
        found = monitor_history(app.workspace(), model)
        emit(app, found, as_json=as_json, json=monitor_history_json, text=format_monitor_history)
        return ExitCode.OK

    page = read_history(app.project(), model=model, since=since, limit=limit, before=before)
    emit(app, page, as_json=as_json, json=history_json, text=format_history)
    return ExitCode.OK


@click.command()
@click.argument(
    "reference", metavar="MODEL@VERSION|MODEL:ALIAS", type=TEXT, shell_complete=complete_versions
)
@json_option
@pass_app
def show(app: AppContext, reference: str, as_json: bool) -> int:
    """One version's record: params, spec hash, artifact digest, lineage, who and when.

    MODEL:ALIAS names the version the alias points at now (as the plan prints it)."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.show import show as read_show
    from mvctl.render.show import format_show, show_json

    result = read_show(app.workspace(), reference)
    emit(app, result, as_json=as_json, json=show_json, text=format_show)
    return ExitCode.OK


COMMANDS = [status, history, show]
