"""Every command-line input checked, end to end through the CLI: a mistyped target or name,
an out-of-range timeout, a path that cannot be written, a store that cannot be written, a
params block too large for the environment or an integer too long to hash. Each ends in one
line naming the input and the fix, exit 1, no traceback, and the state as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvctl.state.db import StateDB
from mvctl.state.inventory import Inventory
from tests.functional.inprocess import run_cli
from tests.functional.projects import Project, Result, make_tiny

ONE_LINE_ERROR = "Error: "


def mvctl(project: Project, *args: str) -> Result:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text, result.text
    lines = result.err.strip().splitlines()
    assert lines and lines[-1].startswith(ONE_LINE_ERROR), result.err
    for needle in needles:
        assert needle in result.err, (needle, result.err)


def inventory(project: Project) -> Inventory:
    with StateDB.open(f"sqlite:///{project.root / '.mvctl' / 'state.db'}", create=False) as db:
        found = db.inventory()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The tiny project after one apply; the tests that use it only read."""
    project = make_tiny(tmp_path_factory.mktemp("inputs") / "proj")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    before = inventory(project)
    yield project
    assert inventory(project) == before


# --target -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize(
    ("target", "needles"),
    [
        ("???", ["--target '???'", "model '???' is neither declared nor recorded", "'churn'"]),
        ("chrun", ["model 'chrun' is neither declared nor recorded", "Did you mean 'churn'?"]),
        ("churn@nosuch", ["version 'nosuch' of churn", "Versions of churn: '1.0.0', '1.1.0'"]),
        ("churn@1.0", ["version '1.0' of churn", "Did you mean '1.0.0'"]),
        ("", ["--target '' is not MODEL or MODEL@VERSION", "--target churn@1.0.0"]),
        ("churn@", ["--target 'churn@' is not MODEL or MODEL@VERSION"]),
        ("@1.0.0", ["--target '@1.0.0' is not MODEL or MODEL@VERSION"]),
    ],
)
def test_unknown_target_is_an_error_with_near_names(
    applied: Project, command: str, target: str, needles: list[str]
) -> None:
    args = ["--auto-approve"] if command == "apply" else ["--detailed-exitcode"]
    result = mvctl(applied, command, "--target", target, *args)
    assert_one_line_error(result, *needles)
    assert "No changes" not in result.text


def test_targets_recorded_but_no_longer_declared_are_accepted(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    project.edit_config('      "1.1.0": {params: {train: {lr: 0.2}}}\n', "")
    project.edit_config('      staging: "1.1.0"\n', "")
    result = mvctl(project, "plan", "--target", "churn@1.1.0")
    assert result.code == 0, result.text
    assert "churn@1.1.0" in result.out and "No changes" not in result.out


# --lock-timeout -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["apply", "revert"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-5", "86401", "soon"])
def test_lock_timeout_outside_its_range_is_refused(
    applied: Project, command: str, value: str
) -> None:
    result = mvctl(applied, command, "--auto-approve", f"--lock-timeout={value}")
    assert_one_line_error(result, "Invalid value for '--lock-timeout'")


def test_lock_timeout_help_states_the_maximum(applied: Project) -> None:
    assert "0 to 86400" in mvctl(applied, "apply", "--help").out


@pytest.mark.parametrize("value", ["0", "2.5", "86400"])
def test_lock_timeout_within_its_range_is_taken(applied: Project, value: str) -> None:
    result = mvctl(applied, "apply", "--auto-approve", f"--lock-timeout={value}")
    assert result.code == 0 and "No changes" in result.out, result.text


@pytest.mark.parametrize(
    "args",
    [
        ("revert", "99999999999999999999999"),
        ("revert", "--to", "99999999999999999999999"),
        ("revert", "--to", "0"),
        ("history", "--limit", "99999999999999999999999"),
        ("history", "--limit", "-1"),
        ("history", "--limit", "0"),
        ("report", "--history", "-3"),
        ("state", "check", "--stale-after", "nan"),
        ("state", "check", "--stale-after", "-1"),
        ("state", "check", "--stale-after", "inf"),
    ],
)
def test_numbers_out_of_their_range_are_refused(applied: Project, args: tuple[str, ...]) -> None:
    """Ids and limits past what the state database holds overflowed it (an internal error);
    a negative limit meant no limit to SQLite and an error to PostgreSQL."""
    assert_one_line_error(mvctl(applied, *args), "Invalid value for", "is not")


# Params larger than the environment allows ----------------------------------------------

PREPARE_REPORTS_PARAMS = """\
import json, os
from mvctl import step
p = step.params()
step.output("data.json").write_text(json.dumps({"rows": p["rows"]}))
step.output("seen.json").write_text(json.dumps({
    "inline": os.environ.get("MVCTL_PARAMS"),
    "blob_chars": len(p.get("blob", "")),
}))
"""


@pytest.mark.parametrize(("chars", "inline"), [(225_000, False), (1_000, True)])
def test_params_too_large_for_the_environment_go_by_file(
    tmp_path: Path, chars: int, inline: bool
) -> None:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/prepare.py", PREPARE_REPORTS_PARAMS)
    blob = "x" * chars
    project.edit_config(
        "params: {rows: 10}\n        outputs: [data.json]",
        f'params: {{rows: 10, blob: "{blob}"}}\n        outputs: [data.json, seen.json]',
    )
    result = mvctl(project, "apply", "--auto-approve")
    assert result.code == 0, result.text[-2000:]
    with StateDB.open(f"sqlite:///{project.root / '.mvctl' / 'state.db'}", create=False) as db:
        detail = db.version_detail("churn", "1.0.0")
    assert detail is not None
    store_digest = detail.lineage["steps"]["prepare"]["outputs"]["seen.json"]
    blob_path = project.root / ".mvctl" / "store" / "objects" / store_digest[7:9] / store_digest[9:]
    seen = json.loads(blob_path.read_text())
    assert seen["blob_chars"] == chars
    if inline:
        assert json.loads(seen["inline"]) == {"blob": blob, "rows": 10}
    else:
        assert seen["inline"] is None


# Integers too long to hash --------------------------------------------------------------


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("apply", "--auto-approve")])
@pytest.mark.parametrize("written", ["9" * 4301, "-" + "9" * 5000, "0x" + "f" * 3600])
def test_integer_param_too_long_to_hash_is_a_config_error(
    tmp_path: Path, command: tuple[str, ...], written: str
) -> None:
    project = make_tiny(tmp_path / "proj")
    project.edit_config("params: {rows: 10}", f"params: {{rows: 10, seed: {written}}}")
    result = mvctl(project, *command)
    assert_one_line_error(
        result,
        "mvctl.yaml:9:",
        "'models.churn.pipeline[0].params.seed'",
        "more than 4300 decimal digits",
        "Quote it",
    )
    assert written[5:40] not in result.text
    assert not (project.root / ".mvctl" / "state.db").exists()


def test_integer_of_4300_digits_plans(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    project.edit_config("params: {rows: 10}", f"params: {{rows: 10, seed: {'9' * 4300}}}")
    result = mvctl(project, "plan", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["actions"]


# Files the user names to write ----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "why"),
    [("missing/folder/out", "No such file or directory"), ("/dev/full", "No space left")],
)
@pytest.mark.parametrize(
    ("args", "what"), [(("plan", "--out"), "the plan"), (("report", "-o"), "the report")]
)
def test_output_file_that_cannot_be_written_is_an_error(
    applied: Project, args: tuple[str, str], what: str, target: str, why: str
) -> None:
    path = target if target.startswith("/") else str(applied.root / target)
    result = mvctl(applied, *args, path)
    assert_one_line_error(result, f"cannot write {what} to {path}: {why}", "Check that its folder")


def test_init_into_a_path_under_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    result = run_cli("init", str(tmp_path / "afile" / "proj"))
    assert_one_line_error(result, "cannot create the project in", "Not a directory")


# A store that cannot be written --------------------------------------------------------


def test_unwritable_store_stops_apply_before_training(tmp_path: Path) -> None:
    """The store folder lies under a regular file, which no user (root included) can write
    into; apply says so before it records or trains anything."""
    project = make_tiny(tmp_path / "proj")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    before = inventory(project)
    project.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    (project.root / "blocker").write_text("")
    os.environ["MVCTL_STORE"] = str(project.root / "blocker" / "store")
    try:
        result = mvctl(project, "apply", "--auto-approve")
    finally:
        del os.environ["MVCTL_STORE"]
    assert_one_line_error(result, "cannot write in the store folder", "MVCTL_STORE")
    assert "running" not in result.text
    assert inventory(project) == before
    assert not (project.root / ".mvctl" / "work" / "apply-2").exists()


# Names of recorded models and versions -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("status", "NOSUCH"), ["model 'NOSUCH' is not recorded", "Recorded models: 'churn'"]),
        (("status", "chrun"), ["model 'chrun' is not recorded", "Did you mean 'churn'?"]),
        (("history", "NOSUCH"), ["model 'NOSUCH' is not recorded", "Recorded models: 'churn'"]),
        (("history", "chrun"), ["Did you mean 'churn'?"]),
        (("show", "NOSUCH@1.0"), ["model 'NOSUCH' is not recorded", "Recorded models"]),
        (("show", "churn@1.0"), ["churn@1.0 is not recorded", "Did you mean '1.0.0'"]),
        (("show", "churn@9"), ["churn@9 is not recorded", "Recorded versions of churn: '1.0.0'"]),
        (("logs", "chrun@1.0.0"), ["model 'chrun' is not recorded", "Did you mean 'churn'?"]),
        (("logs", "churn@1.1"), ["churn@1.1 is not recorded", "Did you mean '1.1.0'?"]),
        (
            ("logs", "churn@1.1", "--follow"),
            ["churn@1.1 is not declared", "Did you mean '1.1.0'?", "Without --follow"],
        ),
        (("compare", "chrun@1.0.0", "chrun@1.1.0"), ["model 'chrun' is not declared"]),
    ],
)
def test_unknown_names_say_so_and_list_near_ones(
    applied: Project, args: tuple[str, ...], needles: list[str]
) -> None:
    result = mvctl(applied, *args)
    assert_one_line_error(result, *needles)
    assert "No applies recorded" not in result.text and "Nothing recorded" not in result.text


def test_declared_model_not_yet_recorded_says_to_apply(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    result = mvctl(project, "status", "churn")
    assert_one_line_error(result, "model 'churn' is declared but not recorded yet", "mvctl apply")


def test_compare_names_an_unrecorded_version(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    project.write("data/holdout.csv", "a,b\n1,0\n")
    project.edit_config(
        "    versions:\n",
        "    task: binary-classification\n"
        "    evaluation: {dataset: data/holdout.csv, label: b, metrics: [accuracy]}\n"
        "    versions:\n",
    )
    result = mvctl(project, "compare", "churn@1.0.0", "churn@1.0")
    assert_one_line_error(result, "churn@1.0 is not recorded", "Did you mean '1.0.0'")


def test_known_names_still_answer(applied: Project) -> None:
    assert "churn" in mvctl(applied, "status", "churn").out
    assert "#1 apply" in mvctl(applied, "history", "churn").out
    assert mvctl(applied, "show", "churn@1.0.0").code == 0
