"""State URLs are parsed without SQLAlchemy, yet must mean what SQLAlchemy made of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mvctl.errors import StateError
from mvctl.state.url import parse_state_url, redact

POSTGRES_URLS = [
    "postgresql+psycopg://mvctl:s3cret@db.example.com:5433/state",
    "postgresql://mvctl@127.0.0.1/state?password=s3cret&sslmode=require",
    "postgresql+psycopg://m%40x:p%2Fw%3Ad@[::1]:5432/st%20ate",
    "postgresql+psycopg:///state?host=/var/run/postgresql",
    "postgresql://localhost",
]


@pytest.mark.parametrize("raw", POSTGRES_URLS)
def test_postgres_urls_connect_where_sqlalchemy_did(raw: str) -> None:
    expected = make_url(raw)
    args = parse_state_url(raw).connect_args
    assert args.get("user") == expected.username
    assert args.get("password") == (expected.password or expected.query.get("password"))
    assert args.get("host") == (expected.host or expected.query.get("host"))
    assert args.get("port") == expected.port
    assert args.get("dbname") == expected.database
    for key, value in expected.query.items():
        assert args[key] == value


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "postgresql+psycopg://mvctl:s3cret@127.0.0.1:5432/state",
            "postgresql+psycopg://mvctl:***@127.0.0.1:5432/state",
        ),
        (
            "postgresql://mvctl@127.0.0.1/state?sslmode=require&password=s3cret",
            "postgresql://mvctl@127.0.0.1/state?sslmode=require&password=%2A%2A%2A",
        ),
        ("sqlite:///relative/state.db", "sqlite:///relative/state.db"),
        ("not a url with :s3cret@ in it", "not a url with :s3cret@ in it"),
        ("bad://user:s3cret@host:port:extra", "bad://user:***@host:port:extra"),
    ],
)
def test_display_hides_only_the_password(raw: str, shown: str) -> None:
    assert redact(raw) == shown


def test_sqlite_paths_are_absolute_files_or_memory(tmp_path: Path) -> None:
    relative = parse_state_url("sqlite:///state/state.db")
    assert relative.connect_args == {"database": os.path.abspath("state/state.db"), "uri": False}
    assert relative.sqlite_path == Path(os.path.abspath("state/state.db"))
    for memory in ("sqlite://", "sqlite:///:memory:"):
        parsed = parse_state_url(memory)
        assert parsed.connect_args == {"database": ":memory:", "uri": False}
        assert parsed.sqlite_path is None
    uri = parse_state_url(f"sqlite+pysqlite:///file:{tmp_path}/s.db?mode=ro&uri=true")
    assert uri.connect_args == {"database": f"file:{tmp_path}/s.db?mode=ro", "uri": True}
    assert uri.sqlite_path == tmp_path / "s.db"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("sqlite://host/state.db", "names a file"),
        ("sqlite:///state.db?mode=ro", "need uri=true"),
        ("postgresql://h:port/db", "is not a number"),
        ("mysql://root:s3cret@localhost/state", "unsupported database ('mysql')"),
    ],
)
def test_urls_sqlalchemy_refused_are_refused(raw: str, says: str) -> None:
    with pytest.raises(StateError, match="sqlite:///") as caught:
        parse_state_url(raw)
    message = str(caught.value)
    assert says in message
    assert "s3cret" not in message
