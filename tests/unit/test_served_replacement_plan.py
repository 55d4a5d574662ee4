"""The replacement of a version aliases serve, as a plan value: it round-trips through JSON,
matches the checked-in schema, cannot be edited in a saved plan, and every format shows its
gates the way an alias move's are shown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mvctl.core.plan import Plan, ReplaceServedVersion
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.render.markup import strip
from mvctl.render.plan import format_plan_markdown, format_plan_text
from tests.unit.planner_support import config_of, recorded_from

CASES = Path(__file__).parent.parent / "cases" / "plan"
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text("utf-8"))


def overwrite_plan() -> Plan:
    case = yaml.safe_load(
        (CASES / "39_overwrite_of_a_served_version_is_gated_like_a_move.yaml").read_text("utf-8")
    )
    recorded = recorded_from(
        config_of(case["before"]),
        case["digests"],
        evaluations=case["recorded"]["evaluations"],
    )
    return build_plan(
        config_of(case["after"]), recorded, case["digests"], {}, PlanOptions(**case["options"])
    )


def test_a_replacement_round_trips_through_json_and_matches_the_schema() -> None:
    plan = overwrite_plan()
    (replace,) = [a for a in plan.actions if isinstance(a, ReplaceServedVersion)]
    assert replace.aliases == ("production", "staging") and len(replace.gates) == 2
    data = json.loads(json.dumps(plan.to_dict()))
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["replace_served_version"] == 1
    again = Plan.from_dict(data)
    assert again == plan and again.hash == plan.hash


@pytest.mark.parametrize("edit", ["drop_gates", "drop_alias"])
def test_a_saved_plan_whose_replacement_was_edited_is_refused(edit: str) -> None:
    data = overwrite_plan().to_dict()
    (replace,) = [a for a in data["actions"] if a["kind"] == "replace_served_version"]
    if edit == "drop_gates":
        replace["gates"] = []
    else:
        replace["aliases"] = ["staging"]
    with pytest.raises(ValueError, match="does not match its hash"):
        Plan.from_dict(data)


def test_text_and_markdown_show_what_the_replacement_must_pass() -> None:
    plan = overwrite_plan()
    text = strip(format_plan_text(plan))
    assert "~ replace m@1.0.0  spec " in text
    assert (
        "    serves m:production, m:staging — gate f1 >= 0.9 on holdout.csv: pending "
        "(known once apply evaluates it)"
    ) in text
    assert "1 served versions replaced" in text
    markdown = format_plan_markdown(plan)
    assert (
        "  - serves m:production, m:staging — gate roc\\_auc >= baseline(production) - 0.01 "
        "on holdout.csv: pending"
    ) in markdown
