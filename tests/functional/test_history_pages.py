"""`mvctl history` a page at a time: the newest applies first, `--before ID` for the next page,
and the page saying whether an older one follows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.functional.projects import Project, make_tiny


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny project applied (#1), then reverted three times (#2-#4)."""
    project = make_tiny(tmp_path_factory.mktemp("history") / "proj")
    assert project.mvctl("apply", "--auto-approve").code == 0
    for _ in range(3):
        reverted = project.mvctl("revert", "--auto-approve")
        assert reverted.code == 0, reverted.text
    return project


def _page(project: Project, *args: str) -> dict[str, Any]:
    result = project.mvctl("history", "--json", *args)
    assert result.code == 0, result.text
    page: dict[str, Any] = json.loads(result.out)
    return page


def test_pages_walk_the_log_newest_first_and_the_last_says_so(logged: Project) -> None:
    first = _page(logged, "--limit", "2")
    assert [a["id"] for a in first["applies"]] == [4, 3]
    assert first["next_before"] == 3

    second = _page(logged, "--limit", "2", "--before", str(first["next_before"]))
    assert [a["id"] for a in second["applies"]] == [2, 1]
    assert second["next_before"] is None  # full, yet nothing older

    assert _page(logged, "--limit", "3", "--before", "2") == {
        "format_version": 1,
        "applies": second["applies"][1:],
        "next_before": None,
    }


def test_a_page_of_one_model_counts_and_lists_that_model_only(logged: Project) -> None:
    page = _page(logged, "churn", "--limit", "1", "--before", "4")
    (only,) = page["applies"]
    assert only["id"] == 3 and page["next_before"] == 3
    assert only["changes"] and all(c["target"].startswith("churn") for c in only["changes"])


def test_the_text_page_ends_with_how_to_see_the_next_one(logged: Project) -> None:
    text = logged.mvctl("history", "--limit", "2").out
    assert text.splitlines()[-1] == "Older applies follow: run the same command with --before 3."
    assert "#4 revert of 3" in text and "#2 " not in text
    last = logged.mvctl("history", "--limit", "2", "--before", "3").out
    assert "#1 apply" in last and "--before" not in last


def test_without_limit_a_long_log_shows_its_newest_twenty_applies(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert project.mvctl("apply", "--auto-approve").code == 0
    with sqlite3.connect(project.root / ".mvctl" / "state.db") as db:
        db.executemany(
            "INSERT INTO applies (kind, actor, started_at, finished_at, plan_hash, status, "
            "serial_before, serial_after) VALUES ('apply', 'tester', ?, ?, ?, 'succeeded', 1, 1)",
            [("2030-01-01T00:00:00Z", "2030-01-01T00:00:01Z", "0" * 64)] * 30,
        )
    page = _page(project)
    assert [a["id"] for a in page["applies"]] == list(range(31, 11, -1))
    assert page["next_before"] == 12
    rest = _page(project, "--before", "12")
    assert [a["id"] for a in rest["applies"]] == list(range(11, 0, -1))
    assert rest["next_before"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("history", "--before", "0"),
        ("history", "--before", "x"),
        ("history", "churn:production", "--monitor", "--before", "3"),
        ("history", "churn:production", "--monitor", "--limit", "20"),
    ],
)
def test_bad_paging_options_are_usage_errors(logged: Project, args: tuple[str, ...]) -> None:
    result = logged.mvctl(*args)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    assert "--before" in result.err or "--limit" in result.err
