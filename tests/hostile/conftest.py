"""The standing suite's template project, trained once per session, and the folder its cases
are copied into (see ``tests.hostile.standing``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.standing import TALLIES, Template, build_template


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("standing") / "template")


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("standing-cases")
    yield folder
    assert not list(folder.iterdir()), "a case was left behind"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many cases each generated test ran, and the commands in them by exit code."""
    if not TALLIES:
        return
    terminalreporter.section("standing hostile suite: generated cases")
    for name, tally in TALLIES.items():
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(tally.codes.items()))
        terminalreporter.write_line(
            f"{name}: {tally.examples} cases, {tally.commands} commands (exit {codes})"
        )
    examples = sum(tally.examples for tally in TALLIES.values())
    commands = sum(tally.commands for tally in TALLIES.values())
    terminalreporter.write_line(f"total: {examples} cases, {commands} commands")
