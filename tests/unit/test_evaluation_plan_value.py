"""A plan with evaluations and gated alias moves is still a value: it round-trips through JSON
without loss, matches the checked-in schema, and planning twice gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from mvctl.core.plan import EvaluateVersion, MoveAlias, Plan
from mvctl.core.planner import build_plan
from tests.unit.planner_support import config_of, recorded_from

CASES = Path(__file__).parent.parent / "cases" / "plan"
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text("utf-8"))


def gated_plan(name: str) -> Plan:
    case = yaml.safe_load((CASES / name).read_text("utf-8"))
    twists = case.get("recorded", {})
    recorded = recorded_from(
        config_of(case["before"]), case["digests"], evaluations=twists.get("evaluations")
    )
    return build_plan(config_of(case["after"]), recorded, case["digests"], {})


def test_gated_plans_round_trip_and_match_the_schema() -> None:
    for name in (
        "26_stored_metrics_decide_the_gates_in_the_plan.yaml",
        "27_baseline_is_evaluated_on_the_candidates_data.yaml",
    ):
        plan = gated_plan(name)
        assert any(isinstance(a, MoveAlias) and a.gates for a in plan.actions)
        data = json.loads(json.dumps(plan.to_dict()))
        jsonschema.validate(data, SCHEMA)
        again = Plan.from_dict(data)
        assert again == plan and again.hash == plan.hash


def test_planning_twice_gives_the_same_bytes() -> None:
    first = gated_plan("27_baseline_is_evaluated_on_the_candidates_data.yaml")
    second = gated_plan("27_baseline_is_evaluated_on_the_candidates_data.yaml")
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(
        second.to_dict(), sort_keys=True
    )
    (evaluate,) = [a for a in first.actions if isinstance(a, EvaluateVersion)]
    assert evaluate.baseline_for == ("1.1.0",) and evaluate.datasets[0].step == "prep"
