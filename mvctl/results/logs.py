"""A version's step logs: where each is kept, and (when asked) its text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StepLog:
    """One step's log as recorded: ``how`` says whether it ran, was cached, failed or never ran."""

    step: str
    how: str
    digest: str | None
    text: str | None = None
    """The log itself, when read (None: not read, or the step has none)."""


@dataclass(frozen=True)
class LogsResult:
    reference: str
    model: str
    label: str
    steps: tuple[StepLog, ...]
    only_step: bool = False
    """Asked for one step (its log is printed without a header)."""


@dataclass(frozen=True)
class LogChunk:
    """A piece of `--follow` output: a step's header, log text, or a note about the step."""

    kind: Literal["header", "text", "note"]
    step: str
    text: str
