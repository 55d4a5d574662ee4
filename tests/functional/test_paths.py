"""Paths stay inside the project: deps, outputs, include patterns, artifact files and
evaluation data that point elsewhere — absolute, climbing out with '..', or through a symlink
inside the project — are refused by validate, plan and apply with the place and the fix.
Nothing outside is read into the store or echoed in a message, and a cache restore writes
only inside the step's folder even when the state names a hostile output.

Every test keeps a canary outside the project and checks it is untouched and unquoted.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mvctl.state.db import StateDB
from tests.functional.inprocess import apply_here, run_cli
from tests.functional.projects import Project, Result, make_tiny

SECRET = "SECRET-CANARY-7f3a"
"""What the canary files outside the project hold; no output may ever contain it."""
COMMANDS = (("validate",), ("plan",), ("apply", "--auto-approve"))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the project, with files a hostile config would like to read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text(f"a,b\n{SECRET},1\n")
    (folder / "secret.yaml").write_text(f"{SECRET}: [unclosed\n  - {SECRET}\n")
    (folder / "model.safetensors").write_text(SECRET)
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    return make_tiny(tmp_path / "proj")


def mvctl(project: Project, *args: str) -> Result:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def canary_state(outside: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(outside.iterdir())}


def assert_refused(project: Project, outside: Path, *needles: str) -> None:
    """validate, plan and apply each fail with the needles, quoting nothing from outside;
    no state is created and the canary is as it was."""
    before = canary_state(outside)
    for command in COMMANDS:
        result = mvctl(project, *command)
        assert result.code == 1, (command, result.text)
        assert "Traceback" not in result.text and "Internal error" not in result.text
        assert SECRET not in result.text, result.text
        for needle in needles:
            assert needle in result.err, (command, needle, result.err)
    assert not (project.root / ".mvctl" / "state.db").exists()
    assert not (project.root / ".mvctl" / "store").exists()
    assert canary_state(outside) == before


def edit(project: Project, old: str, new: str) -> None:
    project.edit_config(old, new)


# Written paths: absolute or climbing out with '..' ---------------------------------------


@pytest.mark.parametrize("how", ["absolute", "dotdot", "dotdot-inside-first"])
def test_dep_outside_the_project_is_refused(tiny: Project, outside: Path, how: str) -> None:
    path = {
        "absolute": str(outside / "secret.csv"),
        "dotdot": "../outside/secret.csv",
        "dotdot-inside-first": "steps/../../outside/secret.csv",
    }[how]
    edit(tiny, "deps: [steps/prepare.py]", f"deps: [steps/prepare.py, '{path}']")
    problem = "is absolute" if how == "absolute" else "climbs out of the project with '..'"
    assert_refused(tiny, outside, "mvctl.yaml:8:", f"'{path}' {problem}", "relative to the project")


def test_absolute_dep_folder_is_refused(tiny: Project, outside: Path) -> None:
    edit(tiny, "deps: [steps/prepare.py]", f"deps: [steps/prepare.py, '{outside}']")
    assert_refused(tiny, outside, "mvctl.yaml:8:", "is absolute")


def test_glob_dep_outside_the_project_is_refused(tiny: Project, outside: Path) -> None:
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, '../outside/*.csv']")
    assert_refused(tiny, outside, "mvctl.yaml:8:", "climbs out of the project")


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("../../escape.txt", "climbs out of the output folder with '..'"),
        ("/tmp/escape.txt", "is absolute"),
        ("./data.json", "has an empty or '.' part"),
        ("reports//x.txt", "has an empty or '.' part"),
    ],
)
def test_output_that_leaves_its_folder_is_refused(
    tiny: Project, outside: Path, output: str, problem: str
) -> None:
    edit(tiny, "outputs: [data.json]", f"outputs: [data.json, '{output}']")
    assert_refused(tiny, outside, "mvctl.yaml:10:", f"output '{output}' {problem}")


def test_artifact_outside_the_project_is_refused(tiny: Project, outside: Path) -> None:
    edit(
        tiny,
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n'
        "      \"2.0.0\": {artifact: '../outside/model.safetensors'}",
    )
    assert_refused(tiny, outside, "mvctl.yaml:19:", "climbs out of the project")


@pytest.mark.parametrize("shape", ["dataset", "datasets"])
def test_evaluation_data_outside_the_project_is_refused(
    tiny: Project, outside: Path, shape: str
) -> None:
    data = str(outside / "secret.csv")
    evaluation = (
        f"    evaluation: {{dataset: '{data}', label: b, metrics: [accuracy]}}\n"
        if shape == "dataset"
        else f"    evaluation: {{datasets: [{{path: '{data}', label: b}}], metrics: [accuracy]}}\n"
    )
    edit(tiny, "    versions:\n", evaluation + "    versions:\n")
    assert_refused(tiny, outside, "mvctl.yaml:16:", f"'{data}' is absolute")


@pytest.mark.parametrize("pattern", ["../outside/*.yaml", "/etc/passwd", "{outside}/secret.yaml"])
def test_include_outside_the_project_is_refused_unread(
    tiny: Project, outside: Path, pattern: str
) -> None:
    pattern = pattern.format(outside=outside)
    edit(tiny, "models:\n", f"include: ['{pattern}']\nmodels:\n")
    assert_refused(tiny, outside, "mvctl.yaml:2:", f"include pattern '{pattern}'", "inside")
    result = mvctl(tiny, "validate")
    assert "root:" not in result.text  # /etc/passwd's first line


# Paths that read well but lead out through a symlink -----------------------------------


def test_dep_file_linked_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "steps" / "leak.csv").symlink_to(outside / "secret.csv")
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, steps/leak.csv]")
    assert_refused(
        tiny,
        outside,
        "mvctl.yaml:8:",
        f"'steps/leak.csv' leads outside the project (to {outside / 'secret.csv'})",
        "Copy the file into the project",
    )


def test_dep_folder_linked_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "data").symlink_to(outside, target_is_directory=True)
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, data]")
    assert_refused(tiny, outside, "mvctl.yaml:8:", "'data' leads outside the project")


def test_link_inside_a_dep_folder_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "data").mkdir()
    (tiny.root / "data" / "real.csv").write_text("a,b\n1,2\n")
    (tiny.root / "data" / "leak.csv").symlink_to(outside / "secret.csv")
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, data]")
    assert_refused(tiny, outside, "'data' leads outside the project through 'data/leak.csv'")


def test_glob_matching_a_link_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "data").mkdir()
    (tiny.root / "data" / "real.csv").write_text("a,b\n1,2\n")
    (tiny.root / "data" / "leak.csv").symlink_to(outside / "secret.csv")
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, 'data/*.csv']")
    assert_refused(tiny, outside, "'data/*.csv' leads outside the project through 'data/leak.csv'")


def test_glob_into_a_folder_linked_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "data").symlink_to(outside, target_is_directory=True)
    edit(tiny, "deps: [steps/prepare.py]", "deps: [steps/prepare.py, 'data/**/*.csv']")
    assert_refused(tiny, outside, "'data/**/*.csv' leads outside the project")


def test_artifact_linked_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "model.safetensors").symlink_to(outside / "model.safetensors")
    edit(
        tiny,
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "2.0.0": {artifact: model.safetensors}',
    )
    assert_refused(tiny, outside, "mvctl.yaml:19:", "'model.safetensors' leads outside")


def test_evaluation_data_linked_outside_is_refused(tiny: Project, outside: Path) -> None:
    (tiny.root / "holdout.csv").symlink_to(outside / "secret.csv")
    edit(
        tiny,
        "    versions:\n",
        "    task: binary-classification\n"
        "    evaluation: {dataset: holdout.csv, label: b, metrics: [accuracy]}\n    versions:\n",
    )
    assert_refused(tiny, outside, "mvctl.yaml:17:", "'holdout.csv' leads outside the project")


def test_included_file_linked_outside_is_never_read(tiny: Project, outside: Path) -> None:
    """Its broken YAML would be quoted in a syntax error; it must not be opened at all."""
    tiny.write("models/extra.yaml", "models: {}\n")
    (tiny.root / "models" / "leak.yaml").symlink_to(outside / "secret.yaml")
    edit(tiny, "models:\n", "include: ['models/*.yaml']\nmodels:\n")
    assert_refused(
        tiny,
        outside,
        "mvctl.yaml:2:",
        "include pattern 'models/*.yaml' matches 'models/leak.yaml', which leads outside",
    )


def test_included_file_inside_the_project_is_still_quoted_in_errors(tiny: Project) -> None:
    tiny.write("models/extra.yaml", "models: {other: [unclosed\n")
    edit(tiny, "models:\n", "include: ['models/*.yaml']\nmodels:\n")
    result = mvctl(tiny, "validate")
    assert result.code == 1 and "models/extra.yaml:" in result.err, result.text


# Outputs in sub-folders: allowed, written and restored inside the output folder ---------

PREPARE_WITH_REPORT = """\
import json
from mvctl import step
p = step.params()
step.output("data.json").write_text(json.dumps({"rows": p["rows"]}))
report = step.output("reports/summary.txt")
report.parent.mkdir(parents=True, exist_ok=True)
report.write_text("rows=%d" % p["rows"])
"""

TRAIN_READS_REPORT = """\
import json, struct, sys
from mvctl import step
p = step.params()
if step.input("prepare", "reports/summary.txt").read_text() != "rows=10":
    sys.exit(5)
rows = json.loads(step.input("prepare", "data.json").read_text())["rows"]
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", p["lr"] * rows))
"""


def test_outputs_in_sub_folders_are_run_and_restored_inside(tiny: Project) -> None:
    tiny.write("steps/prepare.py", PREPARE_WITH_REPORT)
    tiny.write("steps/train.py", TRAIN_READS_REPORT)
    edit(tiny, "outputs: [data.json]", "outputs: [data.json, reports/summary.txt]")
    first = mvctl(tiny, "apply", "--auto-approve")
    assert first.code == 0, first.text
    edit(
        tiny,
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    again = apply_here(tiny.root)
    assert again.status == "succeeded", again
    with StateDB.open(f"sqlite:///{tiny.root / '.mvctl' / 'state.db'}", create=False) as db:
        lineage = db.version_detail("churn", "1.2.0")
    assert lineage is not None
    prepare = lineage.lineage["steps"]["prepare"]
    assert prepare["cached"] is True and "reports/summary.txt" in prepare["outputs"]


# A hostile output name recorded in the state -------------------------------------------


def test_restore_never_writes_outside_for_a_hostile_recorded_output_name(
    tiny: Project, tmp_path: Path
) -> None:
    """The state says prepare wrote '../../../../../../canary.txt'. Restored for the train
    step of a new version into .mvctl/work/apply-2/KEY-in/prepare/, that name would land on
    tmp_path/canary.txt. The version fails naming the row; the canary keeps its bytes."""
    canary = tmp_path / "canary.txt"
    canary.write_text(SECRET)
    assert apply_here(tiny.root).status == "succeeded"
    database = tiny.root / ".mvctl" / "state.db"
    with sqlite3.connect(database) as connection:
        (outputs_json,) = connection.execute(
            "SELECT outputs_json FROM step_runs WHERE step = 'prepare'"
        ).fetchone()
        digest = json.loads(outputs_json)["data.json"]
        hostile = "../" * 6 + "canary.txt"
        connection.execute(
            "UPDATE step_runs SET outputs_json = ? WHERE step = 'prepare'",
            (json.dumps({hostile: digest}),),
        )
    edit(
        tiny,
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    result = mvctl(tiny, "apply", "--auto-approve")
    assert canary.read_text() == SECRET
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    assert f"named '{hostile}', which climbs out of the output folder" in result.text
    with StateDB.open(f"sqlite:///{database}", create=False) as db:
        failed = db.version_detail("churn", "1.2.0")
    assert failed is not None and failed.status == "failed"
