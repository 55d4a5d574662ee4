"""Every `--json` output is the document its schema in schemas/ describes, and stdout holds
nothing else: real `mvctl` processes on a small project that trains, evaluates and promotes
for real (scikit-learn), with a notification that cannot be delivered, so apply has a
warning to print and progress to show beside its JSON.

The schemas are generated from the types that build the documents; a test keeps the
checked-in copies current (`python -m mvctl.render.schemas`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mvctl.render.schemas import output_schemas, render_schema
from tests.functional.projects import REPO, Project, Result, base_env
from tests.functional.scored_project import make_scored

SCHEMAS = REPO / "schemas"
CONFIG_SCHEMAS = {"mvctl.schema.json", "mvctl-include.schema.json"}
UNDELIVERABLE = """\
notifications:
  - webhook: "http://127.0.0.1:1/hook"
    events: [apply_succeeded]
    retries: 0
"""


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text("utf-8"))
    return loaded


def document(result: Result) -> Any:
    """Stdout as exactly one JSON document (json.loads refuses anything around it)."""
    return json.loads(result.out)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    """Each schema file -> the output of a real command it documents."""
    root = tmp_path_factory.mktemp("contracts")
    project = make_scored(root / "proj")
    project.write("mvctl.yaml", project.config() + UNDELIVERABLE)
    runs: dict[str, Result] = {}
    runs["init.schema.json"] = Project(root, base_env(None)).mvctl(
        "init", str(root / "fresh"), "--json"
    )
    runs["validate.schema.json"] = project.mvctl("validate", "--json")
    runs["plan.schema.json"] = project.mvctl("plan", "--json", "--detailed-exitcode")
    runs["apply.schema.json"] = project.mvctl("apply", "--auto-approve", "--json")
    runs["status.schema.json"] = project.mvctl("status", "--json")
    runs["history.schema.json"] = project.mvctl("history", "--json")
    runs["show.schema.json"] = project.mvctl("show", "churn@1.1.0", "--json")
    runs["compare.schema.json"] = project.mvctl("compare", "churn@1.0.0", "churn@1.1.0", "--json")
    runs["logs.schema.json"] = project.mvctl("logs", "churn@1.0.0", "--json")
    runs["reproduce.schema.json"] = project.mvctl("reproduce", "churn:staging", "--json")
    runs["check.schema.json"] = project.mvctl("state", "check", "--json")
    runs["gc.schema.json"] = project.mvctl("store", "gc", "--json")
    runs["report.schema.json"] = project.mvctl(
        "report", "-o", str(project.root / "report.html"), "--json"
    )
    runs["monitor.schema.json"] = project.mvctl(
        "monitor", "churn:production", "--data", "data/holdout.csv", "--json"
    )
    runs["history-monitor.schema.json"] = project.mvctl(
        "history", "churn:production", "--monitor", "--json"
    )
    project.edit_config("params: {C: 1.0}", "params: {C: 0.5}")  # 1.0.0 takes the default
    runs["freeze.schema.json"] = project.mvctl("freeze", "--json")
    runs["revert.schema.json"] = project.mvctl("revert", "--auto-approve", "--json")
    bundle = root / "churn-1.1.0.tar.gz"
    runs["export.schema.json"] = project.mvctl("export", "churn@1.1.0", "-o", str(bundle), "--json")
    runs["import.schema.json"] = Project(root / "fresh", base_env(None)).mvctl(
        "import", str(bundle), "--json"
    )
    runs["error.schema.json"] = project.mvctl("show", "churn@9.9.9", "--json")
    project.edit_config(
        '      staging: "1.1.0"\n',
        '      staging: "1.1.0"\n'
        '    triggers: [{name: nightly, schedule: "0 2 * * *", from: "1.1.0", always: true}]\n',
    )
    runs["trigger.schema.json"] = project.mvctl(
        "trigger", "--now", "2026-03-01T02:30:00Z", "--apply", "--json"
    )
    yield runs


def test_the_checked_in_output_schemas_are_current() -> None:
    """Regenerate with `python -m mvctl.render.schemas`."""
    generated = output_schemas()
    on_disk = {path.name for path in SCHEMAS.glob("*.schema.json")} - CONFIG_SCHEMAS
    assert on_disk == set(generated)
    for name, made in generated.items():
        assert (SCHEMAS / name).read_text("utf-8") == render_schema(made), name


@pytest.mark.parametrize("name", sorted(output_schemas()))
def test_each_schema_is_valid_and_versions_its_documents(name: str) -> None:
    loaded = schema(name)
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert "format_version" in loaded["required"]
    assert "const" in loaded["properties"]["format_version"]
    assert loaded["additionalProperties"] is False


def test_every_output_schema_is_checked_against_a_real_run(outputs: dict[str, Result]) -> None:
    assert set(outputs) == set(output_schemas())


@pytest.mark.parametrize("name", sorted(output_schemas()))
def test_the_real_output_matches_its_schema(outputs: dict[str, Result], name: str) -> None:
    result = outputs[name]
    expected_code = {"error.schema.json": 1, "plan.schema.json": 2}.get(name, 0)
    assert result.code == expected_code, result.text
    data = document(result)
    jsonschema.Draft202012Validator(schema(name)).validate(data)
    assert data["format_version"] == schema(name)["properties"]["format_version"]["const"]


def test_progress_and_warnings_go_to_stderr_beside_json(outputs: dict[str, Result]) -> None:
    applied = outputs["apply.schema.json"]
    assert "was not delivered" in applied.err  # the webhook on port 1
    assert "churn@1.0.0 prepare" in applied.err  # progress
    assert document(applied)["status"] == "succeeded"


def test_the_documents_say_what_happened(outputs: dict[str, Result]) -> None:
    """Not only shaped right: the values are the run's (a schema alone would pass nulls)."""
    applied = document(outputs["apply.schema.json"])
    planned = document(outputs["plan.schema.json"])
    assert applied["plan_hash"] == planned["hash"]
    moves = [o for o in applied["outcomes"] if o["action"]["kind"] == "move_alias"]
    assert {(o["action"]["alias"], o["status"], o["refused"]) for o in moves} == {
        ("production", "done", False),
        ("staging", "done", False),
    }
    assert {m["name"] for m in document(outputs["status.schema.json"])["models"]} == {"churn"}
    shown = document(outputs["show.schema.json"])
    assert (shown["label"], shown["aliases"]) == ("1.1.0", ["staging"])
    assert {e["dataset"] for e in shown["evaluations"]} == {"data/holdout.csv", "split"}
    logs = document(outputs["logs.schema.json"])
    assert [s["step"] for s in logs["steps"]] == ["prepare", "train"]
    assert all(s["digest"].startswith("sha256:") for s in logs["steps"])
    reproduced = document(outputs["reproduce.schema.json"])
    assert (reproduced["label"], reproduced["status"]) == ("1.1.0", "match")
    reverted = document(outputs["revert.schema.json"])
    assert reverted["status"] == "done" and reverted["apply_id"] == applied["apply_id"] + 1
    report = document(outputs["report.schema.json"])
    assert report["bytes"] == Path(report["output"]).stat().st_size > 0
    created = document(outputs["init.schema.json"])
    assert all((Path(created["folder"]) / name).is_file() for name in created["created"])
    exported = document(outputs["export.schema.json"])
    assert (exported["label"], exported["signer"]) == ("1.1.0", None)
    assert Path(exported["output"]).is_file()
    imported = document(outputs["import.schema.json"])
    assert (imported["origin"], imported["model_added"]) == ("scored/churn@1.1.0", True)
    assert "bundle: bundles/churn-1.1.0.tar.gz" in Path(imported["config_file"]).read_text()
    error = document(outputs["error.schema.json"])
    assert (error["kind"], error["exit_code"]) == ("NotFoundError", 1)
    assert "1.0.0" in (error["fix"] or "")


def test_trigger_apply_json_holds_the_apply_it_ran(outputs: dict[str, Result]) -> None:
    data = document(outputs["trigger.schema.json"])
    assert [t["label"] for t in data["triggers"] if t["fired"]] == ["nightly-1"]
    assert data["apply"]["status"] == "succeeded"
