"""The `mvctl` program tunes the garbage collector for itself, and freezes the config and the
state snapshot once built; the CLI run in a test process only pauses the collector while they
are built, because cycles among frozen objects are never freed and a test process runs
thousands."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mvctl.collector import built_to_last
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


FROZEN_ONCE_BUILT = """
import gc, sys
from pathlib import Path

from mvctl.collector import tune_for_one_command
from mvctl.spec.loader import load_config
from mvctl.state.db import StateDB


def scanned(value):
    return any(each is value for each in gc.get_objects())


tune_for_one_command()
config = load_config(Path(sys.argv[1])).config
with StateDB.open(sys.argv[2], create=True) as state:
    snapshot = state.snapshot()
print(scanned(config), scanned(snapshot), gc.isenabled())
"""


def test_the_program_freezes_the_config_and_the_snapshot_it_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FROZEN_ONCE_BUILT,
            str(REPO / "examples" / "quickstart" / "mvctl.yaml"),
            f"sqlite:///{tmp_path / 'state.db'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "False", "True"]


def test_in_a_test_process_a_lasting_build_only_pauses_the_collector() -> None:
    frozen = gc.get_freeze_count()
    with built_to_last():
        assert not gc.isenabled()
        built = [{"version": index} for index in range(100)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    assert any(each is built for each in gc.get_objects())


def test_a_failed_build_turns_the_collector_back_on() -> None:
    frozen = gc.get_freeze_count()
    with pytest.raises(ValueError), built_to_last():
        raise ValueError("the config does not load")
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
