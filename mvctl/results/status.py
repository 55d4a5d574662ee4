"""The recorded truth now: models, their versions and aliases, pins, the lock."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.results.records import LockInfo


@dataclass(frozen=True)
class ModelStatus:
    name: str
    declared: bool
    versions: tuple[tuple[str, str, str], ...]
    """(label, status, created_at) in label order."""
    aliases: tuple[tuple[str, str, str | None], ...]
    """(alias, version, pinned-by note or None)."""


@dataclass(frozen=True)
class StatusResult:
    project: str
    state_url: str
    serial: int
    models: tuple[ModelStatus, ...]
    lock: LockInfo | None
    lock_dead: str | None = None
    """Why the lock's holder is provably dead (the next apply takes it over); None if alive."""
