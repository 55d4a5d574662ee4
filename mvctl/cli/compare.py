"""mvctl compare."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import TEXT, AppContext, emit, json_option, pass_app
from mvctl.cli.completion import complete_versions


@click.command()
@click.argument(
    "version_a", metavar="MODEL@A|MODEL:ALIAS", type=TEXT, shell_complete=complete_versions
)
@click.argument(
    "version_b", metavar="MODEL@B|MODEL:ALIAS", type=TEXT, shell_complete=complete_versions
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Score both on this CSV, Parquet or NPZ file instead of the model's evaluation data.",
)
@click.option(
    "--label",
    "label_column",
    metavar="COLUMN",
    help="With --data: the column holding the true labels (default: the evaluation's).",
)
@json_option
@pass_app
def compare(
    app: AppContext,
    version_a: str,
    version_b: str,
    data: Path | None,
    label_column: str | None,
    as_json: bool,
) -> int:
    """Metrics of two versions side by side on the same data, with absolute and relative
    deltas (B against A), coloured by whether each metric got better or worse."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.compare import compare as run_compare
    from mvctl.render.compare import compare_json, format_compare

    result = run_compare(app.workspace(), version_a, version_b, data, label_column)
    emit(app, result, as_json=as_json, json=compare_json, text=format_compare)
    return ExitCode.OK


COMMANDS = [compare]
