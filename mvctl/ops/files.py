"""Files the user names on the command line for mvctl to write (`plan --out`, `report -o`)."""

from __future__ import annotations

from pathlib import Path

from mvctl.errors import UsageError


def write_user_file(path: Path, text: str, what: str) -> int:
    """Write ``text`` to ``path`` and return the bytes written; a folder that is missing,
    read-only or full is a one-line error, not a crash."""
    data = text.encode("utf-8")
    try:
        path.write_bytes(data)
    except OSError as error:
        raise UsageError(
            f"cannot write {what} to {path}: {error.strerror or error}",
            fix="Check that its folder exists, is writable and has space, or choose another path.",
        ) from error
    return len(data)
