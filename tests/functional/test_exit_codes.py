"""Each code of the README's exit-code table, end to end through real `mvctl` processes, and
the `--json` error document that says it.

0 ok, 1 error, 2 changes (`plan --detailed-exitcode`), 3 conflicts, 4 a refused promotion,
5 declined at the prompt; 130 and 143 (interrupted) are in test_interrupts.py.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.projects import Project, Result, make_tiny

FAILING_HEALTH_CHECK = """\
import os, sys
if os.environ["MVCTL_VERSION"] == "1.1.0":
    print("1.1.0 answers 500")
    sys.exit(1)
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    return make_tiny(tmp_path / "proj")


def answered(project: Project, answer: str, *args: str) -> Result:
    """`mvctl ARGS` with a terminal on stdin that answers ``answer`` to the prompt."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "mvctl", *args],
            cwd=project.root,
            env=project.env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        os.write(controller, f"{answer}\n".encode())
        out, err = process.communicate(timeout=120)
    finally:
        os.close(controller)
    return Result(process.returncode, out, err)


def recorded_versions(project: Project) -> list[str]:
    status = json.loads(project.mvctl("status", "--json").out)
    return [version["label"] for model in status["models"] for version in model["versions"]]


def test_plan_exits_0_without_changes_2_with_them_and_3_on_conflicts(tiny: Project) -> None:
    assert tiny.mvctl("plan").code == 0
    assert tiny.mvctl("plan", "--detailed-exitcode").code == 2
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    assert tiny.mvctl("plan", "--detailed-exitcode").code == 0
    tiny.edit_config("params: {rows: 10}", "params: {rows: 11}")  # 1.0.0 was trained with 10
    for args in (("plan",), ("plan", "--detailed-exitcode"), ("plan", "--json")):
        conflicted = tiny.mvctl(*args)
        assert conflicted.code == 3, conflicted.text
    assert json.loads(conflicted.out)["conflicts"][0]["kind"] == "version_changed"


def test_apply_refused_by_conflicts_exits_3_with_an_error_document(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.edit_config("params: {rows: 10}", "params: {rows: 11}")
    refused = tiny.mvctl("apply", "--auto-approve", "--json")
    assert refused.code == 3
    error = json.loads(refused.out)
    assert (error["kind"], error["exit_code"]) == ("ConflictError", 3)
    assert "version_changed churn@1.0.0" in error["error"] and "mvctl plan" in error["fix"]
    assert "Error: the plan has 2 conflict(s)" in refused.err  # both versions trained rows=10


def test_a_refused_promotion_exits_4_and_with_a_failure_beside_it_1(tiny: Project) -> None:
    tiny.write("steps/health.py", FAILING_HEALTH_CHECK)
    tiny.edit_config(
        "    owners: [tester]\n", "    owners: [tester]\n    health_check: python steps/health.py\n"
    )
    refused = tiny.mvctl("apply", "--auto-approve", "--json")
    assert refused.code == 4, refused.text
    applied = json.loads(refused.out)
    assert applied["status"] == "failed"
    assert [(o["action"]["alias"], o["status"]) for o in applied["outcomes"] if o["refused"]] == [
        ("staging", "rolled_back")
    ]
    assert all(o["status"] == "done" for o in applied["outcomes"] if not o["refused"])

    tiny.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    both = tiny.mvctl("apply", "--auto-approve", extra_env={"FAIL_STEP": "train"})
    assert both.code == 1, both.text  # 1.2.0 failed to train: the tool's failure wins
    assert "churn@1.2.0 train: failed" in both.out
    assert "staging rolled back to nothing automatically" in both.out
    assert "0 done, 1 failed, 1 refused" in both.out


def test_answering_no_at_the_prompt_exits_5_and_changes_nothing(tiny: Project) -> None:
    declined = answered(tiny, "n", "apply", "--json")
    assert declined.code == 5, declined.text
    assert json.loads(declined.out)["status"] == "declined"  # the prompt went to stderr
    assert "Apply these changes?" in declined.err
    assert recorded_versions(tiny) == []

    assert answered(tiny, "y", "apply").code == 0
    kept = answered(tiny, "n", "revert")
    assert kept.code == 5, kept.text
    assert "Revert?" in kept.out and "Revert cancelled; nothing changed." in kept.out
    assert recorded_versions(tiny) == ["1.0.0", "1.1.0"]


def test_an_invalid_config_exits_1_with_each_problem_in_the_document(tiny: Project) -> None:
    tiny.edit_config("params: {rows: 10}", "params: {rows: 10}\n        retries: 3")
    tiny.edit_config('"1.0.0": {}', "1.10: {}")
    for command in ("validate", "plan"):
        failed = tiny.mvctl(command, "--json")
        assert failed.code == 1, failed.text
        error = json.loads(failed.out)
        assert error["kind"] == "SpecErrors" and error["exit_code"] == 1
        problems = {(p["line"], p["field"]) for p in error["problems"]}
        assert len(problems) == 2, error
        assert all(p["file"].endswith("mvctl.yaml") for p in error["problems"])
        assert all(p["message"].splitlines()[0] in failed.err for p in error["problems"])


def test_a_bad_option_under_json_is_an_error_document(tiny: Project) -> None:
    for args in (("plan", "--json", "--bogus"), ("history", "--json", "--limit", "0")):
        failed = tiny.mvctl(*args)
        assert failed.code == 1, failed.text
        error = json.loads(failed.out)
        assert (error["kind"], error["exit_code"]) == ("UsageError", 1)
        assert f"mvctl {args[0]} --help" in error["fix"]
        assert "Usage: mvctl" in failed.err


def test_an_internal_error_under_json_names_the_log_with_the_traceback(tiny: Project) -> None:
    crashed = tiny.mvctl(
        "apply", "--auto-approve", "--json", extra_env={"MVCTL_TEST_FAIL_AT": "lock_taken:1"}
    )
    assert crashed.code == 1, crashed.text
    error = json.loads(crashed.out)
    assert error["kind"] == "InternalError" and "bug in mvctl" in error["error"]
    log = Path(error["log"])
    try:
        assert "Traceback" in log.read_text() and "OSError" in log.read_text()
        assert str(log) in error["fix"] and "Traceback" not in crashed.text
    finally:
        log.unlink()


def test_json_after_a_double_dash_is_an_argument_not_the_flag(tiny: Project) -> None:
    shown = tiny.mvctl("show", "--", "--json")
    assert shown.code == 1 and shown.out == ""
    assert "'--json' is neither MODEL@VERSION nor MODEL:ALIAS" in shown.err


def test_a_hostile_name_in_an_error_document_is_escaped_and_parses_back(tiny: Project) -> None:
    name = "\x1b[2Jev\u202eil"
    failed = tiny.mvctl("show", f"{name}@1", "--json")
    assert failed.code == 1
    assert "\x1b" not in failed.text and "\u202e" not in failed.text
    assert f"model '{name}' is not recorded" in json.loads(failed.out)["error"]
