"""mvctl state lock / unlock / migrate: the state's own housekeeping."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, pass_app


@click.group()
def state() -> None:
    """Housekeeping of the state database."""


@state.command()
@pass_app
def migrate(app: AppContext) -> int:
    """Create the state database or bring its schema up to date."""
    from mvctl.ops.state import migrate as run_migrate

    before, head = run_migrate(app.workspace())
    console = app.console()
    if before == head:
        console.print(f"The state schema is up to date (revision {head}).")
    else:
        console.print(f"[green]Migrated[/] the state schema from {before or 'empty'} to {head}.")
    return 0


@state.command()
@click.option("--reason", default="maintenance", show_default=True, help="Shown to anyone who meets the lock.")
@pass_app
def lock(app: AppContext, reason: str) -> int:
    """Take the state lock by hand (e.g. for maintenance); prints its id for `unlock`."""
    from mvctl.ops.state import take_lock

    lock_id = take_lock(app.workspace(), reason)
    app.console().print(f"Locked the state: lock {lock_id}. Release it with `mvctl state unlock {lock_id}`.")
    return 0


@state.command()
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Break a lock held by another process (make sure it is gone).")
@pass_app
def unlock(app: AppContext, lock_id: str, force: bool) -> int:
    """Release the state lock LOCK_ID (another's only with --force)."""
    from mvctl.ops.state import release_lock

    holder = release_lock(app.workspace(), lock_id, force=force)
    app.console().print(
        f"Released lock {lock_id} (held by {holder.actor} for {holder.operation} since {holder.acquired_at})."
    )
    return 0


COMMANDS = [state]
