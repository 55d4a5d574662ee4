"""A config that validated: what it declares and which files it was read from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidateResult:
    models: int
    versions: int
    files: tuple[str, ...]
    """The files read: the config and what it includes."""
