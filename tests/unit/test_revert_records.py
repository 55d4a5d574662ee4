"""Revert arithmetic for version records: an overwrite comes back whole, a status alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mvctl.core.recorded import (
    Change,
    LoggedChange,
    RecordedAlias,
    RecordedState,
    RecordedVersion,
    Target,
)
from mvctl.core.records import AliasRecord, VersionRecord
from mvctl.core.revert import (
    StatusOnly,
    VersionIdentity,
    outline_to,
    outline_undo,
    served_changes,
)
from mvctl.errors import RevertError

V1 = Target("version", "churn", "1.0.0")


def record(spec: str, artifact: str | None, status: Any = "trained", **extra: Any) -> VersionRecord:
    value = VersionRecord(
        status=status,
        spec_hash=spec,
        metadata_hash="meta",
        artifact_digest=artifact,
        spec={"steps": [{"name": "train", "params": {"lr": spec}}]},
        params={"train": {"lr": spec}},
        lineage={"steps": {"train": {"key": f"key-{spec}"}}},
        failure=None,
        description=None,
        tags={},
        created_by="alice",
        created_at="2026-01-01T00:00:00Z",
        apply_id=1,
    )
    return replace(value, **extra)


def recorded_with(value: VersionRecord, alias: str | None = None) -> RecordedState:
    version = RecordedVersion(
        "churn",
        "1.0.0",
        value.status,
        value.spec_hash,
        "meta",
        value.artifact_digest,
        "{}",
        value.apply_id,
        "alice",
        "t",
    )
    aliases = (
        {}
        if alias is None
        else {("churn", "production"): RecordedAlias("churn", "production", alias, 1)}
    )
    return RecordedState(
        serial=3,
        models=frozenset({"churn"}),
        versions={("churn", "1.0.0"): version},
        aliases=aliases,
    )


OLD = record("spec-old", "sha256:" + "a" * 64)
NEW = record("spec-new", "sha256:" + "b" * 64, apply_id=2)
LOG = [
    LoggedChange(1, 1, Change(V1, None, OLD)),
    LoggedChange(2, 1, Change(V1, OLD, NEW)),  # the overwrite
]


def test_undoing_an_overwrite_restores_the_whole_earlier_record() -> None:
    outline = outline_undo(LOG, recorded_with(NEW), 2, {})
    (restoration,) = outline.restorations
    assert restoration.target == V1
    assert restoration.current == VersionIdentity("trained", "spec-new", NEW.artifact_digest)
    assert restoration.restored == OLD  # spec hash, artifact, params, lineage: all of it
    assert outline.pins == ()


def test_restoring_the_state_after_an_apply_brings_back_that_record() -> None:
    outline = outline_to(LOG, recorded_with(NEW), 1, {})
    assert [r.restored for r in outline.restorations] == [OLD]


def test_a_status_change_reverts_by_status_alone() -> None:
    archived = replace(OLD, status="archived", created_at="later")
    log = [LoggedChange(1, 1, Change(V1, None, OLD)), LoggedChange(2, 1, Change(V1, OLD, archived))]
    (restoration,) = outline_undo(log, recorded_with(archived), 2, {}).restorations
    assert restoration.restored == StatusOnly("trained")


def test_a_metadata_update_has_nothing_to_revert() -> None:
    described = replace(OLD, description="better words", metadata_hash="meta-2")
    log = [
        LoggedChange(1, 1, Change(V1, None, OLD)),
        LoggedChange(2, 1, Change(V1, OLD, described)),
    ]
    assert outline_undo(log, recorded_with(described), 2, {}).restorations == ()


def test_a_retried_failure_goes_back_to_the_failed_record() -> None:
    failed = record("spec-old", None, status="failed", failure={"step": "train", "exit_code": 4})
    log = [
        LoggedChange(1, 1, Change(V1, None, failed)),
        LoggedChange(2, 1, Change(V1, failed, OLD)),
    ]
    (restoration,) = outline_undo(log, recorded_with(OLD), 2, {}).restorations
    assert restoration.restored == failed


def test_an_overwrite_and_its_promotion_are_undone_together() -> None:
    alias = Target("alias", "churn", "production")
    log = [*LOG, LoggedChange(2, 2, Change(alias, None, AliasRecord("1.0.0")))]
    outline = outline_undo(
        log, recorded_with(NEW, alias="1.0.0"), 2, {("churn", "production"): "1.0.0"}
    )
    assert [(r.target, r.restored) for r in outline.restorations] == [(V1, OLD), (alias, None)]


def test_a_later_overwrite_blocks_undoing_the_earlier_alone() -> None:
    newer = record("spec-newer", "sha256:" + "c" * 64, apply_id=3)
    log = [*LOG, LoggedChange(3, 1, Change(V1, NEW, newer))]
    with pytest.raises(RevertError, match="changed again by apply 3"):
        outline_undo(log, recorded_with(newer), 2, {})


def test_undoing_an_overwrite_of_a_served_version_names_the_old_artifact_to_verify() -> None:
    outline = outline_undo(LOG, recorded_with(NEW, alias="1.0.0"), 2, {})
    (served,) = served_changes(outline, recorded_with(NEW, alias="1.0.0"))
    assert (served.alias, served.version, served.artifact_digest) == (
        "production",
        "1.0.0",
        OLD.artifact_digest,
    )
    assert served.record == OLD


def test_an_overwrite_no_alias_serves_has_nothing_to_verify() -> None:
    outline = outline_undo(LOG, recorded_with(NEW), 2, {})
    assert served_changes(outline, recorded_with(NEW)) == ()


def test_an_alias_moved_back_serves_its_earlier_version_as_recorded() -> None:
    alias = Target("alias", "churn", "production")
    log = [
        LoggedChange(1, 1, Change(V1, None, OLD)),
        LoggedChange(2, 1, Change(alias, AliasRecord("1.0.0"), AliasRecord("1.1.0"))),
    ]
    recorded = recorded_with(OLD, alias="1.1.0")
    (served,) = served_changes(outline_undo(log, recorded, 2, {}), recorded)
    assert (served.version, served.artifact_digest, served.record) == (
        "1.0.0",
        OLD.artifact_digest,
        None,
    )


def test_an_alias_the_revert_removes_serves_nothing_to_verify() -> None:
    alias = Target("alias", "churn", "production")
    log = [
        LoggedChange(1, 1, Change(V1, None, OLD)),
        LoggedChange(2, 1, Change(alias, None, AliasRecord("1.0.0"))),
    ]
    recorded = recorded_with(OLD, alias="1.0.0")
    assert served_changes(outline_undo(log, recorded, 2, {}), recorded) == ()
