"""The standing suite's template project, trained once per session, and the folder its cases
are copied into (see ``tests.hostile.standing``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import tally
from tests.hostile.standing import Template, build_template


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("standing") / "template")


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("standing-cases")
    yield folder
    assert not list(folder.iterdir()), "a case was left behind"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker sends its tallies to the controller, which prints them."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[tally.WORKER_OUTPUT_KEY] = tally.as_data()
