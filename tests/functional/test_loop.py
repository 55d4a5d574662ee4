"""The core loop end to end through the real CLI, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import jsonschema
import pytest

from tests.functional.projects import REPO, Project, make_tiny

PLAN_SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text("utf-8"))


@pytest.fixture
def tiny(tmp_path: Path, state_url: str) -> Project:
    return make_tiny(tmp_path / "proj", state_url)


def plan_json(project: Project, *args: str) -> dict:
    result = project.mvctl("plan", "--json", *args)
    assert result.code in (0, 1), result.text
    data = json.loads(result.out)
    jsonschema.validate(data, PLAN_SCHEMA)
    return data


def kinds(plan: dict) -> list[str]:
    return [a["kind"] for a in plan["actions"]]


def test_plan_apply_edit_revert_pin_release(tiny: Project) -> None:
    first = tiny.mvctl("plan", "--detailed-exitcode")
    assert first.code == 2, first.text
    assert "+ train churn@1.0.0" in first.out and "run    prepare" in first.out
    assert "trained earlier in this plan by churn@1.0.0" in first.out

    applied = tiny.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert "complete" in applied.out

    again = tiny.mvctl("plan", "--detailed-exitcode")
    assert again.code == 0, again.text
    assert "No changes." in again.out

    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    promote = plan_json(tiny)
    assert [
        (a["kind"], a.get("from_version"), a.get("to_version")) for a in promote["actions"]
    ] == [("move_alias", "1.0.0", "1.1.0")]
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    status = json.loads(tiny.mvctl("status", "--json").out)
    aliases = {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}
    assert aliases == {"production": "1.1.0", "staging": "1.1.0"}

    reverted = tiny.mvctl("revert", "--auto-approve")
    assert reverted.code == 0, reverted.text
    status = json.loads(tiny.mvctl("status", "--json").out)
    production = next(a for a in status["models"][0]["aliases"] if a["alias"] == "production")
    assert production["version"] == "1.0.0" and "revert" in production["pinned"]

    pinned = tiny.mvctl("plan", "--detailed-exitcode")
    assert pinned.code == 3, pinned.text
    assert "production pinned to 1.0.0 by revert" in pinned.out
    assert "the config asks for 1.1.0" in pinned.out
    refused = tiny.mvctl("apply", "--auto-approve")
    assert refused.code == 3 and "conflict" in refused.err

    released = tiny.mvctl("revert", "--release", "--auto-approve")
    assert released.code == 0, released.text
    after_release = plan_json(tiny)
    assert after_release["conflicts"] == []
    assert [(a["kind"], a["to_version"]) for a in after_release["actions"]] == [
        ("move_alias", "1.1.0")
    ]


def test_revert_is_itself_revertible(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    assert tiny.mvctl("revert", "--auto-approve").code == 0
    assert tiny.mvctl("revert", "--auto-approve").code == 0
    status = json.loads(tiny.mvctl("status", "--json").out)
    production = next(a for a in status["models"][0]["aliases"] if a["alias"] == "production")
    assert production == {"alias": "production", "version": "1.1.0", "pinned": None}
    history = json.loads(tiny.mvctl("history", "--json").out)["applies"]
    assert [h["kind"] for h in history] == ["revert", "revert", "apply", "apply"]
    assert history[0]["reverts_apply_id"] == history[1]["id"]


def test_revert_to_restores_state_after_an_apply(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.edit_config('staging: "1.1.0"', 'staging: "1.0.0"')
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    first_apply = json.loads(tiny.mvctl("history", "--json").out)["applies"][-1]["id"]
    assert tiny.mvctl("revert", "--to", str(first_apply), "--auto-approve").code == 0
    status = json.loads(tiny.mvctl("status", "--json").out)
    aliases = {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}
    assert aliases == {"production": "1.0.0", "staging": "1.1.0"}
    versions = {v["label"]: v["status"] for v in status["models"][0]["versions"]}
    assert versions == {"1.0.0": "trained", "1.1.0": "trained"}


def test_plan_twice_is_byte_identical_and_writes_no_state(tiny: Project) -> None:
    one = tiny.mvctl("plan", "--json")
    two = tiny.mvctl("plan", "--json")
    assert one.out == two.out
    assert not (tiny.root / ".mvctl" / "state.db").exists()


def test_saved_plan_is_refused_after_the_state_moved(tiny: Project) -> None:
    assert tiny.mvctl("plan", "--out", "first.plan").code == 0
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    serial_before = json.loads(tiny.mvctl("status", "--json").out)["serial"]
    stale = tiny.mvctl("apply", "first.plan", "--auto-approve")
    assert stale.code == 1
    assert "state moved from serial 0" in stale.err and "mvctl plan" in stale.err
    assert "Traceback" not in stale.text
    status = json.loads(tiny.mvctl("status", "--json").out)
    assert status["serial"] == serial_before and status["lock"] is None


def test_saved_plan_applies_exactly_what_it_shows(tiny: Project) -> None:
    assert tiny.mvctl("plan", "--out", "reviewed.plan").code == 0
    saved = json.loads((tiny.root / "reviewed.plan").read_text())
    applied = tiny.mvctl("apply", "reviewed.plan", "--auto-approve", "--json")
    assert applied.code == 0, applied.text
    outcome = json.loads(applied.out)
    assert outcome["plan_hash"] == saved["hash"]
    assert [o["action"] for o in outcome["outcomes"]] == saved["actions"]


def test_edited_plan_file_is_refused(tiny: Project) -> None:
    assert tiny.mvctl("plan", "--out", "reviewed.plan").code == 0
    path = tiny.root / "reviewed.plan"
    path.write_text(path.read_text().replace('"1.0.0"', '"6.6.6"'))
    result = tiny.mvctl("apply", "reviewed.plan", "--auto-approve")
    assert result.code == 1 and "does not match its hash" in result.err


def test_second_apply_fails_fast_naming_the_holder(tiny: Project) -> None:
    slow = tiny.start(
        "apply", "--auto-approve", extra_env={"SLOW_PREPARE": "4", "MVCTL_ACTOR": "alice"}
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = tiny.mvctl("status", "--json")
            if status.code == 0 and json.loads(status.out)["lock"]:
                break
            time.sleep(0.2)
        started = time.monotonic()
        second = tiny.mvctl("apply", "--auto-approve", extra_env={"MVCTL_ACTOR": "bob"})
        assert time.monotonic() - started < 10
        assert second.code == 1
        assert "locked by alice" in second.err and "mvctl state unlock --force" in second.err
        assert "took over" not in second.err
    finally:
        slow.wait(timeout=120)
    assert slow.returncode == 0
    history = json.loads(tiny.mvctl("history", "--json").out)["applies"]
    assert [h["actor"] for h in history] == ["alice"]


def test_failed_step_marks_version_failed_and_leaves_alias(tiny: Project) -> None:
    tiny.write(
        "steps/train.py",
        (tiny.root / "steps/train.py")
        .read_text()
        .replace('if os.environ.get("FAIL_STEP") == "train"', 'if p["lr"] > 0.15'),
    )
    result = tiny.mvctl("apply", "--auto-approve")
    assert result.code == 1
    assert "churn@1.1.0" in result.out and "failed" in result.out
    status = json.loads(tiny.mvctl("status", "--json").out)
    model = status["models"][0]
    assert {v["label"]: v["status"] for v in model["versions"]} == {
        "1.0.0": "trained",
        "1.1.0": "failed",
    }
    assert {a["alias"]: a["version"] for a in model["aliases"]} == {"production": "1.0.0"}
    shown = tiny.mvctl("show", "churn@1.1.0")
    assert "train is failing on purpose" in shown.out and "exit_code" in shown.out
    blocked = tiny.mvctl("plan", "--detailed-exitcode")
    assert blocked.code == 3 and "alias_failed_version" in blocked.out


def test_killed_apply_is_taken_over_and_resumes_with_finished_steps_cached(tiny: Project) -> None:
    victim = tiny.start("apply", "--auto-approve", extra_env={"SLOW_TRAIN": "30"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        plan = tiny.mvctl("plan", "--json")
        if plan.code == 0 and json.loads(plan.out)["summary"]["steps_cached"] >= 2:
            break
        time.sleep(0.3)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    lock = json.loads(tiny.mvctl("status", "--json").out)["lock"]
    assert lock["pid"] == victim.pid
    assert lock["dead"] == f"pid {victim.pid} is not running on {lock['host']}"
    resumed = plan_json(tiny)
    train = [a for a in resumed["actions"] if a["kind"] == "train_version"]
    assert [s["status"] for s in train[0]["steps"]] == ["cached", "run"]
    finished = tiny.mvctl("apply", "--auto-approve")
    assert finished.code == 0, finished.text
    assert "prepare: cached" in finished.out
    assert (
        f"Warning: took over the state lock of tester (apply, pid {victim.pid} on {lock['host']})"
        in finished.err
    )
    assert f"lock id {lock['lock_id']}: pid {victim.pid} is not running" in finished.err
    killed = json.loads(tiny.mvctl("history", "--json").out)["applies"][-1]
    assert killed["status"] == "failed" and "interrupted" in killed["message"]
    assert f"its lock {lock['lock_id']} (tester, pid {victim.pid}" in killed["message"]
    assert json.loads(tiny.mvctl("status", "--json").out)["lock"] is None
