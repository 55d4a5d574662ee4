"""The policy as values: a plan that records one and is denied by one still round-trips, and a
revert's restorations meet the same rules as a plan's actions."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from mvctl.core.plan import Plan, RecordPolicy
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.core.policy import EMPTY_POLICY, declared_policy, revert_denials
from mvctl.core.recorded import (
    POLICY_TARGET,
    RecordedAlias,
    RecordedPolicy,
    RecordedState,
    Target,
)
from mvctl.core.records import AliasRecord, PinRecord, PolicyRecord, policy_shape_problem
from mvctl.core.revert import Restoration, StatusOnly, VersionIdentity, VersionRestoration
from tests.state.state_helpers import version_value
from tests.unit.planner_support import config_of, recorded_from

CASES = Path(__file__).parent.parent / "cases" / "plan"
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text("utf-8"))
IN_FORCE = {
    "admins": ["admin"],
    "protected_aliases": {"production": {"actors": ["release-bot"]}},
    "owners": {"m": ["ml-team"]},
}


def test_a_denied_policy_change_round_trips_and_matches_the_schema() -> None:
    case = yaml.safe_load(
        (
            CASES / "45_adding_yourself_to_the_actors_does_not_count_in_the_same_plan.yaml"
        ).read_text()
    )
    recorded = recorded_from(config_of(case["before"]), case["digests"])
    plan = build_plan(
        config_of(case["after"]), recorded, case["digests"], {}, PlanOptions(actor="mallory")
    )
    assert isinstance(plan.actions[0], RecordPolicy)
    assert {c.kind for c in plan.conflicts} == {"not_allowed"}
    data = json.loads(json.dumps(plan.to_dict()))
    jsonschema.validate(data, SCHEMA)
    again = Plan.from_dict(data)
    assert again == plan and again.hash == plan.hash


def test_declared_policy_ignores_order_and_repeats() -> None:
    one = config_of(
        {
            "policy": {
                "admins": ["b", "a", "a"],
                "protected_aliases": {"p": {"actors": ["y", "x"]}},
            },
            "models": {"m": {"owners": ["o2", "o1"]}, "n": {}},
        }
    )
    assert declared_policy(one) == {
        "admins": ["a", "b"],
        "protected_aliases": {"p": {"actors": ["x", "y"]}},
        "owners": {"m": ["o1", "o2"]},
    }
    assert policy_shape_problem(declared_policy(one)) is None
    assert declared_policy(config_of({})) == EMPTY_POLICY


def test_a_recorded_value_mvctl_could_not_have_written_is_named() -> None:
    assert policy_shape_problem(None) is not None
    assert policy_shape_problem({**IN_FORCE, "admins": "mallory"}) == (
        "'admins' must be a list of names"
    )
    assert policy_shape_problem({**IN_FORCE, "extra": []}) is not None
    assert policy_shape_problem({**IN_FORCE, "owners": {"m": [1]}}) is not None
    assert (
        policy_shape_problem({**IN_FORCE, "protected_aliases": {"p": {"actors": ["a"], "more": 1}}})
        is not None
    )


def restorations() -> list[Restoration | VersionRestoration]:
    archived = VersionIdentity("archived", "spec", None)
    return [
        Restoration(Target("alias", "m", "production"), AliasRecord("2"), AliasRecord("1")),
        Restoration(Target("alias", "m", "staging"), AliasRecord("2"), AliasRecord("1")),
        Restoration(Target("pin", "m", "production"), None, PinRecord("1", 3)),
        VersionRestoration(Target("version", "m", "2"), archived, StatusOnly("trained")),
        Restoration(POLICY_TARGET, PolicyRecord.from_json(IN_FORCE), None),
    ]


def test_a_revert_meets_the_rules_of_each_target_it_restores() -> None:
    recorded = RecordedState(policy=RecordedPolicy(IN_FORCE, 4))
    denied = revert_denials(restorations(), recorded, "mallory")
    assert [(c.kind, c.target) for c in denied] == [
        ("not_allowed", "m:production"),
        ("not_allowed", "m@2"),
        ("not_allowed", "policy"),
        ("not_allowed", "m"),
    ]
    assert "'mallory' may not move m:production back to 1 by revert" in denied[0].message
    assert "recorded by apply 4" in denied[0].message
    assert [c.target for c in revert_denials(restorations(), recorded, "admin")] == [
        "m:production",
        "m@2",
    ]
    assert revert_denials(restorations(), RecordedState(), "mallory") == []


def test_undoing_an_overwrite_of_what_production_serves_needs_production_s_actors() -> None:
    recorded = RecordedState(
        policy=RecordedPolicy({**IN_FORCE, "owners": {}}, 4),
        aliases={("m", "production"): RecordedAlias("m", "production", "1", 5)},
    )
    earlier = version_value(spec_hash="old", artifact_digest="sha256:old")
    now = VersionIdentity("trained", "new", "sha256:new")
    whole_record = [VersionRestoration(Target("version", "m", "1"), now, earlier)]
    (denied,) = revert_denials(whole_record, recorded, "ml-team")
    assert denied.target == "m:production"
    assert "'ml-team' may not revert m@1, which m:production points at" in denied.message
    assert revert_denials(whole_record, recorded, "release-bot") == []
    status_only = [VersionRestoration(Target("version", "m", "1"), now, StatusOnly("archived"))]
    assert revert_denials(status_only, recorded, "ml-team") == []


def test_each_protected_alias_serving_a_reverted_version_is_named_in_order() -> None:
    """Only the aliases of that model at that version count, each once, in name order, and
    the same checker answers for every version of a long revert."""
    protected = {"production": {"actors": ["release-bot"]}, "canary": {"actors": ["release-bot"]}}
    recorded = RecordedState(
        policy=RecordedPolicy({**IN_FORCE, "protected_aliases": protected, "owners": {}}, 4),
        aliases={
            ("m", "production"): RecordedAlias("m", "production", "1", 5),
            ("m", "canary"): RecordedAlias("m", "canary", "1", 5),
            ("m", "staging"): RecordedAlias("m", "staging", "2", 5),
            ("n", "production"): RecordedAlias("n", "production", "1", 5),
        },
    )
    earlier = version_value(spec_hash="old", artifact_digest="sha256:old")
    now = VersionIdentity("trained", "new", "sha256:new")
    undo = [
        VersionRestoration(Target("version", model, label), now, earlier)
        for model, label in (("m", "1"), ("m", "2"), ("n", "2"), ("n", "1"))
    ]
    denied = revert_denials(undo, recorded, "ml-team")
    assert [c.target for c in denied] == ["m:canary", "m:production", "n:production"]
    assert "'ml-team' may not revert n@1, which n:production points at" in denied[2].message
