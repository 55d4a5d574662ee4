"""A saved plan is a promise, never a set of instructions: every way of editing one is refused.

Each test saves a reviewed plan with `mvctl plan --out`, edits the file the way an attacker
(or a careless hand) would, recomputes the file's own hash so that only the recomputation can
catch the edit, and runs `mvctl apply FILE`: exit 1, the first difference named, the state
database's rows and the store's files exactly as before. The untampered plan applies, and
with MVCTL_PLAN_KEY set only a plan signed with the same key does.

The project is the scored one (gates decided from stored metrics), applied once per module
and copied for each test; the change under review trains a version, registers an artifact,
evaluates both and moves two aliases.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.plan import BODY_KEYS
from tests.functional.inprocess import run_cli
from tests.functional.projects import Project, Result, base_env
from tests.functional.scored_project import make_scored

Plan = dict[str, Any]
CHANGE = """\
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {C: 0.05}}}
      "1.2.0": {params: {train: {C: 0.5}}}
      "2.0.0": {artifact: models/a.skops}
    aliases:
      production: "1.1.0"
      staging: "1.2.0"
"""


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MVCTL_STATE", "MVCTL_STORE", "MVCTL_PLAN_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scored project with 1.0.0 and 1.1.0 trained, evaluated and promoted."""
    project = make_scored(tmp_path_factory.mktemp("base") / "proj")
    first = run_cli("-c", str(project.root / "mvctl.yaml"), "apply", "--auto-approve")
    assert first.code == 0, first.text
    return project.root


@pytest.fixture
def project(applied: Path, tmp_path: Path) -> Project:
    """A copy of the applied project with the reviewed change in its config, and two model
    files: a.skops (1.0.0's model, declared as 2.0.0) and b.skops (1.1.0's, declared by none)."""
    root = tmp_path / "proj"
    shutil.copytree(applied, root)
    copy = Project(root, base_env(None))
    (root / "models").mkdir()
    shutil.copyfile(
        blob(copy, shown(copy, "churn@1.0.0")["artifact_digest"]), root / "models/a.skops"
    )
    shutil.copyfile(
        blob(copy, shown(copy, "churn@1.1.0")["artifact_digest"]), root / "models/b.skops"
    )
    text = copy.config()
    start = text.index("    versions:")
    copy.write("mvctl.yaml", text[:start] + CHANGE)
    return copy


def cli(project: Project, *args: str) -> Result:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def shown(project: Project, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(project, "show", ref, "--json").out)
    return data


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


def saved_plan(project: Project, *options: str) -> Path:
    path = project.root / "reviewed.plan"
    result = cli(project, "plan", "--out", str(path), *options)
    assert result.code == 0, result.text
    return path


def tamper(path: Path, edit: Callable[[Plan], None]) -> None:
    """Edit the saved plan and recompute its own hash, as an attacker would."""
    plan: Plan = json.loads(path.read_text("utf-8"))
    edit(plan)
    plan["hash"] = sha256_hex(canonical_json({key: plan[key] for key in BODY_KEYS}))
    path.write_text(json.dumps(plan, indent=2), "utf-8")


def recorded(project: Project) -> tuple[dict[str, list[str]], list[str]]:
    """Every row of every table of the state database, and every file of the store."""
    with closing(sqlite3.connect(project.root / ".mvctl" / "state.db")) as conn:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        rows = {
            table: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }
    store = project.root / ".mvctl" / "store"
    return rows, sorted(str(path.relative_to(store)) for path in store.rglob("*"))


def refused(project: Project, path: Path, *needles: str) -> Result:
    """`apply FILE` exits 1 naming ``needles``, and changes no row and no stored file."""
    before = recorded(project)
    result = cli(project, "apply", str(path), "--auto-approve")
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    for needle in needles:
        assert needle in result.err, result.err
    assert recorded(project) == before
    assert json.loads(cli(project, "status", "--json").out)["lock"] is None
    return result


def action(plan: Plan, kind: str, **fields: Any) -> dict[str, Any]:
    (found,) = [
        a
        for a in plan["actions"]
        if a["kind"] == kind and all(a[k] == v for k, v in fields.items())
    ]
    return found


def test_the_reviewed_plan_applies_as_saved(project: Project) -> None:
    path = saved_plan(project)
    saved = json.loads(path.read_text("utf-8"))
    assert [a["kind"] for a in saved["actions"]] == [
        "train_version",
        "register_artifact",
        "evaluate_version",
        "evaluate_version",
        "move_alias",
        "move_alias",
    ]
    applied = cli(project, "apply", str(path), "--auto-approve", "--json")
    assert applied.code == 0, applied.text
    outcome = json.loads(applied.out)
    assert outcome["plan_hash"] == saved["hash"]
    assert [o["action"] for o in outcome["outcomes"]] == saved["actions"]
    assert all(o["status"] == "done" for o in outcome["outcomes"]), outcome
    assert cli(project, "plan", "--detailed-exitcode").code == 0


def test_deleted_gates_are_refused(project: Project) -> None:
    path = saved_plan(project)
    tamper(path, lambda plan: action(plan, "move_alias", alias="production").update(gates=[]))
    refused(project, path, "action 5 (move_alias churn:production -> 1.1.0) differs in gates")


def test_a_changed_gate_threshold_is_refused(project: Project) -> None:
    path = saved_plan(project)

    def lower_the_bar(plan: Plan) -> None:
        gate = action(plan, "move_alias", alias="production")["gates"][0]
        assert gate["gate"] == "accuracy >= 0.7"
        gate["gate"] = "accuracy >= 0.1"

    tamper(path, lower_the_bar)
    refused(project, path, "move_alias churn:production -> 1.1.0) differs in gates")


def test_a_swapped_artifact_is_refused(project: Project) -> None:
    path = saved_plan(project)
    other = shown(project, "churn@1.1.0")["artifact_digest"]
    tamper(
        path,
        lambda plan: action(plan, "register_artifact").update(path="models/b.skops", digest=other),
    )
    refused(project, path, "action 2 (register_artifact churn@2.0.0) differs in digest, path")
    assert cli(project, "show", "churn@2.0.0").code == 1  # never registered


def test_an_alias_the_config_does_not_have_is_refused(project: Project) -> None:
    path = saved_plan(project)
    canary = {
        "kind": "move_alias",
        "model": "churn",
        "alias": "canary",
        "from_version": None,
        "to_version": "1.1.0",
        "gates": [],
    }
    tamper(path, lambda plan: plan["actions"].append(canary))
    refused(
        project,
        path,
        "action 7 (move_alias churn:canary -> 1.1.0) is in the file, but the config does not ask for it",
    )


def test_a_removal_of_production_is_refused(project: Project) -> None:
    path = saved_plan(project)
    removal = {
        "kind": "remove_alias",
        "model": "churn",
        "alias": "production",
        "from_version": "1.0.0",
    }
    tamper(path, lambda plan: plan["actions"].insert(0, removal))
    refused(
        project,
        path,
        "action 1 is remove_alias churn:production in the file, but train_version churn@1.2.0",
    )


def test_the_same_move_repeated_is_refused(project: Project) -> None:
    path = saved_plan(project)
    tamper(
        path,
        lambda plan: plan["actions"].append(dict(action(plan, "move_alias", alias="production"))),
    )
    refused(project, path, "action 7 (move_alias churn:production -> 1.1.0) is in the file")


def test_a_changed_target_version_is_refused(project: Project) -> None:
    path = saved_plan(project)
    tamper(
        path, lambda plan: action(plan, "move_alias", alias="staging").update(to_version="1.0.0")
    )
    refused(
        project,
        path,
        "action 6 is move_alias churn:staging -> 1.0.0 in the file, but move_alias "
        "churn:staging -> 1.2.0 in the plan computed now",
    )


def test_reordered_actions_are_refused(project: Project) -> None:
    path = saved_plan(project)

    def move_aliases_first(plan: Plan) -> None:
        plan["actions"] = plan["actions"][4:] + plan["actions"][:4]

    tamper(path, move_aliases_first)
    refused(project, path, "action 1 is move_alias churn:production -> 1.1.0 in the file")


def test_a_changed_step_cache_key_is_refused(project: Project) -> None:
    """The file stands for each step's command and params by its cache key."""
    path = saved_plan(project)

    def other_command(plan: Plan) -> None:
        action(plan, "train_version")["steps"][1]["cache_key"] = "0" * 64

    tamper(path, other_command)
    refused(project, path, "action 1 (train_version churn@1.2.0) differs in steps")


def test_a_command_changed_after_review_is_refused(project: Project) -> None:
    path = saved_plan(project)
    project.edit_config("run: python steps/prepare.py", "run: python steps/prepare.py && true")
    refused(project, path, "action 1 (train_version churn@1.2.0) differs in", "mvctl plan --out")


def test_a_param_changed_after_review_is_refused(project: Project) -> None:
    path = saved_plan(project)
    project.edit_config(
        '"1.2.0": {params: {train: {C: 0.5}}}', '"1.2.0": {params: {train: {C: 9}}}'
    )
    refused(project, path, "action 1 (train_version churn@1.2.0) differs in spec_hash, steps")


def test_an_edit_that_does_not_recompute_the_hash_is_refused(project: Project) -> None:
    path = saved_plan(project)
    path.write_text(path.read_text("utf-8").replace('"1.1.0"', '"6.6.6"'), "utf-8")
    refused(project, path, "does not match its hash")


def test_the_options_the_plan_was_made_with_are_the_ones_applied(project: Project) -> None:
    path = saved_plan(project, "--target", "churn@2.0.0")
    assert json.loads(path.read_text("utf-8"))["options"]["targets"] == ["churn@2.0.0"]
    other = cli(project, "apply", str(path), "--target", "churn@1.2.0", "--auto-approve")
    assert other.code == 1 and "--target" in other.err and "other options" in other.err
    applied = cli(project, "apply", str(path), "--auto-approve", "--json")
    assert applied.code == 0, applied.text
    done = {
        (o["action"]["kind"], o["action"].get("label")) for o in json.loads(applied.out)["outcomes"]
    }
    assert done == {("register_artifact", "2.0.0"), ("evaluate_version", "2.0.0")}


def test_an_unsigned_plan_is_refused_while_a_key_is_set(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_plan(project)
    assert "signature" not in json.loads(path.read_text("utf-8"))
    monkeypatch.setenv("MVCTL_PLAN_KEY", "ci-secret")
    refused(project, path, "is not signed, and MVCTL_PLAN_KEY is set")


def test_a_plan_signed_with_another_key_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVCTL_PLAN_KEY", "the plan job's key")
    path = saved_plan(project)
    assert json.loads(path.read_text("utf-8"))["signature"].startswith("hmac-sha256:")
    monkeypatch.setenv("MVCTL_PLAN_KEY", "another key")
    refused(project, path, "signature", "does not match", "signed with another key")


def test_a_signed_plan_edited_afterwards_is_refused_by_its_signature(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVCTL_PLAN_KEY", "ci-secret")
    path = saved_plan(project)
    tamper(path, lambda plan: action(plan, "move_alias", alias="production").update(gates=[]))
    refused(project, path, "signature of", "does not match its content")


def test_a_signed_plan_is_still_recomputed_without_the_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVCTL_PLAN_KEY", "ci-secret")
    path = saved_plan(project)
    monkeypatch.delenv("MVCTL_PLAN_KEY")
    tamper(path, lambda plan: action(plan, "move_alias", alias="production").update(gates=[]))
    refused(project, path, "differs in gates")


def test_a_signed_plan_applies_under_the_same_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVCTL_PLAN_KEY", "ci-secret")
    path = saved_plan(project, "--target", "churn@2.0.0")
    applied = cli(project, "apply", str(path), "--auto-approve")
    assert applied.code == 0, applied.text
    assert shown(project, "churn@2.0.0")["status"] == "trained"


def test_an_empty_key_is_an_error_not_a_missing_one(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVCTL_PLAN_KEY", "")
    planned = cli(project, "plan", "--out", str(project.root / "reviewed.plan"))
    assert planned.code == 1 and "MVCTL_PLAN_KEY is set but empty" in planned.err
    assert not (project.root / "reviewed.plan").exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[]", "it is not a JSON object"),
        ("{" * 100_000, "it is not JSON"),
        ('{"format": 2}', "its format_version is 2, not 4"),
        ('{"format_version": 4}', "it lacks project, serial, options"),
        ('{"format_version": 4, "run": "rm -rf /"}', "fields a plan does not have: run"),
    ],
)
def test_a_file_that_is_not_a_plan_is_refused(project: Project, content: str, why: str) -> None:
    path = project.root / "hostile.plan"
    path.write_text(content, "utf-8")
    refused(project, path, "is not a valid mvctl plan", why)


def test_a_hostile_label_in_the_file_is_printed_escaped(project: Project) -> None:
    path = saved_plan(project)
    tamper(path, lambda plan: action(plan, "move_alias", alias="staging").update(alias="\x1b[2J"))
    result = refused(project, path, "move_alias churn:\\u001b[2J")
    assert "\x1b" not in result.err
