"""Every planner case under tests/cases/plan/ as data: config before, config after, expected plan.

A case 'applies' its `before` config on paper (see planner_support), optionally twists the
recorded state (failed versions, pins, changes made outside mvctl, step outputs gone from the
store, another recorded policy), plans `after` (as `options.actor`, if given), and compares
the actions, conflicts, drift and lineage notes with what the case expects (or the error
message, for options the planner refuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mvctl.core.plan import MoveAlias, ReplaceServedVersion
from mvctl.core.planner import PlanOptions, build_plan, restored_step_keys
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import resolve_model
from mvctl.errors import MvctlError
from tests.unit.planner_support import config_of, describe_action, describe_conflict, recorded_from

CASES = sorted((Path(__file__).parent.parent / "cases" / "plan").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return case


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan_case(path: Path) -> None:
    case = _load(path)
    digests = case.get("digests", {})
    twists = case.get("recorded", {})
    if "before" in case:
        recorded = recorded_from(
            config_of(case["before"]),
            digests,
            failed=tuple(twists.get("failed", ())),
            pins=twists.get("pins"),
            outside=twists.get("outside"),
            archived=tuple(twists.get("archived", ())),
            evaluations=twists.get("evaluations"),
            policy=twists.get("policy"),
        )
    else:
        recorded = RecordedState()
    options = PlanOptions(**case.get("options", {}))
    after_digests = {**digests, **case.get("digests_after", {})}
    env_after = case.get("env_digests_after", {})  # the state was recorded with every one unset
    after = config_of(case["after"])
    expected = case["expect"]
    if "error" in expected:
        with pytest.raises(MvctlError) as raised:
            build_plan(after, recorded, after_digests, env_after, options)
        assert raised.value.message == expected["error"]
        return
    missing = _step_keys(case.get("before"), digests, twists.get("missing_outputs", ()))
    if missing:  # what the I/O edge looks up: steps the plan would restore, no others
        restored = restored_step_keys(
            build_plan(after, recorded, after_digests, env_after, options), recorded
        )
        assert missing <= restored
    plan = build_plan(after, recorded, after_digests, env_after, options, frozenset(), missing)
    assert [describe_action(a) for a in plan.actions] == expected.get("actions", [])
    assert [f"{c.kind} {c.target}" for c in plan.conflicts] == expected.get("conflicts", [])
    described = " ".join(describe_conflict(c) for c in plan.conflicts)
    for field in expected.get("conflict_fields", []):
        assert field in described
    for field in expected.get("conflict_fields_absent", []):
        assert field not in described
    messages = " ".join(c.message for c in plan.conflicts)
    for fragment in expected.get("conflict_messages", []):
        assert fragment in messages, fragment
    assert [f"{d.kind} {d.target}" for d in plan.drift] == expected.get("drift", [])
    lineage = [f"{n.model} {','.join(n.versions)}: {', '.join(n.inputs)}" for n in plan.lineage]
    assert lineage == expected.get("lineage", [])
    resolutions = [way for c in plan.conflicts for way in c.resolutions[:1]]
    for fragment in expected.get("first_ways_out", []):
        assert any(fragment in way for way in resolutions), (fragment, resolutions)
    gates = [
        f"{a.model}:{'+'.join(_aliases(a))} {g.gate} -> {g.result}"
        for a in plan.actions
        if isinstance(a, MoveAlias | ReplaceServedVersion)
        for g in a.gates
    ]
    assert gates == expected.get("gates", gates)
    for fragment in expected.get("gate_reasons", []):
        assert any(
            fragment in g.reason
            for a in plan.actions
            if isinstance(a, MoveAlias | ReplaceServedVersion)
            for g in a.gates
        ), fragment
    for step_reason in expected.get("reasons", []):
        assert any(
            step_reason in s.reason for a in plan.actions for s in getattr(a, "steps", ())
        ), step_reason


def _step_keys(
    before: dict[str, Any] | None, digests: dict[str, str], steps: list[str]
) -> frozenset[str]:
    """Cache keys of `model@label/step` as the ``before`` config resolves them."""
    keys = set()
    for ref in steps:
        version, _, step = ref.partition("/")
        model, _, label = version.partition("@")
        spec = config_of(before or {}).models[model]
        resolved = resolve_model(model, spec, digests, {})[label]
        keys |= {s.key for s in resolved.steps if s.name == step}
    return frozenset(keys)


def _aliases(action: MoveAlias | ReplaceServedVersion) -> tuple[str, ...]:
    return (action.alias,) if isinstance(action, MoveAlias) else action.aliases


def test_cases_exist() -> None:
    assert len(CASES) >= 12
