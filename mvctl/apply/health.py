"""Health checks after a promotion: the model's `health_check:` command judges the new version.

It runs in the project root with the alias, the version and a verified copy of the artifact
handed over (MVCTL_MODEL, MVCTL_ALIAS, MVCTL_VERSION, MVCTL_ARTIFACT). A non-zero exit or a
timeout means the promotion is rolled back to the version the alias held before.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mvctl.store.blobs import BlobStore

HEALTH_TIMEOUT_S = 300.0
OUTPUT_TAIL_LINES = 5


def check_health(
    command: str,
    *,
    root: Path,
    work_dir: Path,
    store: BlobStore,
    model: str,
    alias: str,
    version: str,
    artifact_digest: str,
) -> str | None:
    """None when the check passes, else why it failed (exit code or timeout, with its output)."""
    artifact = work_dir / "health" / artifact_digest.removeprefix("sha256:")
    store.get_file(artifact_digest, artifact)
    env = {
        **os.environ,
        "MVCTL_MODEL": model,
        "MVCTL_ALIAS": alias,
        "MVCTL_VERSION": version,
        "MVCTL_ARTIFACT": str(artifact),
    }
    try:
        done = subprocess.run(
            command,
            shell=True,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=HEALTH_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"health check did not finish within {HEALTH_TIMEOUT_S:.0f} s"
    finally:
        artifact.unlink(missing_ok=True)
    if done.returncode == 0:
        return None
    tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-OUTPUT_TAIL_LINES:])
    return f"health check exited with code {done.returncode}" + (f": {tail}" if tail else "")
