"""`mvctl logs`: each step's header and log as pieces for the Console, and the logs' metadata
as JSON (`schemas/logs.schema.json`).

A piece is (text, from_step): a header or a note is mvctl's own text; a log is the step's,
which the Console writes byte for byte into a file or a pipe (``Console.passthrough``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.results.logs import LogChunk, LogsResult

if TYPE_CHECKING:
    from mvctl.render.shapes import LogsJson

LogPiece = tuple[str, bool]
"""(text, whether it is a step's own output)."""


def log_pieces(result: LogsResult) -> Iterator[LogPiece]:
    for entry in result.steps:
        if not result.only_step:
            yield f"== {result.reference} {entry.step} ({entry.how}) ==", False
        if entry.digest is None:
            yield "(no log)", False
        elif entry.text:
            yield (entry.text if entry.text.endswith("\n") else entry.text + "\n"), True


def follow_pieces(
    reference: str, chunks: Iterable[LogChunk], *, only_step: bool
) -> Iterator[LogPiece]:
    """`logs --follow`: each step's header (unless one step was asked for), then its log as it
    is written, or a note saying why there is none."""
    for chunk in chunks:
        if chunk.kind == "header":
            if not only_step:
                yield f"== {reference} {chunk.step} ==", False
        elif chunk.kind == "note":
            yield f"({chunk.text})", False
        else:
            yield chunk.text, True


def logs_json(result: LogsResult) -> LogsJson:
    return {
        "format_version": FORMAT_VERSION,
        "reference": result.reference,
        "model": result.model,
        "label": result.label,
        "steps": [
            {"step": entry.step, "how": entry.how, "digest": entry.digest} for entry in result.steps
        ],
    }
