"""Overwrites kept and undone whole; drift seen, refreshed, and found by `state check`.

Through the CLI entry point, in this process (``run_cli``), on the tiny project.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.functional.inprocess import run_cli
from tests.functional.projects import REPO, Project, make_tiny

CHECK_SCHEMA = json.loads((REPO / "schemas" / "check.schema.json").read_text("utf-8"))


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    for name in ("MVCTL_STATE", "MVCTL_STORE"):
        monkeypatch.delenv(name, raising=False)
    project = make_tiny(tmp_path / "proj")
    assert cli(project, "apply", "--auto-approve").code == 0
    return project


def cli(project: Project, *args: str) -> Any:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def shown(project: Project, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(project, "show", ref, "--json").out)
    return data


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


def test_overwrite_is_in_history_and_revert_restores_the_whole_record(tiny: Project) -> None:
    before = shown(tiny, "churn@1.0.0")
    tiny.edit_config("params: {lr: 0.1}", "params: {lr: 0.15}")
    assert cli(tiny, "plan", "--detailed-exitcode").code == 3  # version_changed
    overwrite = cli(tiny, "apply", "--auto-approve", "--on-conflict", "overwrite")
    assert overwrite.code == 0, overwrite.text
    after = shown(tiny, "churn@1.0.0")
    assert after["spec_hash"] != before["spec_hash"]
    assert after["artifact_digest"] != before["artifact_digest"]

    history = cli(tiny, "history", "churn").out
    old_spec, old_artifact = before["spec_hash"][:12], before["artifact_digest"][7:19]
    assert f"overwrote churn@1.0.0 (old spec {old_spec}…, artifact {old_artifact}…;" in history

    reverted = cli(tiny, "revert", "--auto-approve")
    assert reverted.code == 0, reverted.text
    assert "the whole earlier record" in reverted.out
    restored = shown(tiny, "churn@1.0.0")
    for key in (
        "spec_hash",
        "artifact_digest",
        "params",
        "lineage",
        "spec",
        "metadata_hash",
        "status",
    ):
        assert restored[key] == before[key], key
    assert blob(tiny, after["artifact_digest"]).is_file()  # nothing is deleted
    assert cli(tiny, "state", "check").code == 0
    replanned = cli(tiny, "plan", "--detailed-exitcode")
    assert replanned.code == 3 and "version_changed" in replanned.out  # the config still differs


def move_alias_outside(project: Project, alias: str, version: str) -> None:
    with sqlite3.connect(project.root / ".mvctl" / "state.db") as conn:
        conn.execute("UPDATE aliases SET version = ? WHERE name = ?", (version, alias))


def test_refresh_only_accepts_an_alias_moved_outside_mvctl(tiny: Project) -> None:
    move_alias_outside(tiny, "production", "1.1.0")
    planned = cli(tiny, "plan")
    assert "alias_changed_outside" in planned.out and "~ alias churn:production" in planned.out
    checked = cli(tiny, "state", "check", "--json")
    assert checked.code == 1
    (finding,) = json.loads(checked.out)["findings"]
    assert finding["kind"] == "log_mismatch" and "--refresh-only" in finding["fix"]

    refresh = cli(tiny, "plan", "--refresh-only", "--json")
    assert [a["kind"] for a in json.loads(refresh.out)["actions"]] == ["refresh_alias"]
    serial = json.loads(cli(tiny, "status", "--json").out)["serial"]
    applied = cli(tiny, "apply", "--refresh-only", "--auto-approve", "--json")
    assert applied.code == 0, applied.text
    assert [o["action"]["kind"] for o in json.loads(applied.out)["outcomes"]] == ["refresh_alias"]
    status = json.loads(cli(tiny, "status", "--json").out)
    assert status["serial"] == serial + 1
    assert {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}[
        "production"
    ] == "1.1.0"

    assert cli(tiny, "state", "check").code == 0
    after = json.loads(cli(tiny, "plan", "--json").out)
    assert after["drift"] == []  # mvctl's record agrees with the state now
    assert [a["kind"] for a in after["actions"]] == ["move_alias"]  # the config still asks 1.0.0


def test_missing_and_corrupt_blobs_are_drift_and_check_errors(tiny: Project) -> None:
    artifact = shown(tiny, "churn@1.0.0")["artifact_digest"]
    blob(tiny, artifact).unlink()
    planned = json.loads(cli(tiny, "plan", "--json").out)
    assert [(d["kind"], d["target"]) for d in planned["drift"]] == [
        ("artifact_missing", "churn@1.0.0")
    ]
    log = shown(tiny, "churn@1.1.0")["lineage"]["steps"]["prepare"]["log"]
    blob(tiny, log).write_bytes(b"not what was logged")
    checked = cli(tiny, "state", "check", "--json")
    assert checked.code == 1
    jsonschema.validate(json.loads(checked.out), CHECK_SCHEMA)
    findings = {(f["kind"], f["severity"]): f for f in json.loads(checked.out)["findings"]}
    missing = findings[("blob_missing", "error")]
    assert "the artifact of churn@1.0.0" in missing["message"] and "backup" in missing["fix"]
    corrupt = findings[("blob_corrupt", "error")]
    assert "log of step churn/prepare" in corrupt["message"] and "Delete" in corrupt["fix"]
