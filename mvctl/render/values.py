"""Recorded values in words, for the lines of history and revert: never raw JSON."""

from __future__ import annotations

from typing import Any


def short(value: Any) -> str:
    """A logged value in words: a version for an alias or pin, a status for a version, names
    joined by commas, other objects as 'key value' pairs; never raw JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, dict) and set(value) <= {"version", "revert_apply_id"}:
        return str(value.get("version"))
    if isinstance(value, dict) and "status" in value:
        return str(value["status"])
    if isinstance(value, dict):
        return ", ".join(f"{key} {short(item)}" for key, item in sorted(value.items())) or "(empty)"
    if isinstance(value, list):
        return ", ".join(short(item) for item in value) or "(nobody)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def short_digest(value: Any) -> str:
    return "(none)" if not value else str(value).removeprefix("sha256:")[:12] + "…"


def identity(value: Any) -> str:
    """A version record by what it was trained from and into."""
    return f"{value.get('status')}, spec {short_digest(value.get('spec_hash'))}, artifact {short_digest(value.get('artifact_digest'))}"
