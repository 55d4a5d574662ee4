"""Trigger decisions as values: label templates, cron periods in time zones, and when a
trigger fires or says why not. Real croniter; every moment is given, never read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mvctl.core.recorded import Firing
from mvctl.core.triggers import (
    Proposal,
    Skip,
    change_occasion,
    evaluate_trigger,
    final_key,
    schedule_occasion,
)
from mvctl.spec.label_templates import next_number, render, template_problem
from mvctl.spec.models import ModelSpec
from mvctl.spec.schedules import fires_at_most_daily, local_date, period_start, schedule_problem

MODEL = ModelSpec.model_validate(
    {
        "pipeline": [
            {"name": "train", "run": "python train.py", "deps": ["data.csv"], "params": {"seed": 1}}
        ],
        "versions": {"1.0.0": {}, "1.1.0": {"params": {"train": {"seed": 2}}}},
        "aliases": {"production": "1.0.0"},
        "triggers": [
            {"name": "nightly", "schedule": "0 2 * * *", "from": "1.1.0", "label": "1.1.{n}"},
            {"name": "fresh", "on_change": ["data.csv"], "from": "production"},
            {
                "name": "noisy",
                "schedule": "0 2 * * *",
                "from": "1.1.0",
                "label": "{from}-{trigger}.{date}.{n}",
                "always": True,
            },
        ],
    },
    by_name=False,
)
NIGHTLY, FRESH, NOISY = MODEL.triggers
DIGESTS = {"data.csv": "sha256:aaa"}


def keys_of(digests: dict[str, str]) -> dict[str, str]:
    return {
        label: key
        for label, version in MODEL.versions.items()
        if (key := final_key("churn", MODEL, label, version, digests, {})) is not None
    }


def firing(id: int, trigger: str, occasion: str, **fields: object) -> Firing:
    values: dict[str, object] = {
        "id": id,
        "model": "churn",
        "trigger": trigger,
        "kind": "schedule",
        "occasion": occasion,
        "period": None,
        "digests": {},
        "label": "1.1.1",
        "source": "1.1.0",
        "file": "mvctl.yaml",
        "fired_at": "2026-03-01T02:05:00Z",
        "actor": "ci",
    }
    values.update(fields)
    return Firing(**values)  # type: ignore[arg-type]


def test_n_is_one_more_than_the_largest_number_the_template_gave() -> None:
    taken = ["1.0.0", "1.1.0", "1.1.3", "1.1.10", "1.2.7", "1.1.x"]
    assert next_number("1.1.{n}", {}, taken) == 11
    assert next_number("2.0.{n}", {}, taken) == 1
    fixed = {"date": "20260301", "trigger": "nightly"}
    assert (
        next_number("{trigger}-{date}.{n}", fixed, ["nightly-20260301.2", "nightly-20260228.9"])
        == 3
    )


def test_a_template_fills_from_date_and_trigger() -> None:
    values = {"from": "1.1.0", "n": 4, "date": "20260301", "trigger": "nightly"}
    assert render("{from}-{trigger}.{date}.{n}", values) == "1.1.0-nightly.20260301.4"


@pytest.mark.parametrize(
    "template, problem",
    [
        ("1.1.{n", "without its pair"),
        ("{version}.{n}", "uses {version}"),
        ("1.1.{n:03d}", "formats {n}"),
        ("1.1.{n!r}", "formats {n}"),
    ],
)
def test_a_broken_template_says_what_is_wrong(template: str, problem: str) -> None:
    assert problem in (template_problem(template) or "")


def test_a_period_starts_at_the_latest_time_of_the_schedule_at_or_before_now() -> None:
    at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert period_start("0 2 * * *", None, at) == at
    assert period_start("0 2 * * *", None, at.replace(minute=59)) == at
    assert period_start("0 2 * * *", None, at.replace(hour=1)) == at.replace(day=28, month=2)


def test_a_schedule_is_read_in_its_time_zone() -> None:
    # 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer.
    winter = period_start("0 2 * * *", "Europe/Paris", datetime(2026, 1, 10, 1, 30, tzinfo=UTC))
    assert winter == datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    summer = period_start("0 2 * * *", "Europe/Paris", datetime(2026, 7, 10, 0, 30, tzinfo=UTC))
    assert summer == datetime(2026, 7, 10, 0, 0, tzinfo=UTC)
    # 23:30 UTC on the 9th is already the 10th in Tokyo.
    late = datetime(2026, 7, 9, 23, 30, tzinfo=UTC)
    assert local_date(late, "Asia/Tokyo") == "20260710" and local_date(late, None) == "20260709"


def test_schedules_that_never_fire_or_do_not_parse_are_refused() -> None:
    assert "never fires" in (schedule_problem("0 0 31 2 *") or "")
    assert "never fires" in (schedule_problem("0 0 30 2 *") or "")
    assert schedule_problem("0 0 29 2 *") is None  # leap years come
    assert "not a valid cron expression" in (schedule_problem("0 25 * * *") or "")
    assert "not a cron nickname" in (schedule_problem("@sometimes") or "")
    assert schedule_problem("@daily") is None
    assert fires_at_most_daily("0 2 * * *") and not fires_at_most_daily("0 */2 * * *")


def test_a_schedule_fires_once_per_period() -> None:
    occasion = schedule_occasion("2026-03-01T02:00:00Z", "20260301")
    keys: dict[str, str] = {}  # no version of the model trains like the copy
    first = evaluate_trigger(
        "churn", MODEL, NIGHTLY, occasion, [], set(MODEL.versions), keys, DIGESTS, {}
    )
    assert isinstance(first, Proposal) and (first.label, first.source) == ("1.1.1", "1.1.0")
    fired = firing(1, "nightly", occasion.key, period=occasion.period)
    again = evaluate_trigger(
        "churn", MODEL, NIGHTLY, occasion, [fired], {*MODEL.versions, "1.1.1"}, keys, DIGESTS, {}
    )
    assert isinstance(again, Skip)
    assert again.reason == (
        "already fired for the period that began 2026-03-01T02:00:00Z: wrote 1.1.1 at "
        "2026-03-01T02:05:00Z"
    )


def test_a_copy_that_would_train_the_same_model_does_not_fire_unless_always() -> None:
    occasion = schedule_occasion("2026-03-01T02:00:00Z", "20260301")
    keys = keys_of(DIGESTS)
    same = evaluate_trigger(
        "churn", MODEL, NIGHTLY, occasion, [], set(MODEL.versions), keys, DIGESTS, {}
    )
    assert isinstance(same, Skip)
    assert same.reason.startswith("it would train the same model as 1.1.0: a copy of 1.1.0")
    noisy = evaluate_trigger(
        "churn", MODEL, NOISY, occasion, [], set(MODEL.versions), keys, DIGESTS, {}
    )
    assert isinstance(noisy, Proposal) and noisy.label == "1.1.0-noisy.20260301.1"
    changed = {"data.csv": "sha256:bbb"}
    fires = evaluate_trigger(
        "churn", MODEL, NIGHTLY, occasion, [], set(MODEL.versions), keys, changed, {}
    )
    assert isinstance(fires, Proposal)


def test_on_change_fires_when_the_files_differ_from_its_last_firing() -> None:
    keys = keys_of(DIGESTS)
    changed = {"data.csv": "sha256:bbb"}
    first = change_occasion(changed, None, "20260301")
    fired = evaluate_trigger(
        "churn", MODEL, FRESH, first, [], set(MODEL.versions), keys, changed, {}
    )
    assert isinstance(fired, Proposal) and fired.source == "1.0.0" and fired.label == "fresh-1"
    record = firing(7, "fresh", first.key, kind="on_change", digests=changed, label="fresh-1")
    later = change_occasion(changed, record, "20260302")
    assert later.key != first.key
    still = evaluate_trigger(
        "churn", MODEL, FRESH, later, [record], {*MODEL.versions, "fresh-1"}, keys, changed, {}
    )
    assert isinstance(still, Skip)
    assert (
        still.reason == "data.csv unchanged since its last firing (fresh-1 at 2026-03-01T02:05:00Z)"
    )
    newer = {"data.csv": "sha256:ccc"}
    again = evaluate_trigger(
        "churn",
        MODEL,
        FRESH,
        change_occasion(newer, record, "20260302"),
        [record],
        {*MODEL.versions, "fresh-1"},
        keys,
        newer,
        {},
    )
    assert isinstance(again, Proposal) and again.label == "fresh-2"
    assert again.reason == "data.csv changed since fresh-1"
