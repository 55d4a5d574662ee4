"""mvctl monitor."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import AppContext, actor_option, emit, json_option, lock_timeout_option, pass_app
from mvctl.cli.completion import complete_versions


@click.command()
@click.argument("reference", metavar="MODEL:ALIAS", shell_complete=complete_versions)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The batch: a CSV, Parquet or NPZ file read like the model's evaluation data.",
)
@click.option(
    "--label",
    metavar="COLUMN",
    help="The batch's label column (default: the evaluation's, when the batch has it; "
    "without labels only drift is measured).",
)
@click.option(
    "--at",
    metavar="TIME",
    help="When the batch was observed, as an ISO time (default: now); samples are ordered by it.",
)
@lock_timeout_option
@actor_option
@json_option
@pass_app
def monitor(
    app: AppContext,
    reference: str,
    data: Path,
    label: str | None,
    at: str | None,
    lock_timeout: float,
    actor: str | None,
    as_json: bool,
) -> int:
    """Score the version MODEL:ALIAS serves on a new batch and record the sample.

    With labels: the model's evaluation metrics. Always: drift of each feature and of the
    predictions against the version's evaluation data (KS test and PSI for numeric columns,
    chi-square and PSI for categorical ones). Then the model's `monitoring.rules` are
    decided on the latest samples; rules may bound a metric (`f1 >= 0.85`, `f1 >= promoted
    - 0.05`) or a drift statistic: drift.psi.max, drift.ks.max, drift.share,
    drift.prediction.psi. A broken rule sends `degraded` and, with `on_degraded: rollback`,
    moves the alias back to the version it served before; with `on_degraded: trigger NAME`,
    fires that trigger (writes its version into the config). Exit code 7 when a rule broke or
    could not be decided.
    """
    from mvctl.exit_codes import for_monitor
    from mvctl.ops.monitor import MonitorOptions
    from mvctl.ops.monitor import monitor as run_monitor
    from mvctl.render.monitor import format_monitor, monitor_json

    options = MonitorOptions(data, label, at, lock_timeout, actor)
    result = run_monitor(app.workspace(), reference, options)
    emit(app, result, as_json=as_json, json=monitor_json, text=format_monitor)
    return for_monitor(result)


COMMANDS = [monitor]
