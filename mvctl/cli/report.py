"""mvctl report."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import SQL_INT_MAX, AppContext, emit, json_option, pass_app


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the HTML page.",
)
@click.option(
    "--history",
    "history_limit",
    type=click.IntRange(min=0, max=SQL_INT_MAX),
    default=50,
    show_default=True,
    help="How many of the latest applies to list.",
)
@json_option
@pass_app
def report(app: AppContext, output: Path, history_limit: int, as_json: bool) -> int:
    """Write a self-contained HTML report: each model's versions and aliases, metric tables,
    ROC curves of the aliased versions, metric trends across versions and the apply history.
    It opens in any browser with no network."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.report import report as write_report
    from mvctl.render.report import format_report_written, report_json
    from mvctl.render.report_html import format_report_html

    result = write_report(
        app.workspace(), output, history_limit=history_limit, page=format_report_html
    )
    emit(app, result, as_json=as_json, json=report_json, text=format_report_written)
    return ExitCode.OK


COMMANDS = [report]
