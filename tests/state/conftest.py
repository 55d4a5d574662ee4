"""Fixtures of the state tests; `state_url` (tests/conftest.py) runs each on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvctl.state.db import StateDB


@pytest.fixture
def db(state_url: str) -> Iterator[StateDB]:
    with StateDB.open(state_url, create=True) as opened:
        yield opened
