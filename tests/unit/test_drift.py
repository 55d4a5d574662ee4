"""Drift the config cannot explain: aliases moved outside mvctl, artifacts gone from the store;
and `--refresh-only`, which accepts the recorded state and moves nothing."""

from __future__ import annotations

from dataclasses import replace

from mvctl.core.drift import artifacts_to_check
from mvctl.core.plan import Plan, RefreshAlias
from mvctl.core.planner import PlanOptions, build_plan
from mvctl.core.recorded import RecordedAlias
from tests.unit.planner_support import config_of, recorded_from

DIGESTS = {"prep.py": "sha256:aaa"}
CONFIG = config_of(
    {
        "models": {
            "m": {
                "pipeline": [
                    {
                        "name": "prep",
                        "run": "python prep.py",
                        "deps": ["prep.py"],
                        "outputs": ["d.json"],
                    }
                ],
                "versions": {"1.0.0": {}, "1.1.0": {"description": "same spec, other label"}},
                "aliases": {"production": "1.0.0", "staging": "1.1.0"},
            }
        },
    }
)
REFRESH = PlanOptions(refresh_only=True)


def test_refresh_only_records_an_alias_moved_outside_and_moves_nothing() -> None:
    recorded = recorded_from(CONFIG, DIGESTS, outside={"m:production": "1.1.0"})
    plan = build_plan(CONFIG, recorded, DIGESTS, {}, REFRESH)
    assert plan.actions == (RefreshAlias("m", "production", "1.0.0", "1.1.0"),)
    assert [(d.kind, d.target) for d in plan.drift] == [("alias_changed_outside", "m:production")]
    assert Plan.from_dict(plan.to_dict()) == plan
    normal = build_plan(CONFIG, recorded, DIGESTS, {})
    assert [a.kind for a in normal.actions] == ["move_alias"]  # the config would move it back


def test_refresh_only_covers_aliases_removed_outside_and_ignores_the_config() -> None:
    recorded = recorded_from(CONFIG, DIGESTS)
    aliases = dict(recorded.aliases)
    del aliases[("m", "staging")]
    edited = config_of({"models": {}})  # the config would archive everything: not now
    plan = build_plan(edited, replace(recorded, aliases=aliases), DIGESTS, {}, REFRESH)
    assert plan.actions == (RefreshAlias("m", "staging", "1.1.0", None),)
    assert plan.conflicts == ()


def test_refresh_only_with_nothing_outside_is_empty() -> None:
    plan = build_plan(CONFIG, recorded_from(CONFIG, DIGESTS), DIGESTS, {}, REFRESH)
    assert not plan.has_changes and plan.drift == ()


def test_missing_artifact_of_a_version_an_alias_needs_is_drift() -> None:
    recorded = recorded_from(CONFIG, DIGESTS)
    digest = recorded.versions[("m", "1.0.0")].artifact_digest
    assert digest is not None and artifacts_to_check(CONFIG, recorded) == {digest}
    plan = build_plan(CONFIG, recorded, DIGESTS, {}, missing_artifacts={digest})
    # Both versions share the (fake) digest, so both are named, each with its aliases.
    assert [(d.kind, d.target) for d in plan.drift] == [
        ("artifact_missing", "m@1.0.0"),
        ("artifact_missing", "m@1.1.0"),
    ]
    assert "production need it" in plan.drift[0].message
    assert "restore the blob" in plan.drift[0].message.lower()
    assert not plan.has_changes


def test_only_artifacts_aliases_use_are_checked() -> None:
    recorded = recorded_from(CONFIG, DIGESTS)
    versions = dict(recorded.versions)
    versions[("m", "1.1.0")] = replace(
        versions[("m", "1.1.0")], artifact_digest="sha256:" + "b" * 64
    )
    versions[("m", "0.9.0")] = replace(
        versions[("m", "1.0.0")], label="0.9.0", artifact_digest="sha256:" + "c" * 64
    )
    aliases = {("m", "production"): RecordedAlias("m", "production", "1.0.0", 1)}
    state = replace(recorded, versions=versions, aliases=aliases)
    assert artifacts_to_check(CONFIG, state) == {
        versions[("m", "1.0.0")].artifact_digest,
        "sha256:" + "b" * 64,  # staging, as declared
    }
