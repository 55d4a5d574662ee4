"""mvctl reproduce."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, emit, json_option, pass_app
from mvctl.cli.completion import complete_versions


@click.command()
@click.argument("reference", metavar="MODEL@VERSION|MODEL:ALIAS", shell_complete=complete_versions)
@json_option
@pass_app
def reproduce(app: AppContext, reference: str, as_json: bool) -> int:
    """Re-run a trained version's steps from its record (commands, params and the dep files
    kept in the store) in a scratch folder, and compare the model, every step's outputs and
    the metrics with the record. Changes nothing. Exits 0 when all match, 6 when something
    differs, 1 when it cannot be reproduced."""
    from mvctl.exit_codes import for_reproduce
    from mvctl.ops.reproduce import reproduce as run_reproduce
    from mvctl.render.progress import ApplyReporter
    from mvctl.render.reproduce import format_reproduce, reproduce_json

    events = ApplyReporter(app.console(stderr=as_json))
    result = run_reproduce(app.workspace(), reference, events=events)
    emit(app, result, as_json=as_json, json=reproduce_json, text=format_reproduce)
    return for_reproduce(result)


COMMANDS = [reproduce]
