"""Health checks after promotion: a failing check moves the alias back, automatically and logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.projects import Project, make_tiny

HEALTH = """\
import os, sys
artifact = os.environ["MVCTL_ARTIFACT"]
if not os.path.isfile(artifact) or os.path.getsize(artifact) == 0:
    sys.exit(2)
if os.environ["MVCTL_VERSION"] == "1.1.0":
    print(f"{os.environ['MVCTL_ALIAS']} answers 500 on {os.environ['MVCTL_VERSION']}")
    sys.exit(1)
"""


@pytest.fixture
def guarded(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/health.py", HEALTH)
    project.edit_config(
        "    owners: [tester]\n", "    owners: [tester]\n    health_check: python steps/health.py\n"
    )
    return project


def aliases(project: Project) -> dict[str, str]:
    status = json.loads(project.mvctl("status", "--json").out)
    return {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}


def alias_rows(project: Project, alias: str) -> list[tuple[str | None, str | None]]:
    rows = []
    for entry in reversed(json.loads(project.mvctl("history", "--json").out)["applies"]):
        for change in entry["changes"]:
            if change["target"] == f"churn:{alias}":
                before = (change["before"] or {}).get("version")
                after = (change["after"] or {}).get("version")
                rows.append((before, after))
    return rows


def test_failed_health_check_rolls_the_promotion_back(guarded: Project) -> None:
    applied = guarded.mvctl("apply", "--auto-approve")
    assert applied.code == 4, applied.text
    assert "staging rolled back to nothing automatically" in applied.out
    assert "staging answers 500 on 1.1.0" in applied.out
    assert aliases(guarded) == {"production": "1.0.0"}
    assert alias_rows(guarded, "staging") == [(None, "1.1.0"), ("1.1.0", None)]
    history = guarded.mvctl("history").out
    assert "rolled back automatically to nothing" in history


def test_three_failing_promotions_each_restore_the_pointer(guarded: Project) -> None:
    guarded.edit_config('      staging: "1.1.0"\n', "")
    assert guarded.mvctl("apply", "--auto-approve").code == 0
    guarded.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    for _ in range(3):
        attempt = guarded.mvctl("apply", "--auto-approve")
        assert attempt.code == 4, attempt.text
        assert aliases(guarded) == {"production": "1.0.0"}
    assert (
        alias_rows(guarded, "production")
        == [(None, "1.0.0")] + [("1.0.0", "1.1.0"), ("1.1.0", "1.0.0")] * 3
    )
    check = guarded.mvctl("state", "check")
    assert check.code == 0, check.text


def test_on_failure_rollback_puts_back_every_alias_the_apply_promoted(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    project.write(
        "steps/train.py",
        (project.root / "steps/train.py")
        .read_text()
        .replace('if os.environ.get("FAIL_STEP") == "train"', 'if p["lr"] > 0.15'),
    )
    project.edit_config(
        "    owners: [tester]\n", "    owners: [tester]\n    on_failure: rollback\n"
    )
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert "production rolled back to nothing automatically" in applied.out
    assert aliases(project) == {}
    assert alias_rows(project, "production") == [(None, "1.0.0"), ("1.0.0", None)]


def test_on_failure_keep_leaves_what_succeeded(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    project.write(
        "steps/train.py",
        (project.root / "steps/train.py")
        .read_text()
        .replace('if os.environ.get("FAIL_STEP") == "train"', 'if p["lr"] > 0.15'),
    )
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert aliases(project) == {"production": "1.0.0"}
