"""Shared fixtures. Each section belongs to one part of the package; keep them apart."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------------------
# State databases (mvctl/state): `state_url` runs a test against SQLite and PostgreSQL.
#
# PostgreSQL: MVCTL_TEST_POSTGRES_URL names a server whose user may CREATE DATABASE (what
# `eval "$(bash .ci/start-postgres)"` sets up in .ci/run). Without it, one server is started
# for the session with the same script and stopped at the end; where PostgreSQL is not
# installed the postgres cases are skipped. Every test gets a database of its own.
# ------------------------------------------------------------------------------------------

POSTGRES_URL_ENV = "MVCTL_TEST_POSTGRES_URL"
START_POSTGRES = ROOT / ".ci" / "start-postgres"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The SQLAlchemy URL of a PostgreSQL server's maintenance database ('postgres')."""
    given = os.environ.get(POSTGRES_URL_ENV)
    if given:
        yield given
        return
    pg_bin = os.environ.get("PG_BIN", "/usr/local/bin")
    if shutil.which("initdb", path=pg_bin) is None:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_URL_ENV} or install initdb in {pg_bin}")
    started = subprocess.run(
        ["bash", str(START_POSTGRES)], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"could not start PostgreSQL:\n{started.stderr}", pytrace=False)
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in started.stdout.splitlines()
        if line.startswith("export ")
    )
    try:
        yield exports[POSTGRES_URL_ENV]
    finally:
        subprocess.run(
            ["bash", str(START_POSTGRES), "--stop", exports["MVCTL_TEST_POSTGRES_DIR"]],
            capture_output=True,
            check=False,
        )


def _admin_conninfo(server_url: str, database: str | None = None) -> str:
    """A libpq conninfo for psycopg from the SQLAlchemy URL (which names the driver)."""
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"mvctl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_conninfo(postgres_server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(postgres_server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state URL nobody has used yet: a SQLite file in a folder that does not exist yet,
    or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


# ------------------------------------------------------------------------------------------
# S3 stores (mvctl/store/s3.py): moto's standalone server over real HTTP on a loopback port,
# started once per session. `s3_bucket` gives each test an empty bucket of its own and the
# dummy credentials moto accepts, in this process's environment.
# ------------------------------------------------------------------------------------------

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 and a free port."""
    pytest.importorskip(
        "moto.server", reason="the S3 tests need `pip install -e '.[test]'` (moto[server])"
    )
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if server._server is not None:
            server._server.server_close()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket; the process environment holds credentials moto accepts."""
    import boto3

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"mvctl-test-{uuid.uuid4().hex[:12]}"
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    client.close()
    return name


# ------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------
# The actor (mvctl/workspace.py): every command a test runs in this process acts as the test
# projects' owner, as the subprocess ones do (``tests.functional.projects.base_env``),
# whoever runs the tests and whatever CI's variables say.


@pytest.fixture(autouse=True)
def _in_process_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.functional.projects import TEST_ACTOR

    monkeypatch.setenv("MVCTL_ACTOR", TEST_ACTOR)


# ------------------------------------------------------------------------------------------
# The standing hostile suite (tests/hostile): how many cases it generated, printed at the end
# of the session, whether its tests ran here or in pytest-xdist's workers.
# ------------------------------------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    from tests.hostile import tally

    tally.merge(getattr(node, "workeroutput", {}).get(tally.WORKER_OUTPUT_KEY, {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.hostile import tally

    if tally.TALLIES:
        terminalreporter.section("standing hostile suite: generated cases")
        for line in tally.summary_lines():
            terminalreporter.write_line(line)
