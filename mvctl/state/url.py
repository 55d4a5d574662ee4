"""State URLs: which are accepted, what each connects to, and a display form that hides the
password (the only form that may appear in a message or a log).

URLs keep SQLAlchemy's syntax (``sqlite:///path``, ``postgresql+psycopg://user:pw@host/db``),
which is what users write in ``mvctl.yaml``, but are parsed here with the same grammar rather
than by SQLAlchemy: every command parses one, and importing SQLAlchemy costs more than a
no-op plan may take. The result holds the keyword arguments of ``sqlite3.connect`` or
``psycopg.connect``, so the plain reads and SQLAlchemy's writes open identical connections.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from mvctl.errors import StateError

URL_FIX = (
    "Use sqlite:///path/to/state.db or postgresql+psycopg://user:password@host:port/database "
    "(set it as 'state:' in mvctl.yaml or in MVCTL_STATE)."
)

SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg")

# SQLAlchemy's URL grammar (sqlalchemy.engine.url._parse_url), so every URL it accepted
# still means the same thing.
_URL = re.compile(
    r"""
    (?P<scheme>[\w+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/?]+)\] |
            (?P<ipv4host>[^/:?]+)
        )?
        (?::(?P<port>[^/?]*))?
    )?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class StateURL:
    """A parsed state URL.

    ``backend`` is 'sqlite' or 'postgresql'; ``connect_args`` are the driver's keyword
    arguments; ``sqlite_path`` is the database file (None: a server, or memory).
    """

    backend: str
    display: str
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    sqlite_path: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def in_memory(self) -> bool:
        """A SQLite database that lives only as long as its connection (``sqlite://``,
        ``:memory:``, ``mode=memory``, or SQLite's unnamed temporary file)."""
        if not self.is_sqlite:
            return False
        database = str(self.connect_args.get("database", ""))
        if database in ("", ":memory:"):
            return True
        if not self.connect_args.get("uri"):
            return False
        path, _, query = database.partition("?")
        modes = [value for key, value in parse_qsl(query) if key == "mode"]
        return path.removeprefix("file:") in ("", ":memory:") or "memory" in modes


def redact(raw: str) -> str:
    """The URL with any password replaced, as SQLAlchemy rendered it: '***' in the user part,
    '%2A%2A%2A' as a query value. Anything else keeps the spelling the user wrote."""
    match = _URL.fullmatch(raw)
    if match is None:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", raw)
    redacted = raw
    if match.group("query") is not None:
        start = match.start("query")
        query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2%2A%2A%2A", raw[start:])
        redacted = raw[:start] + query
    if match.group("password") is not None:
        redacted = redacted[: match.start("password")] + "***" + redacted[match.end("password") :]
    return redacted


def parse_state_url(raw: str) -> StateURL:
    """Accept SQLite and PostgreSQL URLs; 'postgresql://' means the psycopg 3 driver."""
    display = redact(raw)
    match = _URL.fullmatch(raw)
    if match is None:
        raise StateError(f"the state URL '{display}' cannot be parsed", fix=URL_FIX)
    parts = match.groupdict()
    query = _query(parts["query"])
    scheme = parts["scheme"]
    if scheme in SQLITE_SCHEMES:
        return _sqlite(parts, query, display)
    if scheme in POSTGRES_SCHEMES:
        return _postgres(parts, query, display)
    raise StateError(
        f"the state URL '{display}' names an unsupported database ('{scheme}')", fix=URL_FIX
    )


def _query(text: str | None) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(text or ""):
        query.setdefault(key, []).append(value)
    return query


def _sqlite(parts: dict[str, Any], query: dict[str, list[str]], display: str) -> StateURL:
    """``sqlite3.connect`` arguments the way SQLAlchemy's pysqlite dialect derived them."""
    if any(parts[name] for name in ("username", "password", "ipv4host", "ipv6host", "port")):
        raise StateError(
            f"the state URL '{display}' is not valid: a SQLite URL names a file, not a user, "
            "host or port",
            fix=URL_FIX,
        )
    database = unquote(parts["database"]) if parts["database"] else ""
    uri = query.pop("uri", ["false"])[-1].lower() in ("true", "1", "yes", "on")
    if uri:
        # With uri=true the other arguments belong to SQLite's own URI (mode=ro, cache=...).
        if query:
            database += "?" + "&".join(f"{key}={query[key][-1]}" for key in sorted(query))
        path = database.split("?", 1)[0].removeprefix("file:")
        sqlite_path = Path(path) if path and path != ":memory:" else None
        return StateURL("sqlite", display, {"database": database, "uri": True}, sqlite_path)
    if query:
        raise StateError(
            f"the state URL '{display}' has arguments SQLite would ignore "
            f"({', '.join(sorted(query))})",
            fix="SQLite URI arguments such as mode=ro need uri=true as well.",
        )
    if not database or database == ":memory:":
        return StateURL("sqlite", display, {"database": ":memory:", "uri": False})
    absolute = os.path.abspath(database)
    return StateURL("sqlite", display, {"database": absolute, "uri": False}, Path(absolute))


def _postgres(parts: dict[str, Any], query: dict[str, list[str]], display: str) -> StateURL:
    """libpq keyword arguments; repeated query keys (host=a&host=b) become libpq's lists."""
    args: dict[str, Any] = {key: ",".join(values) for key, values in query.items()}
    if parts["username"]:
        args["user"] = unquote(parts["username"])
    if parts["password"] is not None:
        args["password"] = unquote(parts["password"])
    host = parts["ipv4host"] or parts["ipv6host"]
    if host:
        args["host"] = host
    if parts["port"]:
        if not parts["port"].isdigit():
            raise StateError(
                f"the state URL '{display}' cannot be parsed: port '{parts['port']}' is not a "
                "number",
                fix=URL_FIX,
            )
        args["port"] = int(parts["port"])
    if parts["database"]:
        args["dbname"] = unquote(parts["database"])
    return StateURL("postgresql", display, args)
