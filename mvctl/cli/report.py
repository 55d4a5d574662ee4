"""mvctl report."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import SQL_INT_MAX, AppContext, pass_app, write_output


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
@pass_app
def report(app: AppContext, output: Path, history_limit: int) -> int:
    """Write a self-contained HTML report: each model's versions and aliases, metric tables,
    ROC curves of the aliased versions, metric trends across versions and the apply history.
    It opens in any browser with no network."""
    from mvctl.ops.report import gather_report
    from mvctl.render.markup import escape
    from mvctl.render.report_html import format_report_html

    page = format_report_html(gather_report(app.workspace(), history_limit=history_limit))
    write_output(output, page, "the report")
    app.console().print(f"Wrote {escape(str(output))} ({len(page) // 1024} KiB).")
    return 0


COMMANDS = [report]
