"""mvctl state lock / unlock / migrate / check: the state's own housekeeping."""

from __future__ import annotations

import click

from mvctl.cli.app import TEXT, AppContext, Duration, emit, json_option, pass_app

MAX_STALE_AFTER_H = 24.0 * 365
"""A year: a lock older than that on another host is stale whatever the setting."""


@click.group()
def state() -> None:
    """Housekeeping of the state database."""


@state.command()
@pass_app
def migrate(app: AppContext) -> int:
    """Create the state database or bring its schema up to date."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.state import migrate as run_migrate

    before, head = run_migrate(app.project())
    console = app.console()
    if before == head:
        console.print(f"The state schema is up to date (revision {head}).")
    else:
        console.print(f"[green]Migrated[/] the state schema from {before or 'empty'} to {head}.")
    return ExitCode.OK


@state.command()
@click.option(
    "--reason",
    type=TEXT,
    default="maintenance",
    show_default=True,
    help="Shown to anyone who meets the lock.",
)
@pass_app
def lock(app: AppContext, reason: str) -> int:
    """Take the state lock by hand (e.g. for maintenance); prints its id for `unlock`."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.state import take_lock
    from mvctl.render.markup import escape

    lock_id = escape(take_lock(app.project(), reason))
    app.console().print(
        f"Locked the state: lock {lock_id}. Release it with `mvctl state unlock {lock_id}`."
    )
    return ExitCode.OK


@state.command()
@click.argument("lock_id", type=TEXT)
@click.option(
    "--force", is_flag=True, help="Break a lock held by another process (make sure it is gone)."
)
@pass_app
def unlock(app: AppContext, lock_id: str, force: bool) -> int:
    """Release the state lock LOCK_ID (another's only with --force)."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.state import release_lock
    from mvctl.render.markup import escape

    holder = release_lock(app.project(), lock_id, force=force)
    app.console().print(
        f"Released lock {escape(lock_id)} (held by {escape(holder.actor)} for "
        f"{escape(holder.operation)} since {escape(holder.acquired_at)})."
    )
    return ExitCode.OK


@state.command()
@click.option(
    "--stale-after",
    type=Duration(MAX_STALE_AFTER_H),
    default=6.0,
    show_default=True,
    metavar="HOURS",
    help="Report a lock with no heartbeat (taken by hand, or by an older mvctl) from another "
    "host this long ago as stale.",
)
@json_option
@pass_app
def check(app: AppContext, stale_after: float, as_json: bool) -> int:
    """Check the state is whole: blobs exist and match, aliases point at trained versions,
    the change log replays to the tables, no lock is left by a dead process. Exit 1 if not."""
    from mvctl.exit_codes import for_check
    from mvctl.ops.check import check as run_check
    from mvctl.render.check import check_json, format_check

    result = run_check(app.workspace(), stale_after_s=stale_after * 3600)
    emit(app, result, as_json=as_json, json=check_json, text=format_check)
    return for_check(result)


COMMANDS = [state]
