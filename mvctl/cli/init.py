"""mvctl init."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import AppContext, pass_app


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--project", help="Project name (default: the folder's name).")
@pass_app
def init(app: AppContext, folder: Path, project: str | None) -> int:
    """Create a project that validates, plans and applies as it stands."""
    from mvctl.ops.init import init as scaffold
    from mvctl.render.markup import escape

    result = scaffold(folder, project)
    console = app.console()
    for name in result.created:
        console.print(f"[green]created[/] {escape(str(result.folder / name))}")
    console.print("Next: `mvctl plan` to see what would be trained, then `mvctl apply`.")
    return 0


COMMANDS = [init]
