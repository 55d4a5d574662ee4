"""Whether the config is valid, and every problem found in it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in the config, where it is (when known) and what to do about it."""

    message: str
    file: str | None
    line: int | None
    column: int | None
    field: str | None


@dataclass(frozen=True)
class ValidateResult:
    problems: tuple[Problem, ...]
    models: int | None = None
    """Models declared (None when the config does not load)."""
    versions: int | None = None
    files: tuple[str, ...] = ()
    """The files read: the config and what it includes."""

    @property
    def valid(self) -> bool:
        return not self.problems
