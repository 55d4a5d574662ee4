"""The `mvctl` program tunes the garbage collector for itself; the CLI run in a test process
does not, because frozen objects are never freed and a test process runs thousands."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.functional.inprocess import run_cli

REPO = Path(__file__).resolve().parents[2]

REPORT_GC = (
    "import gc, sys\n"
    "import mvctl.cli as cli\n"
    "cli.main = lambda: print(gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    "{entry}\n"
)


def _collector_seen_by_main(entry: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", REPORT_GC.format(entry=entry)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_program_freezes_start_up_and_collects_young_objects_in_batches() -> None:
    assert _collector_seen_by_main("cli.run()") == "50000 True"
    assert _collector_seen_by_main(
        "import runpy; runpy.run_module('mvctl', run_name='__main__')"
    ) == ("50000 True")


def test_the_installed_command_is_the_tuned_entry_point() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts["mvctl"] == "mvctl.cli:run"


def test_the_cli_in_a_test_process_leaves_the_collector_alone() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert run_cli("--version").code == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
