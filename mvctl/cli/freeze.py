"""mvctl freeze."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, emit, json_option, pass_app


@click.command()
@click.argument("target", metavar="[MODEL[@VERSION]]", required=False)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 when freeze would write (for CI), 0 when nothing needs it.",
)
@json_option
@pass_app
def freeze(app: AppContext, target: str | None, check: bool, as_json: bool) -> int:
    """Write each trained version's recorded recipe into its block, so a pipeline change
    applies to new versions only and history stays as trained. Edits the YAML in place
    (comments and formatting kept) and prints the diff; reads the state, never writes it."""
    from mvctl.exit_codes import for_freeze
    from mvctl.ops.freeze import FreezeOptions
    from mvctl.ops.freeze import freeze as freeze_versions
    from mvctl.render.freeze import format_freeze, freeze_json

    result = freeze_versions(app.workspace(), FreezeOptions(target, check))
    emit(app, result, as_json=as_json, json=freeze_json, text=format_freeze)
    return for_freeze(result)


COMMANDS = [freeze]
