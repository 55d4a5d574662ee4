"""What users reach for: versions named by alias, another working folder, colour as the
conventions say, and completion of the names the project holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mvctl.render.console import color_wanted
from tests.functional.inprocess import run_cli
from tests.functional.projects import Project, applied_tiny

ESC = "\x1b["


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return applied_tiny(tmp_path_factory.mktemp("conveniences") / "proj")


def cli(project: Project, *args: str) -> tuple[int, str, str]:
    result = run_cli("-c", str(project.root / "mvctl.yaml"), *args)
    return result.code, result.out, result.err


def test_show_takes_an_alias_for_the_version_it_serves(applied: Project) -> None:
    code, by_alias, _ = cli(applied, "show", "churn:staging", "--json")
    _, by_label, _ = cli(applied, "show", "churn@1.1.0", "--json")
    assert code == 0
    assert json.loads(by_alias) == json.loads(by_label)


def test_compare_and_logs_take_aliases(applied: Project) -> None:
    code, out, _ = cli(applied, "logs", "churn:production", "train")
    assert code == 0 and out == cli(applied, "logs", "churn@1.0.0", "train")[1]
    code, _, err = cli(applied, "compare", "churn:production", "churn:staging")
    # The tiny model declares no evaluation: the alias resolved, then compare said why.
    assert code == 1 and "declares no evaluation" in err


def test_an_unknown_alias_names_the_recorded_ones(applied: Project) -> None:
    code, _, err = cli(applied, "show", "churn:prod")
    assert code == 1
    assert "alias churn:prod points at no version" in err and "'production'" in err


def test_a_reference_that_is_neither_form_is_refused(applied: Project) -> None:
    code, _, err = cli(applied, "show", "churn")
    assert code == 1 and "neither MODEL@VERSION nor MODEL:ALIAS" in err


def test_chdir_works_as_if_started_in_the_folder(applied: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = os.getcwd()
    os.chdir(elsewhere)
    try:
        result = run_cli("-C", str(applied.root), "plan", "--out", "saved.plan")
    finally:
        os.chdir(before)
    assert result.code == 0, result.text
    # Relative paths on the command line are the folder's, as with `terraform -chdir`.
    assert (applied.root / "saved.plan").is_file()
    assert not (elsewhere / "saved.plan").exists()
    (applied.root / "saved.plan").unlink()


def test_chdir_into_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    result = run_cli("-C", str(tmp_path / "nosuch"), "status")
    assert result.code == 1 and "cannot work in" in result.err and "Traceback" not in result.err


def test_the_config_can_come_from_the_environment(applied: Project, tmp_path: Path) -> None:
    env = {**applied.env, "MVCTL_CONFIG": str(applied.root / "mvctl.yaml")}
    done = subprocess.run(
        [sys.executable, "-m", "mvctl", "status", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["project"] == "tiny"


def forced(project: Project, *args: str, **env: str) -> str:
    """stdout of mvctl into a pipe, with FORCE_COLOR and NO_COLOR as given."""
    variables = {k: v for k, v in project.env.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run(
        [sys.executable, "-m", "mvctl", *args],
        cwd=project.root,
        env={**variables, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_force_color_colours_a_pipe_and_no_color_wins(applied: Project) -> None:
    assert ESC in forced(applied, "status", FORCE_COLOR="1")
    assert ESC not in forced(applied, "status")
    assert ESC not in forced(applied, "status", FORCE_COLOR="1", NO_COLOR="1")
    # --no-color after the command name, where it is easy to add to a CI step.
    assert ESC not in forced(applied, "status", "--no-color", FORCE_COLOR="1")
    assert ESC not in forced(applied, "state", "check", "--no-color", FORCE_COLOR="1")


def test_an_empty_no_color_does_not_turn_colour_off() -> None:
    assert color_wanted(True, {"NO_COLOR": ""}) is True
    assert color_wanted(True, {"NO_COLOR": "1"}) is False
    assert color_wanted(False, {"FORCE_COLOR": ""}) is False
    assert color_wanted(True, {"TERM": "dumb"}) is False


def completions(project: Project, words: str, shell: str = "bash") -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mvctl"],
        cwd=project.root,
        env={
            **project.env,
            "_MVCTL_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_completion_offers_the_recorded_versions_and_aliases(applied: Project) -> None:
    assert completions(applied, "mvctl show ch") == [
        "churn@1.0.0",
        "churn@1.1.0",
        "churn:production",
        "churn:staging",
    ]
    assert completions(applied, "mvctl compare churn:s") == ["churn:staging"]
    assert completions(applied, "mvctl status ") == ["churn"]


def test_completion_outside_a_project_offers_nothing(tmp_path: Path, applied: Project) -> None:
    outside = Project(tmp_path, applied.env)
    assert completions(outside, "mvctl show ") == []
