"""mvctl init."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import TEXT, AppContext, emit, json_option, pass_app


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--project", type=TEXT, help="Project name (default: the folder's name).")
@json_option
@pass_app
def init(app: AppContext, folder: Path, project: str | None, as_json: bool) -> int:
    """Create a project that validates, plans and applies as it stands."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.init import init as scaffold
    from mvctl.render.init import format_init, init_json

    emit(app, scaffold(folder, project), as_json=as_json, json=init_json, text=format_init)
    return ExitCode.OK


COMMANDS = [init]
