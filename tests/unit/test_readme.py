"""The README's Quickstart stays true: CI runs its two commands verbatim, in order."""

from __future__ import annotations

import re
from pathlib import Path

from mvctl.exit_codes import ExitCode

REPO = Path(__file__).resolve().parents[2]


def quickstart_commands() -> list[str]:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_the_quickstart_has_exactly_two_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert "mvctl apply" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_quickstart_commands_in_order() -> None:
    ci = (REPO / ".ci" / "run").read_text("utf-8")
    main_job, tests = quickstart_commands()
    assert f"({main_job})" in ci, "the main job runs in a subshell, as the README's `cd` implies"
    assert ci.index(main_job) < ci.index(f"\n{tests}\n")


def test_the_exit_code_table_is_the_one_the_commands_use() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for first_cell in re.findall(r"^\| ([\d, ]+) \|", section, re.M):
        listed.update(int(code) for code in first_cell.split(","))
    assert listed == {int(code) for code in ExitCode}
