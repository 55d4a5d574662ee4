"""mvctl validate."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, emit, json_option, pass_app


@click.command()
@json_option
@pass_app
def validate(app: AppContext, as_json: bool) -> int:
    """Check the config's shape and meaning; every error names file:line:column and the fix."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.validate import validate as run_validate
    from mvctl.render.validate import format_validate, validate_json

    result = run_validate(app.config_path)
    emit(app, result, as_json=as_json, json=validate_json, text=format_validate)
    return ExitCode.OK


COMMANDS = [validate]
