"""Applies and reverts, each with the changes it logged."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.recorded import LoggedChange
from mvctl.results.records import ApplyRecord


@dataclass(frozen=True)
class HistoryEntry:
    apply: ApplyRecord
    changes: tuple[LoggedChange, ...]


@dataclass(frozen=True)
class HistoryPage:
    """One page of history, newest first. ``next_before``: the apply id that `--before` takes
    to show the next, older page; None when no older apply matches."""

    entries: tuple[HistoryEntry, ...]
    next_before: int | None
