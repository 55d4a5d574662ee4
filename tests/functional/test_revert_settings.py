"""revert reads the aliases, notifications and file checks it needs from the config's plain
values when nothing there needs the schema: it then loads neither pydantic nor SQLAlchemy, and
goes ahead over a mistake elsewhere in the config; anything it cannot read plainly goes to the
full load, with the same result or the same report."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from mvctl.errors import SpecErrors
from mvctl.ops.revert_settings import ServedCheck, revert_settings, workspace_settings
from mvctl.project import Project as Located
from mvctl.workspace import load_workspace
from tests.functional.projects import (
    TINY_CONFIG,
    Project,
    applied_tiny,
    copy_of,
    make_quickstart,
    make_tiny,
    schema_and_sql_modules_loaded,
)

NOTIFIED = TINY_CONFIG + "notifications:\n  - command: cat > notified.json\n"
TORCH_STEP = TINY_CONFIG.replace(
    "        run: python steps/train.py\n",
    "        uses: torch\n        with: {module: steps.net.Net, task: classification}\n",
)
TRUSTED = TINY_CONFIG.replace(
    "    aliases:\n", '    trusted_types: ["sklearn.tree._tree.Tree"]\n    aliases:\n'
)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return applied_tiny(tmp_path_factory.mktemp("revert-settings") / "proj")


@pytest.mark.parametrize(
    "config", [TINY_CONFIG, TRUSTED, "quickstart"], ids=["tiny", "trusted-types", "quickstart"]
)
def test_the_plain_settings_are_those_of_the_full_load(tmp_path: Path, config: str) -> None:
    if config == "quickstart":
        path = make_quickstart(tmp_path / "proj").root / "mvctl.yaml"
    else:
        path = make_tiny(tmp_path / "proj").root / "mvctl.yaml"
        path.write_text(config)
    plain = revert_settings(path)
    full = workspace_settings(load_workspace(path))
    assert plain.aliases and plain.aliases == full.aliases
    assert plain.checks == full.checks and plain.notifications == full.notifications == ()
    where = [f.name for f in fields(Located)]
    assert [getattr(plain.project, f) for f in where] == [getattr(full.project, f) for f in where]


def test_notifications_and_torch_steps_take_the_full_load(tmp_path: Path) -> None:
    path = make_tiny(tmp_path / "proj").root / "mvctl.yaml"
    path.write_text(NOTIFIED)
    notified = revert_settings(path)
    assert [n.command for n in notified.notifications] == ["cat > notified.json"]
    path.write_text(TORCH_STEP)
    assert revert_settings(path).checks["churn"] == ServedCheck((), "steps.net.Net")


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (('production: "1.0.0"', "production: [1.0.0]"), "aliases.production"),
        (("owners: [tester]", "owners: [tester]\n    trusted_types: nope"), "trusted_types"),
        (("owners: [tester]", "owners: [tester]\n    pipeline: nope"), "pipeline"),
        (
            ('aliases:\n      production: "1.0.0"\n      staging: "1.1.0"', "aliases: null"),
            "aliases",
        ),
        (("models:", "notifications: null\nmodels:"), "notifications"),
    ],
    ids=[
        "alias-not-a-label",
        "trusted-types-not-a-list",
        "pipeline-not-a-list",
        "aliases-null",
        "notifications-null",
    ],
)
def test_what_revert_cannot_read_plainly_is_reported_by_the_full_load(
    applied: Project, tmp_path: Path, edit: tuple[str, str], says: str
) -> None:
    project = copy_of(applied, tmp_path)
    project.edit_config(*edit)
    with pytest.raises(SpecErrors):
        revert_settings(project.root / "mvctl.yaml")
    validated = project.mvctl("validate")
    reverted = project.mvctl("revert", "--auto-approve")
    assert reverted.code == 1 and "Traceback" not in reverted.text
    assert says in reverted.err and reverted.err == validated.err
    project.write("mvctl.yaml", TINY_CONFIG)
    assert [a["kind"] for a in json.loads(project.mvctl("history", "--json").out)["applies"]] == [
        "apply"
    ]


def test_revert_goes_ahead_over_a_mistake_elsewhere_in_the_config(
    applied: Project, tmp_path: Path
) -> None:
    project = copy_of(applied, tmp_path)
    project.edit_config("params: {lr: 0.1}", "params: {lr: 0.1}\n        retries: many")
    assert project.mvctl("validate").code == 1
    reverted = project.mvctl("revert", "--auto-approve", "--json")
    assert reverted.code == 0, reverted.text
    assert json.loads(reverted.out)["status"] == "done"


def test_a_revert_with_notifications_sends_them(applied: Project, tmp_path: Path) -> None:
    project = copy_of(applied, tmp_path)
    project.write("mvctl.yaml", NOTIFIED)
    assert project.mvctl("revert", "--auto-approve").code == 0
    event = json.loads((project.root / "notified.json").read_text())
    assert (event["event"], event["operation"]) == ("rollback", "revert")


def test_revert_loads_neither_the_schema_nor_sqlalchemy(applied: Project, tmp_path: Path) -> None:
    """What keeps revert fast (DESIGN's bar): checked in a fresh interpreter."""
    project = copy_of(applied, tmp_path)
    assert schema_and_sql_modules_loaded(project, "revert", "--auto-approve", "--json") == "[]"
    assert json.loads(project.mvctl("history", "--json").out)["applies"][0]["kind"] == "revert"
