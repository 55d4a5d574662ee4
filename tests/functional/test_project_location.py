"""status and history find the project and its state from the config files without checking
them against the schema: they show the recorded state over a mistake elsewhere in the config,
never load pydantic, and leave anything unexpected in what they read to the full load, which
reports it as every command does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.projects import (
    Project,
    applied_tiny,
    copy_of,
    schema_and_sql_modules_loaded,
)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return applied_tiny(tmp_path_factory.mktemp("located") / "proj")


def test_status_and_history_show_the_state_over_a_mistake_elsewhere_in_the_config(
    applied: Project, tmp_path: Path
) -> None:
    project = copy_of(applied, tmp_path)
    project.edit_config("params: {lr: 0.1}", "params: {lr: 0.1}\n        retries: many")
    assert project.mvctl("validate").code == 1  # the config is wrong ...
    status = project.mvctl("status", "--json")
    assert status.code == 0, status.text  # ... and the state is still there to see
    shown = json.loads(status.out)
    assert shown["project"] == "tiny"
    (model,) = shown["models"]
    assert model["name"] == "churn" and model["declared"] is True
    assert {a["alias"]: a["version"] for a in model["aliases"]} == {
        "production": "1.0.0",
        "staging": "1.1.0",
    }
    history = project.mvctl("history", "--json")
    assert history.code == 0, history.text
    assert [a["kind"] for a in json.loads(history.out)["applies"]] == ["apply"]


def test_state_housekeeping_works_over_a_mistake_elsewhere_in_the_config(
    applied: Project, tmp_path: Path
) -> None:
    project = copy_of(applied, tmp_path)
    project.edit_config("params: {lr: 0.1}", "params: {lr: 0.1}\n        retries: many")
    assert project.mvctl("validate").code == 1
    locked = project.mvctl("state", "lock", "--reason", "maintenance")
    assert locked.code == 0, locked.text
    lock_id = json.loads(project.mvctl("status", "--json").out)["lock"]["lock_id"]
    assert lock_id in locked.out
    unlocked = project.mvctl("state", "unlock", lock_id)
    assert unlocked.code == 0, unlocked.text
    assert json.loads(project.mvctl("status", "--json").out)["lock"] is None
    migrated = project.mvctl("state", "migrate")
    assert (migrated.code, "up to date" in migrated.out) == (0, True), migrated.text


def test_a_model_dropped_from_the_config_is_shown_as_not_declared(
    applied: Project, tmp_path: Path
) -> None:
    project = copy_of(applied, tmp_path)
    project.write("mvctl.yaml", "project: tiny\nmodels: {}\n")
    (model,) = json.loads(project.mvctl("status", "--json").out)["models"]
    assert model["name"] == "churn" and model["declared"] is False


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("project: 'not a name!'\nmodels: {}\n", "project"),
        ("project: tiny\nstate: 7\nmodels: {}\n", "state"),
        ("project: tiny\ninclude: ['../elsewhere/*.yaml']\nmodels: {}\n", "inside the project"),
        ("project: tiny\nmodels: [churn]\n", "models"),
        ("project: [tiny\n", "mvctl.yaml"),
    ],
    ids=["bad-name", "state-not-text", "include-outside", "models-not-a-mapping", "broken-yaml"],
)
def test_what_locating_cannot_take_is_reported_by_the_full_load(
    applied: Project, tmp_path: Path, config: str, says: str
) -> None:
    project = copy_of(applied, tmp_path)
    project.write("mvctl.yaml", config)
    validated = project.mvctl("validate")
    for command in ("status", "history"):
        result = project.mvctl(command)
        assert result.code == 1, result.text
        assert "Traceback" not in result.text
        assert says in result.err
        assert result.err == validated.err  # the very report every command gives


def test_the_state_named_by_the_environment_wins_over_the_config(
    applied: Project, tmp_path: Path
) -> None:
    project = copy_of(applied, tmp_path)
    elsewhere = tmp_path / "other.db"
    result = project.mvctl("status", "--json", extra_env={"MVCTL_STATE": f"sqlite:///{elsewhere}"})
    assert result.code == 0, result.text
    shown = json.loads(result.out)
    assert shown["state"] == f"sqlite:///{elsewhere}" and shown["models"] == []


@pytest.mark.parametrize("command", ["status", "history"])
def test_reading_the_state_loads_neither_the_schema_nor_sqlalchemy(
    applied: Project, command: str
) -> None:
    """What keeps these two fast (DESIGN's bars): checked in a fresh interpreter."""
    assert schema_and_sql_modules_loaded(applied, command, "--json") == "[]"
