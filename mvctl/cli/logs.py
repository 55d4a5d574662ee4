"""mvctl logs MODEL@VERSION [STEP] [--follow]."""

from __future__ import annotations

import click

from mvctl.cli.app import AppContext, pass_app


@click.command()
@click.argument("reference", metavar="MODEL@VERSION")
@click.argument("step", required=False)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Watch a version being trained now: print each step's log as it is written.",
)
@pass_app
def logs(app: AppContext, reference: str, step: str | None, follow: bool) -> int:
    """Print a version's step logs (every step in order, or just STEP), kept in the store.

    Into a file or a pipe the logs are written as the steps wrote them; on a terminal their
    control characters are shown as escapes (newlines and tabs kept)."""
    from mvctl.ops.logs import follow_logs, read_log, recorded_logs

    console = app.console()
    workspace = app.workspace()
    if follow:
        for chunk in follow_logs(workspace, reference, step):
            if chunk.kind == "header":
                if step is None:
                    console.raw(f"== {reference} {chunk.step} ==")
            elif chunk.kind == "note":
                console.raw(f"({chunk.text})")
            else:
                console.passthrough(chunk.text)
        return 0
    entries = recorded_logs(workspace, reference, step)
    store = workspace.open_store() if any(entry.digest for entry in entries) else None
    for entry in entries:
        if step is None:
            console.raw(f"== {reference} {entry.step} ({entry.how}) ==")
        if entry.digest is None or store is None:
            console.raw("(no log)")
            continue
        text = read_log(store, entry.digest)
        if text:
            console.passthrough(text if text.endswith("\n") else text + "\n")
    return 0


COMMANDS = [logs]
