"""mvctl logs MODEL@VERSION|MODEL:ALIAS [STEP] [--follow]."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from mvctl.cli.app import TEXT, AppContext, emit, json_option, pass_app
from mvctl.cli.completion import complete_versions


@click.command()
@click.argument(
    "reference", metavar="MODEL@VERSION|MODEL:ALIAS", type=TEXT, shell_complete=complete_versions
)
@click.argument("step", required=False, type=TEXT)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Watch a version being trained now: print each step's log as it is written.",
)
@json_option
@pass_app
def logs(app: AppContext, reference: str, step: str | None, follow: bool, as_json: bool) -> int:
    """Print a version's step logs (every step in order, or just STEP), kept in the store.

    Into a file or a pipe the logs are written as the steps wrote them; on a terminal their
    control characters are shown as escapes (newlines and tabs kept). With --json: where each
    step's log is (its digest in the store), not the logs themselves."""
    from mvctl.errors import UsageError
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.logs import follow_logs
    from mvctl.ops.logs import logs as read_logs
    from mvctl.render.logs import follow_pieces, log_pieces, logs_json

    if as_json and follow:
        raise UsageError(
            "--json and --follow cannot be combined",
            fix="Use --json for where the logs are, --follow to watch them being written.",
        )
    workspace = app.workspace()
    if follow:
        chunks = follow_logs(workspace, reference, step)
        _write(app.console(), follow_pieces(reference, chunks, only_step=step is not None))
        return ExitCode.OK
    result = read_logs(workspace, reference, step, read_text=not as_json)
    emit(
        app,
        result,
        as_json=as_json,
        json=logs_json,
        write=lambda console, logs: _write(console, log_pieces(logs)),
    )
    return ExitCode.OK


def _write(console: Any, pieces: Iterable[tuple[str, bool]]) -> None:
    """mvctl's own lines as text; the steps' logs byte for byte (``Console.passthrough``)."""
    for text, from_step in pieces:
        if from_step:
            console.passthrough(text)
        else:
            console.raw(text)


COMMANDS = [logs]
