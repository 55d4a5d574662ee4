"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from tests.functional.projects import TEST_ACTOR


@pytest.fixture(autouse=True)
def _in_process_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands act as the subprocess ones do (``base_env``): as the tiny project's
    owner, whoever runs the tests and whatever CI's variables say."""
    monkeypatch.setenv("MVCTL_ACTOR", TEST_ACTOR)
