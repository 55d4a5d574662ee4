"""Health checks after a promotion: the model's `health_check:` command judges the new version.

It runs in the project root with the alias, the version and a verified copy of the artifact
handed over (MVCTL_MODEL, MVCTL_ALIAS, MVCTL_VERSION, MVCTL_ARTIFACT). A non-zero exit or a
timeout (the model's `health_check_timeout`) means the promotion is rolled back to the version
the alias held before. Like a step, it runs in a process group of its own that is stopped at
the timeout and never outlives the apply (``apply/processes.py``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mvctl.apply.artifacts import private_path
from mvctl.apply.processes import Deadline, ProcessGroups
from mvctl.spec.quantities import format_duration
from mvctl.store.blobs import BlobStore

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
    timeout_s: float,
    processes: ProcessGroups,
) -> str | None:
    """None when the check passes, else why it failed (exit code or timeout, with its output)."""
    name = artifact_digest.removeprefix("sha256:")
    with private_path(work_dir / "health", name) as artifact:
        store.get_file(artifact_digest, artifact)
        env = {
            **os.environ,
            "MVCTL_MODEL": model,
            "MVCTL_ALIAS": alias,
            "MVCTL_VERSION": version,
            "MVCTL_ARTIFACT": str(artifact),
        }
        process = processes.start(
            command,
            shell=True,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = Deadline(process.pid, timeout_s)
        try:
            assert process.stdout is not None
            output = process.stdout.read().decode("utf-8", errors="replace")
            process.stdout.close()
            exit_code = process.wait()
        finally:
            deadline.cancel()
            processes.ended(process)
    if deadline.expired:
        return f"health check timed out after {format_duration(timeout_s)}"
    if exit_code == 0:
        return None
    tail = " | ".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
    return f"health check exited with code {exit_code}" + (f": {tail}" if tail else "")
