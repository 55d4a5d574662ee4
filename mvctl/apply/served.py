"""Verifying a model file an alias is to serve: in the store, its digest, a safe format.

Every way a version comes to be served goes through here (a promotion, an overwrite, a revert,
a monitoring rollback), so a revert, which moves pointers and trains nothing, loads this and
not the promotion path's gates and health checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from mvctl import __version__
from mvctl.apply.artifacts import check_safe_artifact, private_path, registered_file
from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.state import StateWriter
from mvctl.store.blobs import BlobStore


def verify_served_artifact(
    store: BlobStore,
    digest: str,
    lineage: Mapping[str, Any],
    trusted_types: Sequence[str],
    torch_module: str | None,
    work_dir: Path,
    checks: StateWriter,
    *,
    what: str,
) -> None:
    """The model ``digest`` of a version with ``lineage``, which an alias is to serve, is in
    the store, matches its digest and is a safe model format, checked as strictly as when it
    entered (a registered file's unchecked types must be listed); otherwise raises naming the
    blob and the fix. A verdict already in ``checks`` under the same ``check_key`` stands for
    the format check; the blob is fetched and its digest verified every time."""
    name = f"{digest.removeprefix('sha256:')}{artifact_suffix(lineage)}"
    with private_path(work_dir / "verify", name) as path:
        store.get_file(digest, path)
        check_once(
            path,
            digest,
            trusted_types,
            registered=registered_file(lineage),
            torch_module=torch_module,
            checks=checks,
            what=what,
        )


def check_once(
    path: Path,
    digest: str,
    trusted_types: Sequence[str],
    *,
    registered: bool,
    torch_module: str | None,
    checks: StateWriter,
    what: str,
    shown: Path | None = None,
) -> None:
    """Check that ``path``, whose bytes were verified to hash to ``digest``, is a safe model
    format, unless the same bytes already passed the same rules (``check_key``); remember a
    pass. Raises as ``check_safe_artifact`` does."""
    key = check_key(digest, trusted_types, registered=registered, torch_module=torch_module)
    if checks.artifact_check(key) is not None:
        return
    kind = check_safe_artifact(
        path,
        trusted_types,
        what=what,
        registered=registered,
        torch_module=torch_module,
        shown=shown,
    )
    checks.record_artifact_check(key, digest, kind)


def check_key(
    digest: str, trusted_types: Sequence[str], *, registered: bool, torch_module: str | None
) -> str:
    """What a safe-format verdict depends on: the bytes (their digest), the trust the config
    gives them, and the checking code (mvctl's, skops' and scikit-learn's versions, whose
    defaults decide what is trusted). The same key means the same bytes passed the same rules,
    so the audit, which imports skops and scikit-learn, runs once per key. Loading a model
    audits its bytes again whatever is recorded here."""
    return sha256_hex(
        canonical_json(
            {
                "digest": digest,
                "trusted_types": sorted(set(trusted_types)),
                "registered": registered,
                "torch_module": torch_module,
                "checker": list(checker_versions()),
            }
        )
    )


@cache
def checker_versions() -> tuple[str, str, str]:
    """mvctl's, skops' and scikit-learn's versions: looked up once per process, since finding
    an installed package's version reads the metadata of every package on the path."""
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""

    return __version__, installed("skops"), installed("scikit-learn")


def artifact_suffix(lineage: Mapping[str, Any]) -> str:
    """The model file's extension as recorded in the version's lineage ('' when unknown)."""
    artifact = lineage.get("artifact") or {}
    name = artifact.get("file") or artifact.get("source") or ""
    return Path(str(name)).suffix
