"""Model files are accepted only in safe formats: skops (trusted types only) or safetensors.

A pickle can run any code when loaded, so it is refused outright; a skops archive is opened
only to list the types it would build, and refused if any falls outside scikit-learn's and
numpy's own or the model's declared `trusted_types`.
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

from mvctl.errors import UnsafeArtifactError

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.")
PICKLE_PROTOCOL_MARK = 0x80
SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024


def check_safe_artifact(path: Path, trusted_types: Sequence[str] = (), *, what: str) -> str:
    """Return the format ('skops' or 'safetensors') or raise naming the file and the fix."""
    head = _head(path)
    if zipfile.is_zipfile(path):
        _check_skops(path, trusted_types, what)
        return "skops"
    if _looks_like_safetensors(path, head):
        return "safetensors"
    if head[:1] == bytes([PICKLE_PROTOCOL_MARK]) or path.suffix in (".pkl", ".pickle", ".joblib"):
        raise UnsafeArtifactError(
            f"{what} ({path}) is a pickle, which can run arbitrary code when loaded",
            fix="Save the model with skops (skops.io.dump) or safetensors instead.",
        )
    raise UnsafeArtifactError(
        f"{what} ({path}) is neither a skops archive nor a safetensors file",
        fix="Save the model with skops (skops.io.dump) or safetensors.",
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(16)


def _looks_like_safetensors(path: Path, head: bytes) -> bool:
    if len(head) < 8:
        return False
    (header_size,) = struct.unpack("<Q", head[:8])
    if header_size == 0 or header_size > min(SAFETENSORS_MAX_HEADER, path.stat().st_size - 8):
        return False
    with path.open("rb") as handle:
        handle.seek(8)
        header = handle.read(header_size)
    try:
        return isinstance(json.loads(header), dict)
    except (UnicodeDecodeError, ValueError):
        return False


def _check_skops(path: Path, trusted_types: Sequence[str], what: str) -> None:
    from skops.io import get_untrusted_types

    with zipfile.ZipFile(path) as archive:
        if "schema.json" not in archive.namelist():
            raise UnsafeArtifactError(
                f"{what} ({path}) is a zip archive but not a skops file (no schema.json)",
                fix="Save the model with skops.io.dump.",
            )
    try:
        untrusted = get_untrusted_types(file=path)
    except Exception as error:  # skops raises assorted errors on a damaged archive
        raise UnsafeArtifactError(
            f"{what} ({path}) is not a readable skops archive: {error}",
            fix="Save the model again with skops.io.dump.",
        ) from error
    refused = sorted(
        name
        for name in untrusted
        if not name.startswith(TRUSTED_PREFIXES) and name not in trusted_types
    )
    if refused:
        raise UnsafeArtifactError(
            f"{what} ({path}) would load types outside the trusted set: {', '.join(refused)}",
            fix="If you trust them, list them under the model's `trusted_types:`.",
        )
