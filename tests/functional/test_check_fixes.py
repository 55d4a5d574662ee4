"""Every fix `mvctl state check` prints works when followed.

For each kind of problem the check reports, a test sets the problem up on the tiny project,
reads the finding's fix from `state check --json`, does what it says (running the commands it
names, with `--auto-approve` where a terminal would ask), and asserts the check then passes.
A lock left by a dead process is left out: its fix belongs with lock takeover
(test_crash.py follows it through the CLI).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mvctl.core.recorded import Change, Target
from mvctl.state.db import StateDB
from tests.functional.inprocess import run_cli
from tests.functional.projects import TRAIN, Project, Result, make_tiny

NOISY_TRAIN = TRAIN.replace(
    'float(p["lr"]) * rows', 'float(p["lr"]) * rows + int.from_bytes(os.urandom(2), "little")'
)
"""A training step that never gives the same bytes twice."""
TWIN = '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {}'
"""A new version with 1.0.0's spec."""


@pytest.fixture(autouse=True)
def _local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MVCTL_STATE", "MVCTL_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    assert cli(project, "apply", "--auto-approve").code == 0
    return project


def cli(project: Project, *args: str) -> Result:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def database(project: Project) -> Path:
    return project.root / ".mvctl" / "state.db"


def sql(project: Project, statement: str, *params: Any) -> None:
    with closing(sqlite3.connect(database(project))) as conn, conn:
        conn.execute(statement, params)


def findings(project: Project) -> tuple[int, list[dict[str, Any]]]:
    checked = cli(project, "state", "check", "--json")
    assert "Traceback" not in checked.text
    found: list[dict[str, Any]] = json.loads(checked.out)["findings"]
    return checked.code, found


def finding(project: Project, kind: str, *, severity: str = "error") -> dict[str, Any]:
    code, found = findings(project)
    assert code == (1 if severity == "error" else 0), found
    matching = [f for f in found if f["kind"] == kind and f["severity"] == severity]
    assert matching, found
    return matching[0]


def passes(project: Project) -> list[dict[str, Any]]:
    """The check passes (exit 0, no error); returns what warnings are left."""
    code, found = findings(project)
    assert code == 0 and not [f for f in found if f["severity"] == "error"], found
    return found


def commands(fix: str) -> list[str]:
    """The mvctl commands a fix names, in order."""
    return [c for c in re.findall(r"`([^`]+)`", fix) if c.startswith("mvctl ")]


def follow(project: Project, command: str) -> Result:
    """Run a command a fix names, confirming where a terminal would be asked."""
    words = command.split()[1:]
    if words[0] in ("apply", "revert"):
        words.append("--auto-approve")
    result = cli(project, *words)
    assert result.code == 0, result.text
    return result


def backup(project: Project) -> Path:
    copy = project.root.parent / "state-backup.db"
    shutil.copyfile(database(project), copy)
    return copy


def restore(project: Project, copy: Path) -> None:
    for leftover in database(project).parent.glob("state.db-*"):
        leftover.unlink()
    shutil.copyfile(copy, database(project))


def shown(project: Project, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(project, "show", ref, "--json").out)
    return data


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


ALIAS_EDITS = {
    "moved": ("UPDATE aliases SET version = '1.1.0' WHERE name = 'production'",),
    "removed": ("DELETE FROM aliases WHERE name = 'staging'",),
    "added": (
        "INSERT INTO aliases (model, name, version, apply_id, updated_at) "
        "VALUES ('churn', 'canary', '1.0.0', NULL, '2026-01-01T00:00:00Z')",
    ),
}


@pytest.mark.parametrize("edit", sorted(ALIAS_EDITS))
@pytest.mark.parametrize("choice", [0, 1], ids=["accept-it", "set-it-back"])
def test_an_alias_changed_outside_mvctl(tiny: Project, edit: str, choice: int) -> None:
    for statement in ALIAS_EDITS[edit]:
        sql(tiny, statement)
    fix = finding(tiny, "log_mismatch")["fix"]
    assert commands(fix) == ["mvctl apply --refresh-only", "mvctl apply"]
    follow(tiny, commands(fix)[choice])
    assert passes(tiny) == []


@pytest.mark.parametrize(
    ("kind", "statement"),
    [
        ("log_mismatch", "UPDATE versions SET description = 'edited by hand'"),
        ("log_gap", "DELETE FROM changes WHERE apply_id = 1 AND seq = 2"),
        ("forked_log", "UPDATE applies SET serial_before = 1 WHERE id = 2"),
    ],
)
def test_a_state_edited_outside_mvctl_is_restored_from_a_backup(
    tiny: Project, kind: str, statement: str
) -> None:
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert cli(tiny, "apply", "--auto-approve").code == 0  # two applies, for a fork
    copy = backup(tiny)
    sql(tiny, statement)
    fix = finding(tiny, kind)["fix"]
    assert "backup" in fix
    for command in commands(fix):  # forked_log: look at both applies first
        follow(tiny, command)
    restore(tiny, copy)
    assert passes(tiny) == []


def test_an_interrupted_apply_is_closed_by_the_next_apply(tiny: Project) -> None:
    sql(
        tiny,
        "INSERT INTO applies (kind, actor, started_at, plan_hash, status, serial_before) "
        "VALUES ('apply', 'ci', '2026-01-01T00:00:00Z', 'p', 'running', "
        "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'serial'))",
    )
    fix = finding(tiny, "interrupted_apply", severity="warning")["fix"]
    assert commands(fix) == ["mvctl apply"]
    follow(tiny, "mvctl apply")
    assert passes(tiny) == []


def make_production_untrained(project: Project) -> int:
    """What an older or buggy writer could leave, logged as mvctl logs everything: the
    version production points at recorded as failed, without its artifact."""
    with StateDB.open(f"sqlite:///{database(project)}", create=True) as state:
        before = state.version_value("churn", "1.0.0")
        assert before is not None
        apply_id = state.begin_apply(
            kind="apply", actor="tester", plan_hash="p", expected_serial=state.serial()
        )
        after = replace(before, status="failed", artifact_digest=None, apply_id=apply_id)
        state.record(apply_id, [Change(Target("version", "churn", "1.0.0"), before, after)])
        state.finish_apply(apply_id, "failed")
    return apply_id


def test_an_alias_on_an_untrained_version_is_pointed_elsewhere(tiny: Project) -> None:
    make_production_untrained(tiny)
    fix = finding(tiny, "alias_untrained")["fix"]
    assert fix.startswith("Point production at a trained version in the config")
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    follow(tiny, commands(fix)[0])
    assert passes(tiny) == []


def test_an_alias_on_an_untrained_version_is_fixed_by_reverting_the_apply_named(
    tiny: Project,
) -> None:
    culprit = make_production_untrained(tiny)
    fix = finding(tiny, "alias_untrained")["fix"]
    assert commands(fix) == ["mvctl apply", f"mvctl revert {culprit}"]
    follow(tiny, commands(fix)[1])
    assert passes(tiny) == []


def test_a_lost_artifact_is_put_back_from_a_backup_of_the_store(tiny: Project) -> None:
    lost = blob(tiny, shown(tiny, "churn@1.0.0")["artifact_digest"])
    saved = lost.with_name("kept-aside")
    shutil.copyfile(lost, saved)
    lost.unlink()
    assert "backup of the store" in finding(tiny, "blob_missing")["fix"]
    shutil.move(saved, lost)
    assert passes(tiny) == []


def test_a_lost_artifact_is_rebuilt_by_a_version_with_the_same_spec(tiny: Project) -> None:
    lost = blob(tiny, shown(tiny, "churn@1.0.0")["artifact_digest"])
    lost.unlink()
    fix = finding(tiny, "blob_missing")["fix"]
    assert "declare a new version of churn with the same spec" in fix
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', TWIN)
    follow(tiny, commands(fix)[0])
    assert lost.is_file()
    assert passes(tiny) == []


def test_a_lost_artifact_of_a_step_that_never_repeats_itself_is_retired(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/train.py", NOISY_TRAIN)
    assert cli(project, "apply", "--auto-approve").code == 0
    blob(project, shown(project, "churn@1.0.0")["artifact_digest"]).unlink()
    fix = finding(project, "blob_missing")["fix"]
    project.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', TWIN)
    follow(project, commands(fix)[0])
    assert finding(project, "blob_missing")  # other bytes: the old blob stays lost
    assert "point the aliases at the new version and remove 1.0.0 from the config" in fix
    project.edit_config('production: "1.0.0"', 'production: "1.2.0"')
    project.edit_config('      "1.0.0": {}\n', "")
    follow(project, commands(fix)[0])
    (left,) = passes(project)
    assert (left["kind"], left["severity"]) == ("blob_missing", "warning")
    assert "(archived)" in left["message"]


def test_a_corrupt_artifact_is_deleted_and_rebuilt(tiny: Project) -> None:
    corrupt = blob(tiny, shown(tiny, "churn@1.0.0")["artifact_digest"])
    original = corrupt.read_bytes()
    corrupt.write_bytes(b"not a model")
    fix = finding(tiny, "blob_corrupt")["fix"]
    (named,) = re.findall(r"Delete the corrupt copy \(([^)]+)\)", fix)
    Path(named).unlink()
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', TWIN)
    follow(tiny, commands(fix)[0])
    assert corrupt.read_bytes() == original
    assert passes(tiny) == []


def test_a_corrupt_step_output_is_deleted_and_rebuilt_when_needed(tiny: Project) -> None:
    output = shown(tiny, "churn@1.0.0")["lineage"]["steps"]["prepare"]["outputs"]["data.json"]
    corrupt = blob(tiny, output)
    corrupt.write_bytes(b"{}")
    fix = finding(tiny, "blob_corrupt")["fix"]
    (named,) = re.findall(r"Delete (\S+) and re-run", fix)
    Path(named).unlink()
    for command in commands(fix):
        follow(tiny, command)
    assert [f["kind"] for f in passes(tiny)] == ["blob_missing"]  # a warning until needed
    tiny.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    follow(tiny, "mvctl apply")
    assert passes(tiny) == []


def test_a_lost_step_output_needs_nothing(tiny: Project) -> None:
    output = shown(tiny, "churn@1.0.0")["lineage"]["steps"]["prepare"]["outputs"]["data.json"]
    blob(tiny, output).unlink()
    fix = finding(tiny, "blob_missing", severity="warning")["fix"]
    assert fix.startswith("Nothing to do")
    tiny.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    assert cli(tiny, "apply", "--auto-approve").code == 0  # the next apply that needs it
    assert passes(tiny) == []


def test_a_lock_held_by_a_running_apply_is_waited_for(tiny: Project) -> None:
    tiny.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {prepare: {rows: 12}}}',
    )
    running = tiny.start("apply", "--auto-approve", extra_env={"SLOW_PREPARE": "3"})
    deadline = time.monotonic() + 30
    while json.loads(cli(tiny, "status", "--json").out)["lock"] is None:
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.1)
    fix = finding(tiny, "lock_held", severity="warning")["fix"]
    assert fix == "Wait for it to finish and check again."
    assert running.wait(timeout=60) == 0
    assert passes(tiny) == []
