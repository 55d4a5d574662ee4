"""mvctl revert."""

from __future__ import annotations

from functools import partial
from typing import Any

import click

from mvctl.cli.app import (
    APPLY_ID,
    AppContext,
    actor_option,
    emit,
    json_option,
    lock_options,
    pass_app,
)
from mvctl.cli.apply import confirm_on_terminal


@click.command()
@click.argument("apply_id", required=False, type=APPLY_ID)
@click.option(
    "--to",
    "to",
    type=APPLY_ID,
    metavar="APPLY_ID",
    help="Restore the state as it was right after this apply.",
)
@click.option("--release", is_flag=True, help="Release every pin left by earlier reverts.")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Restore even when an artifact to serve again is missing, corrupt or unsafe "
    "(recorded in the history).",
)
@actor_option
@lock_options
@json_option
@pass_app
def revert(
    app: AppContext,
    apply_id: int | None,
    to: int | None,
    release: bool,
    auto_approve: bool,
    force: bool,
    actor: str | None,
    lock_timeout: float,
    lock_lease: float,
    as_json: bool,
) -> int:
    """Undo the last apply (or APPLY_ID) as a new, itself revertible, transaction.

    Moves aliases and statuses back; never retrains or deletes. Every artifact an alias is to
    serve again is verified first (digest, safe format). Restored aliases are pinned until the
    config agrees or `--release`."""
    from mvctl.exit_codes import for_revert
    from mvctl.ops.revert import RevertOptions
    from mvctl.ops.revert import revert as run_revert
    from mvctl.ops.revert_settings import revert_settings
    from mvctl.render.revert import format_revert_outline, format_revert_result, revert_json

    # The outline to confirm goes where people read: stderr under --json.
    console = app.console(stderr=as_json)

    def confirm(outline: Any) -> bool:
        console.print(format_revert_outline(outline))
        return confirm_on_terminal("Revert?", err=as_json)

    options = RevertOptions(
        apply_id,
        to,
        release,
        auto_approve,
        lock_timeout,
        actor=actor,
        force=force,
        lock_lease_s=lock_lease,
    )
    result = run_revert(revert_settings(app.config_path), options, confirm=confirm)
    emit(
        app,
        result,
        as_json=as_json,
        json=revert_json,
        text=partial(format_revert_result, with_outline=auto_approve),
    )
    return for_revert(result)


COMMANDS = [revert]
