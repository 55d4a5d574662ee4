"""The CLI's other verbs and its error paths: clear messages, exit 1, no traceback, no state."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest

from tests.functional.projects import Project, base_env, make_tiny


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    return make_tiny(tmp_path / "proj")


def assert_clean_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    for needle in needles:
        assert needle in result.err, result.err


BAD_CONFIGS = [
    ("duplicate key", "project: tiny\nproject: other\n", ["mvctl.yaml:2:", "project"]),
    (
        "numeric label",
        "project: tiny\nmodels:\n  m:\n    versions:\n      1.10: {}\n",
        ["mvctl.yaml:5:", '"1.10"'],
    ),
    ("unknown key", "project: tiny\nmodles: {}\n", ["mvctl.yaml:2:", "Did you mean 'models'?"]),
    ("malformed yaml", "project: tiny\nmodels: [\n", ["mvctl.yaml:"]),
]


@pytest.mark.parametrize(("name", "text", "needles"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_bad_config_is_a_clear_error_and_touches_nothing(
    tiny: Project, name: str, text: str, needles: list[str], command: str
) -> None:
    (tiny.root / "mvctl.yaml").write_text(text)
    args = [command, "--auto-approve"] if command == "apply" else [command]
    assert_clean_error(tiny.mvctl(*args), *needles)
    assert not (tiny.root / ".mvctl" / "state.db").exists()


def test_missing_dep_file_names_the_step_and_file(tiny: Project) -> None:
    (tiny.root / "steps" / "prepare.py").unlink()
    assert_clean_error(tiny.mvctl("plan"), "mvctl.yaml:8:", "'steps/prepare.py' does not exist")


def test_apply_without_terminal_or_auto_approve_refuses(tiny: Project) -> None:
    result = tiny.mvctl("apply")
    assert_clean_error(result, "no terminal to confirm on", "--auto-approve")
    status = json.loads(tiny.mvctl("status", "--json").out)
    assert status["models"] == [] and status["lock"] is None


def test_revert_without_terminal_or_auto_approve_refuses(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    result = tiny.mvctl("revert")
    assert_clean_error(result, "no terminal to confirm on")
    history = json.loads(tiny.mvctl("history", "--json").out)["applies"]
    assert [h["kind"] for h in history] == ["apply", "apply"]


def test_init_scaffolds_a_project_that_applies(tmp_path: Path) -> None:
    project = Project(tmp_path / "fresh", base_env(None))
    project.root.mkdir()
    assert project.mvctl("init").code == 0
    assert project.mvctl("validate").code == 0
    assert project.mvctl("plan", "--detailed-exitcode").code == 2
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert project.mvctl("plan", "--detailed-exitcode").code == 0
    again = project.mvctl("init")
    assert_clean_error(again, "already exists")


def test_show_and_history_report_the_record(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    shown = json.loads(tiny.mvctl("show", "churn@1.1.0", "--json").out)
    assert shown["params"] == {"prepare": {"rows": 10}, "train": {"lr": 0.2}}
    assert shown["status"] == "trained" and shown["created_by"] == "tester"
    assert shown["artifact_digest"].startswith("sha256:")
    assert shown["aliases"] == ["staging"]
    assert set(shown["lineage"]["steps"]) == {"prepare", "train"}
    first = json.loads(tiny.mvctl("show", "churn@1.0.0", "--json").out)
    # The two versions share their prepare step: one of them runs it, the other restores it.
    cached = [v["lineage"]["steps"]["prepare"]["cached"] for v in (first, shown)]
    assert sorted(cached) == [False, True]
    history = json.loads(tiny.mvctl("history", "churn", "--json").out)["applies"]
    targets = [c["target"] for c in history[0]["changes"]]
    # Independent changes are recorded as they finish: an alias after its own version only.
    assert targets[0] == "churn"
    assert sorted(targets[1:]) == [
        "churn:production",
        "churn:staging",
        "churn@1.0.0",
        "churn@1.1.0",
    ]
    assert targets.index("churn:production") > targets.index("churn@1.0.0")
    assert targets.index("churn:staging") > targets.index("churn@1.1.0")
    assert json.loads(tiny.mvctl("history", "--since", "2999-01-01", "--json").out)["applies"] == []
    missing = tiny.mvctl("show", "churn@9.9.9")
    assert_clean_error(missing, "churn@9.9.9 is not recorded")


def test_markdown_plan_for_pull_requests(tiny: Project) -> None:
    result = tiny.mvctl("plan", "--markdown")
    assert result.code == 0
    assert result.out.startswith("### mvctl plan — `tiny`")
    assert "| trains | steps run |" in result.out and "`run` prepare" in result.out


def test_removed_version_is_archived_and_artifact_kept(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    digest = json.loads(tiny.mvctl("show", "churn@1.1.0", "--json").out)["artifact_digest"]
    tiny.edit_config('      "1.1.0": {params: {train: {lr: 0.2}}}\n', "")
    tiny.edit_config('      staging: "1.1.0"\n', "")
    plan = tiny.mvctl("plan")
    assert "- archive churn@1.1.0" in plan.out and "- alias churn:staging" in plan.out
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    assert json.loads(tiny.mvctl("show", "churn@1.1.0", "--json").out)["status"] == "archived"
    blob = tiny.root / ".mvctl" / "store" / "objects" / digest[7:9] / digest[9:]
    assert blob.is_file()


def test_artifact_version_is_registered_and_pickle_refused(tiny: Project) -> None:
    skops_io = pytest.importorskip("skops.io")
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    skops_io.dump(model, tiny.root / "external.skops")
    tiny.edit_config('      "1.1.0"', '      "2.0.0": {artifact: external.skops}\n      "1.1.0"')
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    shown = json.loads(tiny.mvctl("show", "churn@2.0.0", "--json").out)
    assert (
        shown["status"] == "trained" and shown["lineage"]["artifact"]["source"] == "external.skops"
    )

    (tiny.root / "evil.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    tiny.edit_config('      "2.0.0"', '      "3.0.0": {artifact: evil.pkl}\n      "2.0.0"')
    refused = tiny.mvctl("apply", "--auto-approve")
    assert refused.code == 1 and "is a pickle" in refused.text
    assert "mvctl.yaml:" in refused.err and "(evil.pkl)" in refused.err
    assert tiny.mvctl("show", "churn@3.0.0").code == 1  # refused before anything was recorded


def test_version_and_help_are_fast_paths(tiny: Project) -> None:
    version = tiny.mvctl("--version")
    assert version.code == 0 and version.out.startswith("mvctl ")
    for command in (
        "plan",
        "apply",
        "revert",
        "status",
        "history",
        "show",
        "init",
        "validate",
        "state",
        "logs",
        "store",
    ):
        assert tiny.mvctl(command, "--help").code == 0


def test_cli_import_stays_light() -> None:
    import subprocess

    code = (
        "import sys, mvctl.cli, mvctl.cli.app; "
        "heavy = [m for m in ('torch', 'sklearn', 'boto3', 'ray', 'matplotlib', 'skops', 'numpy', "
        "'sqlalchemy', 'pydantic') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_quickstart_example_trains_for_real(tmp_path: Path) -> None:
    from tests.functional.projects import make_quickstart

    project = make_quickstart(tmp_path / "quickstart")
    planned = project.mvctl("plan", "--detailed-exitcode")
    assert planned.code == 2 and "run    prepare" in planned.out
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    shown = json.loads(project.mvctl("show", "cancer@1.1.0", "--json").out)
    assert shown["params"]["train"]["n_estimators"] == 300
    from skops.io import load

    store = project.root / ".mvctl" / "store" / "objects"
    digest = shown["artifact_digest"][len("sha256:") :]
    forest = load(store / digest[:2] / digest[2:], trusted=["sklearn.tree._tree.Tree"])
    assert type(forest).__name__ == "RandomForestClassifier" and forest.n_estimators == 300
    assert project.mvctl("plan", "--detailed-exitcode").code == 0
