"""How many cases the standing hostile suite generated: per test, its examples and the
commands they ran by exit code. Kept light (no mvctl import), because the session's root
conftest reads it to print the counts, from this process or, under pytest-xdist, from what
each worker sent back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WORKER_OUTPUT_KEY = "hostile_tallies"
"""Where a pytest-xdist worker hands its tallies to the controller."""


@dataclass
class Tally:
    """One generated test: its examples (hypothesis' generated cases) and their commands."""

    examples: int = 0
    codes: Counter[int] = field(default_factory=Counter)

    @property
    def commands(self) -> int:
        return sum(self.codes.values())


TALLIES: dict[str, Tally] = {}
"""By test name, in the order the tests ran."""
COUNTING: list[Tally] = []
"""The tally of the example running now (a stack of one)."""


@contextmanager
def counting(name: str) -> Iterator[None]:
    """Count one example of test ``name`` and the commands it runs (``count_command``)."""
    tally = TALLIES.setdefault(name, Tally())
    tally.examples += 1
    COUNTING.append(tally)
    try:
        yield
    finally:
        COUNTING.pop()


def count_command(code: int) -> None:
    if COUNTING:
        COUNTING[-1].codes[code] += 1


def as_data() -> dict[str, Any]:
    """The tallies as plain values (a worker's output crosses a process boundary)."""
    return {
        name: {"examples": tally.examples, "codes": {str(c): n for c, n in tally.codes.items()}}
        for name, tally in TALLIES.items()
    }


def merge(data: dict[str, Any]) -> None:
    for name, values in data.items():
        tally = TALLIES.setdefault(name, Tally())
        tally.examples += values["examples"]
        tally.codes.update({int(code): count for code, count in values["codes"].items()})


def summary_lines() -> list[str]:
    lines = []
    for name, tally in sorted(TALLIES.items()):
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(tally.codes.items()))
        lines.append(f"{name}: {tally.examples} cases, {tally.commands} commands (exit {codes})")
    examples = sum(tally.examples for tally in TALLIES.values())
    commands = sum(tally.commands for tally in TALLIES.values())
    lines.append(f"total: {examples} cases, {commands} commands")
    return lines
