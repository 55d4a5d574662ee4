"""``StateReader.overview``: what `mvctl status` reads, on SQLite and on PostgreSQL — the rows
it shows, of one model when asked, with the revert pinning each alias."""

from __future__ import annotations

from state_helpers import alias_change, apply, model_change, version_change, version_value

from mvctl.core.recorded import Change, RecordedOverview, Target
from mvctl.core.records import PinRecord
from mvctl.state.db import StateDB

CREATED = "2026-11-29T08:30:00Z"


def _two_models(db: StateDB) -> None:
    apply(
        db,
        [
            model_change("churn"),
            model_change("fraud"),
            version_change("churn", "1.0.0", version_value()),
            version_change("churn", "1.1.0", version_value(status="failed")),
            version_change("fraud", "2.0.0", version_value()),
            alias_change("churn", "production", "1.0.0"),
            alias_change("churn", "staging", "1.1.0"),
            alias_change("fraud", "production", "2.0.0"),
            Change(Target("pin", "churn", "production"), None, PinRecord("1.0.0", 7)),
        ],
    )


def test_the_overview_holds_every_model_version_and_alias(db: StateDB) -> None:
    _two_models(db)

    seen = db.overview()

    assert seen.serial == db.serial() and seen.models == {"churn", "fraud"}
    assert sorted(seen.versions) == [
        ("churn", "1.0.0", "trained", CREATED),
        ("churn", "1.1.0", "failed", CREATED),
        ("fraud", "2.0.0", "trained", CREATED),
    ]
    assert sorted(seen.aliases) == [
        ("churn", "production", "1.0.0", 7),
        ("churn", "staging", "1.1.0", None),
        ("fraud", "production", "2.0.0", None),
    ]


def test_the_overview_of_one_model_reads_its_rows_only(db: StateDB) -> None:
    _two_models(db)

    assert db.overview("fraud") == RecordedOverview(
        serial=db.serial(),
        models=frozenset({"fraud"}),
        versions=(("fraud", "2.0.0", "trained", CREATED),),
        aliases=(("fraud", "production", "2.0.0", None),),
    )
    assert db.overview("nobody") == RecordedOverview(serial=db.serial())


def test_an_empty_state_has_an_empty_overview(state_url: str) -> None:
    with StateDB.open(state_url) as db:
        assert db.overview() == RecordedOverview()
