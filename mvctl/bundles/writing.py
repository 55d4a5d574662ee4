"""Pack a bundle: the same version exported twice gives the same bytes.

Members are written in a fixed order with fixed owners, modes and times, and gzip records no
time, so a bundle's digest is its content's: re-exporting a version does not make an import
of it look changed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mvctl.bundles.manifest import MANIFEST, SIGNATURE
from mvctl.bundles.signing import check_signature, fingerprint, sign_manifest
from mvctl.errors import UsageError


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, indent=2).encode() + b"\n"


def write_bundle(
    out: Path, manifest: Mapping[str, Any], files: Mapping[str, Path], sign_key: Path | None
) -> str | None:
    """Write the bundle to ``out`` (a temporary name, then renamed); ``files``: member name
    -> the file holding its content. Returns the signer's fingerprint when signed."""
    body = manifest_bytes(manifest)
    signature = sign_manifest(body, sign_key) if sign_key is not None else None
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with (
            temp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as archive,
        ):
            _add_bytes(archive, MANIFEST, body)
            if signature is not None:
                _add_bytes(archive, SIGNATURE, signature)
            for name in sorted(files):
                with files[name].open("rb") as handle:
                    archive.addfile(_info(name, files[name].stat().st_size), handle)
        os.replace(temp, out)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write the bundle {out}: {error.strerror or error}",
            fix="Check that its folder exists and is writable.",
        ) from error
    if signature is None:
        return None
    public = check_signature(body, signature)
    return fingerprint(public) if public is not None else None


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    archive.addfile(_info(name, len(data)), io.BytesIO(data))


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
