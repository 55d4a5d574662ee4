"""mvctl store gc: the blob store's housekeeping."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, emit, json_option, lock_timeout_option, pass_app


@click.group()
def store() -> None:
    """Housekeeping of the blob store (local folder or S3)."""


@store.command()
@click.option(
    "--delete", is_flag=True, help="Remove the unreferenced blobs (default: only list them)."
)
@lock_timeout_option
@json_option
@pass_app
def gc(app: AppContext, delete: bool, lock_timeout: float, as_json: bool) -> int:
    """List blobs that no recorded version, change-log entry or cached step refers to;
    with --delete, remove them (holding the state lock)."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.store import gc as run_gc
    from mvctl.render.store import format_gc, gc_json

    result = run_gc(app.workspace(), delete=delete, lock_timeout_s=lock_timeout)
    emit(app, result, as_json=as_json, json=gc_json, text=format_gc)
    return ExitCode.OK


COMMANDS = [store]
