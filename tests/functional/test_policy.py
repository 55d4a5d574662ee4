"""The policy, enforced end to end through the CLI, attacked the way a pull request would.

The tiny project is applied once by its owner ('tester'), which records its policy: 'admin'
may change the policy, only 'release-bot' may move production, only 'tester' may train, overwrite
or archive churn's versions. Then each test tries something as another actor and checks that
the plan says `not_allowed` (exit 3 under --detailed-exitcode), that apply and revert refuse
with exit 1 before changing anything (the state's serial stays put, nothing is trained), and
that the refusal is sent as a `conflict` event.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.functional.projects import Project, make_tiny

POLICY = """\
policy:
  admins: [admin]
  protected_aliases:
    production: {actors: [release-bot]}
notifications:
  - command: "cat >> events.jsonl; echo >> events.jsonl"
    events: [conflict]
"""
MOVE_PRODUCTION = ('production: "1.0.0"', 'production: "1.1.0"')


@pytest.fixture
def guarded(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    project.write("mvctl.yaml", project.config() + POLICY)
    first = project.mvctl("apply", "--auto-approve")
    assert first.code == 0, first.text
    return project


def status(project: Project) -> dict[str, Any]:
    result = project.mvctl("status", "--json")
    assert result.code == 0, result.text
    value: dict[str, Any] = json.loads(result.out)
    return value


def production(project: Project) -> str:
    (model,) = status(project)["models"]
    return next(a["version"] for a in model["aliases"] if a["alias"] == "production")


def serial(project: Project) -> int:
    return int(status(project)["serial"])


def history(project: Project) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = json.loads(project.mvctl("history", "--json").out)["applies"]
    return value


def conflict_events(project: Project) -> list[dict[str, Any]]:
    path = project.root / "events.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line]


def stored_blobs(project: Project) -> set[Path]:
    return set((project.root / ".mvctl" / "store").rglob("*"))


def plan_as(project: Project, actor: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.mvctl("plan", "--detailed-exitcode", "--json", "--actor", actor, *args)
    assert result.code in (0, 2, 3), result.text
    plan: dict[str, Any] = json.loads(result.out)
    return result.code, plan


def denials(plan: dict[str, Any]) -> list[str]:
    return [
        f"{c['target']}: {c['message']}" for c in plan["conflicts"] if c["kind"] == "not_allowed"
    ]


def test_an_actor_missing_from_the_list_cannot_move_production(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)
    before = serial(guarded)
    code, plan = plan_as(guarded, "mallory")
    assert code == 3
    assert denials(plan) == [
        "churn:production: 'mallory' may not move churn:production from 1.0.0 to 1.1.0: "
        "policy.protected_aliases.production.actors allows release-bot (the policy in force, "
        "recorded by apply 1)"
    ]
    applied = guarded.mvctl("apply", "--auto-approve", extra_env={"MVCTL_ACTOR": "mallory"})
    assert applied.code == 3
    assert "not_allowed churn:production: 'mallory' may not move" in applied.err
    assert "Traceback" not in applied.text
    assert production(guarded) == "1.0.0" and serial(guarded) == before
    assert [h["id"] for h in history(guarded)] == [1]
    (event,) = conflict_events(guarded)
    assert (event["event"], event["operation"], event["actor"]) == ("conflict", "apply", "mallory")
    assert [c["kind"] for c in event["details"]["conflicts"]] == ["not_allowed"]

    allowed = guarded.mvctl("apply", "--auto-approve", "--actor", "release-bot")
    assert allowed.code == 0, allowed.text
    assert production(guarded) == "1.1.0"
    latest = history(guarded)[0]
    assert latest["actor"] == "release-bot"
    assert {c["actor"] for c in latest["changes"]} == {"release-bot"}


def test_a_change_granting_its_author_and_moving_production_is_denied(guarded: Project) -> None:
    guarded.edit_config("actors: [release-bot]", "actors: [release-bot, mallory]")
    guarded.edit_config(*MOVE_PRODUCTION)
    before = serial(guarded)
    code, plan = plan_as(guarded, "mallory")
    assert code == 3
    assert [c["target"] for c in plan["conflicts"]] == ["policy", "churn:production"]
    assert (
        "'mallory' may not change policy.protected_aliases: policy.admins allows admin"
        in (plan["conflicts"][0]["message"])
    )
    applied = guarded.mvctl("apply", "--auto-approve", "--actor", "mallory")
    assert applied.code == 3 and "2 conflict(s)" in applied.err
    assert production(guarded) == "1.0.0" and serial(guarded) == before


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            ("  protected_aliases:\n    production: {actors: [release-bot]}\n", ""), id="unprotect"
        ),
        pytest.param(
            (
                "policy:\n  admins: [admin]\n  protected_aliases:\n    production: {actors: [release-bot]}\n",
                "",
            ),
            id="drop-the-policy",
        ),
        pytest.param(("  admins: [admin]\n", "  admins: [admin, mallory]\n"), id="self-made-admin"),
    ],
)
def test_loosening_the_policy_needs_an_admin(guarded: Project, edit: tuple[str, str]) -> None:
    guarded.edit_config(*edit)
    before = serial(guarded)
    code, plan = plan_as(guarded, "mallory")
    assert code == 3
    assert [c["target"] for c in plan["conflicts"]] == ["policy"]
    assert "policy.admins allows admin" in plan["conflicts"][0]["message"]
    applied = guarded.mvctl("apply", "--auto-approve", "--actor", "mallory")
    assert applied.code == 3 and serial(guarded) == before


def test_an_admin_changes_the_policy_and_it_holds_from_the_next_apply(guarded: Project) -> None:
    guarded.edit_config("actors: [release-bot]", "actors: [release-bot, mallory]")
    changed = guarded.mvctl("apply", "--auto-approve", "--actor", "admin")
    assert changed.code == 0, changed.text
    shown = guarded.mvctl("history").out
    assert (
        "policy: policy.protected_aliases.production.actors release-bot -> mallory, release-bot"
    ) in shown
    (change,) = history(guarded)[0]["changes"]
    assert (change["kind"], change["actor"]) == ("policy", "admin")

    guarded.edit_config(*MOVE_PRODUCTION)
    moved = guarded.mvctl("apply", "--auto-approve", "--actor", "mallory")
    assert moved.code == 0, moved.text
    assert production(guarded) == "1.1.0"


def test_a_non_owner_cannot_train_or_archive_by_deleting_a_version(guarded: Project) -> None:
    declared = '"1.1.0": {params: {train: {lr: 0.2}}}'
    new_version = (declared, declared + '\n      "1.2.0": {params: {train: {lr: 0.3}}}')
    guarded.edit_config(*new_version)
    code, plan = plan_as(guarded, "mallory")
    assert code == 3
    assert denials(plan) == [
        "churn@1.2.0: 'mallory' may not train churn@1.2.0: models.churn.owners allows tester "
        "(the policy in force, recorded by apply 1)"
    ]
    guarded.edit_config(new_version[1], new_version[0])

    guarded.edit_config('      "1.1.0": {params: {train: {lr: 0.2}}}\n', "")
    guarded.edit_config('      staging: "1.1.0"\n', "")
    code, plan = plan_as(guarded, "mallory")
    assert code == 3 and [c["target"] for c in plan["conflicts"]] == ["churn@1.1.0"]
    assert "'mallory' may not archive churn@1.1.0" in plan["conflicts"][0]["message"]
    assert plan_as(guarded, "tester")[0] == 2


def test_a_non_owner_cannot_overwrite_with_on_conflict(guarded: Project) -> None:
    guarded.edit_config("{params: {train: {lr: 0.2}}}", "{params: {train: {lr: 0.25}}}")
    blobs = stored_blobs(guarded)
    before = serial(guarded)
    code, plan = plan_as(guarded, "mallory", "--on-conflict", "overwrite")
    assert code == 3
    assert denials(plan) == [
        "churn@1.1.0: 'mallory' may not overwrite churn@1.1.0: models.churn.owners allows tester "
        "(the policy in force, recorded by apply 1)"
    ]
    applied = guarded.mvctl(
        "apply", "--auto-approve", "--on-conflict", "overwrite", "--actor", "mallory"
    )
    assert applied.code == 3
    assert serial(guarded) == before and stored_blobs(guarded) == blobs  # nothing trained
    assert plan_as(guarded, "tester", "--on-conflict", "overwrite")[0] == 2


def test_overwriting_the_version_production_serves_needs_production_s_actors(
    guarded: Project,
) -> None:
    guarded.edit_config("params: {lr: 0.1}", "params: {lr: 0.15}")  # 1.0.0's recipe
    code, plan = plan_as(guarded, "tester", "--on-conflict", "overwrite")
    assert code == 3
    assert denials(plan) == [
        "churn:production: 'tester' may not overwrite churn@1.0.0, which churn:production "
        "points at: policy.protected_aliases.production.actors allows release-bot (the policy "
        "in force, recorded by apply 1)"
    ]


def move_production_outside_mvctl(project: Project, version: str) -> None:
    with sqlite3.connect(project.root / ".mvctl" / "state.db") as conn:
        conn.execute("UPDATE aliases SET version = ? WHERE name = 'production'", (version,))


def test_refresh_only_on_production_needs_production_s_actors(guarded: Project) -> None:
    move_production_outside_mvctl(guarded, "1.1.0")
    before = serial(guarded)
    code, plan = plan_as(guarded, "mallory", "--refresh-only")
    assert code == 3
    assert "(--refresh-only)" in denials(plan)[0]
    refused = guarded.mvctl("apply", "--auto-approve", "--refresh-only", "--actor", "mallory")
    assert refused.code == 3 and serial(guarded) == before
    accepted = guarded.mvctl("apply", "--auto-approve", "--refresh-only", "--actor", "release-bot")
    assert accepted.code == 0, accepted.text
    assert serial(guarded) == before + 1


def test_a_revert_by_an_actor_the_policy_does_not_list_is_refused(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)
    assert guarded.mvctl("apply", "--auto-approve", "--actor", "release-bot").code == 0
    before = serial(guarded)
    refused = guarded.mvctl("revert", "--auto-approve", "--actor", "mallory")
    assert refused.code == 3
    assert "'mallory' may not move churn:production back to 1.0.0 by revert" in refused.err
    assert "policy.protected_aliases.production.actors allows release-bot" in refused.err
    assert production(guarded) == "1.1.0" and serial(guarded) == before
    assert [h["kind"] for h in history(guarded)] == ["apply", "apply"]
    (event,) = conflict_events(guarded)
    assert (event["operation"], event["actor"]) == ("revert", "mallory")

    reverted = guarded.mvctl("revert", "--auto-approve", "--actor", "release-bot")
    assert reverted.code == 0, reverted.text
    assert production(guarded) == "1.0.0"


def test_reverting_a_policy_change_is_a_policy_change(guarded: Project) -> None:
    guarded.edit_config("actors: [release-bot]", "actors: [release-bot, mallory]")
    assert guarded.mvctl("apply", "--auto-approve", "--actor", "admin").code == 0
    refused = guarded.mvctl("revert", "--auto-approve", "--actor", "mallory")
    assert refused.code == 3
    assert "not_allowed policy: 'mallory' may not change policy.protected_aliases" in refused.err
    assert guarded.mvctl("revert", "--auto-approve", "--actor", "admin").code == 0
    guarded.edit_config(*MOVE_PRODUCTION)
    code, plan = plan_as(guarded, "mallory")
    assert code == 3 and "churn:production" in [c["target"] for c in plan["conflicts"]]


def test_a_saved_plan_is_checked_for_the_actor_applying_it(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)
    saved = guarded.mvctl("plan", "--out", "reviewed.plan", "--actor", "release-bot")
    assert saved.code == 0, saved.text
    refused = guarded.mvctl("apply", "reviewed.plan", "--auto-approve", "--actor", "mallory")
    assert refused.code == 3 and "'mallory' may not move churn:production" in refused.err
    assert production(guarded) == "1.0.0"
    applied = guarded.mvctl("apply", "reviewed.plan", "--auto-approve", "--actor", "release-bot")
    assert applied.code == 0, applied.text
    assert production(guarded) == "1.1.0"


ODD_NAMES = [
    ("", "it is empty"),
    (" release-bot", "it starts or ends with a blank"),
    ("release-bot\n", "U+000A"),
    ("release-bot\u200b", "U+200B"),  # a zero-width space
    ("release\u202ebot", "U+202E"),  # a right-to-left override
]


def test_an_odd_actor_name_is_refused_before_anything_happens(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)
    before = serial(guarded)
    for name, problem in ODD_NAMES:
        for command in (("plan",), ("apply", "--auto-approve"), ("revert", "--auto-approve")):
            result = guarded.mvctl(*command, "--actor", name)
            assert result.code == 1, result.text
            assert "from --actor is not a valid actor name" in result.err, name
            assert problem in result.err and "Traceback" not in result.text
        if name:  # an empty variable counts as unset
            from_env = guarded.mvctl("plan", extra_env={"MVCTL_ACTOR": name})
            assert from_env.code == 1 and "the environment variable MVCTL_ACTOR" in from_env.err
    assert production(guarded) == "1.0.0" and serial(guarded) == before


def test_a_look_alike_name_is_another_actor(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)
    code, plan = plan_as(guarded, "r\u0435lease-bot")  # a Cyrillic e (U+0435)
    assert code == 3 and denials(plan)


def test_the_actor_comes_from_the_option_then_mvctl_actor_then_the_ci(guarded: Project) -> None:
    guarded.edit_config(*MOVE_PRODUCTION)

    def code(*args: str, **env: str) -> int:
        return guarded.mvctl("plan", "--detailed-exitcode", *args, extra_env=env).code

    ci = {"MVCTL_ACTOR": "", "GITHUB_ACTOR": "release-bot"}
    assert code(**ci) == 2  # an empty MVCTL_ACTOR counts as unset: the CI's user plans
    assert code(**{**ci, "MVCTL_ACTOR": "mallory"}) == 3
    assert code("--actor", "release-bot", MVCTL_ACTOR="mallory") == 2
    assert code(MVCTL_ACTOR="", GITLAB_USER_LOGIN="release-bot") == 2


def test_an_empty_or_odd_name_in_the_policy_is_a_config_error(guarded: Project) -> None:
    guarded.edit_config("actors: [release-bot]", 'actors: [release-bot, ""]')
    result = guarded.mvctl("validate")
    assert result.code == 1
    assert "mvctl.yaml:" in result.err and "is not a valid actor name: it is empty" in result.err


def test_a_policy_edited_in_the_database_is_caught(guarded: Project) -> None:
    """The policy goes through the change log like any change: `state check` replays it, so a
    hand edit shows; a row mvctl could not have written is refused rather than misread."""
    assert guarded.mvctl("state", "check").code == 0
    database = guarded.root / ".mvctl" / "state.db"
    granted = (
        '{"admins":["admin"],"owners":{"churn":["tester"]},'
        '"protected_aliases":{"production":{"actors":["mallory","release-bot"]}}}'
    )
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE policy SET value_json = ?", (granted,))
    checked = guarded.mvctl("state", "check", "--json")
    assert checked.code == 1
    assert any(
        f["kind"] == "log_mismatch" and f["obj"] == "policy"
        for f in json.loads(checked.out)["findings"]
    )
    with sqlite3.connect(database) as conn:
        conn.execute('UPDATE policy SET value_json = \'{"admins": "mallory"}\'')
    planned = guarded.mvctl("plan")
    assert planned.code == 1 and "Traceback" not in planned.text
    assert "the policy recorded in the state database" in planned.err
    assert "is malformed" in planned.err
