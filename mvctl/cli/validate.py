"""mvctl validate."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, json_option, pass_app


@click.command()
@json_option
@pass_app
def validate(app: AppContext, as_json: bool) -> int:
    """Check the config's shape and meaning; every error names file:line:column and the fix."""
    from mvctl.errors import SpecError, SpecErrors
    from mvctl.render.markup import escape

    console = app.console()
    try:
        workspace = app.workspace()
        workspace.check_deps_exist()
        workspace.check_registered_artifacts()
    except SpecError as error:
        if not as_json:
            raise
        errors = error.errors if isinstance(error, SpecErrors) else (error,)
        console.json(
            {
                "valid": False,
                "errors": [
                    {
                        "message": e.message,
                        "file": e.place.file if e.place else None,
                        "line": e.place.line if e.place else None,
                        "column": e.place.column if e.place else None,
                        "field": e.field,
                    }
                    for e in errors
                ],
            }
        )
        return 1
    config = workspace.config
    versions = sum(len(m.versions) for m in config.models.values())
    if as_json:
        console.json(
            {"valid": True, "models": len(config.models), "versions": versions, "errors": []}
        )
    else:
        console.print(
            f"[green]Valid:[/] {len(config.models)} models, {versions} versions "
            f"({escape(', '.join(str(f) for f in workspace.loaded.files))})."
        )
    return 0


COMMANDS = [validate]
