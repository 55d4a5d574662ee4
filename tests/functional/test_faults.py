"""Fault cases users of Terraform and friends have met, each as a test.

A state write that fails — an I/O error injected inside the transaction, a really full disk
(a 1 MiB tmpfs), a read-only database — ends in exit 1 with the way to recover, leaves no
half-written or forked state (`state check` replays the log to the tables), and the next
apply finishes the job. A refused stale plan releases its lock; a plan with no changes does
not move the serial. (Slow and dead webhooks during a revert: test_notify.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvctl.ops.check import check
from mvctl.workspace import load_workspace
from tests.functional.inprocess import apply_here, run_cli
from tests.functional.projects import Project, make_tiny

NEW_VERSION = '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}'


@pytest.fixture(autouse=True)
def _local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MVCTL_STATE", "MVCTL_STORE"):
        monkeypatch.delenv(name, raising=False)


def status(project: Project) -> dict:  # type: ignore[type-arg]
    return json.loads(run_cli("-c", str(project.root / "mvctl.yaml"), "status", "--json").out)


def next_change(project: Project) -> None:
    """Promote 1.1.0 and declare a new version: the next apply trains, records and moves."""
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    project.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', NEW_VERSION)


def recover(project: Project) -> None:
    """After a failed write: the check finds nothing half-done; a lock left behind names a
    dead process, so the next apply takes it over and finishes; the check is clean."""
    workspace = load_workspace(project.root / "mvctl.yaml")
    found = check(workspace)
    assert found.ok, found.findings
    lock = status(project)["lock"]
    assert lock is None or lock["dead"] is not None, lock
    assert apply_here(project.root).status == "succeeded"
    final = check(workspace)
    assert final.ok and final.findings == (), final.findings
    aliases = {a["alias"]: a["version"] for a in status(project)["models"][0]["aliases"]}
    assert aliases == {"production": "1.1.0", "staging": "1.1.0"}


def test_injected_write_failure_inside_the_transaction(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert apply_here(project.root).status == "succeeded"
    next_change(project)
    serial = status(project)["serial"]
    # The 2nd change of this apply (the alias move, after 1.2.0 was recorded) fails inside
    # its transaction, as a full disk would.
    failed = project.mvctl(
        "apply", "--auto-approve", extra_env={"MVCTL_TEST_FAIL_AT": "state_uncommitted:2"}
    )
    assert failed.code == 1, failed.text
    assert "Traceback" not in failed.text
    assert "apply #2 stopped" in failed.err and "is full" in failed.err
    assert "mvctl state check" in failed.err and "finished steps are cached" in failed.err
    after = status(project)
    assert after["serial"] == serial + 1 and after["lock"] is None  # 1.2.0 only
    history = json.loads(run_cli("-c", str(project.root / "mvctl.yaml"), "history", "--json").out)[
        "applies"
    ]
    assert history[0]["status"] == "failed" and len(history[0]["changes"]) == 1
    recover(project)


def test_read_only_database_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert apply_here(project.root).status == "succeeded"
    next_change(project)
    database = project.root / ".mvctl" / "state.db"
    before = database.read_bytes()
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    refused = project.mvctl("apply", "--auto-approve", extra_env={"MVCTL_STATE": read_only})
    assert refused.code == 1 and "read-only" in refused.err, refused.text
    assert "Traceback" not in refused.text
    assert database.read_bytes() == before
    recover(project)


@contextlib.contextmanager
def tiny_disk(folder: Path) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path, leave_kib: int) -> Path:
    """Fill ``disk`` up, then free ``leave_kib`` KiB again."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(descriptor, b"\0" * 4096)
        os.ftruncate(descriptor, max(0, os.fstat(descriptor).st_size - leave_kib * 1024))
    finally:
        os.close(descriptor)
    return filler


def test_full_disk_under_the_state_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk / 'state.db'}"
        project = make_tiny(tmp_path / "proj", url)
        monkeypatch.setenv("MVCTL_STATE", url)
        assert apply_here(project.root).status == "succeeded"
        next_change(project)
        serial = status(project)["serial"]
        filler = fill(disk, leave_kib=64)  # room to begin, not to record the first change
        # Only the new version: the alias move needs no training and would be written first.
        failed = project.mvctl("apply", "--auto-approve", "--target", "churn@1.2.0")
        assert failed.code == 1, failed.text
        assert "Traceback" not in failed.text and "is full" in failed.err
        assert "mvctl state check" in failed.err or "mvctl state unlock --force" in failed.err
        filler.unlink()
        assert status(project)["serial"] == serial
        recover(project)


def test_refused_stale_plan_releases_its_lock(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    config = str(project.root / "mvctl.yaml")
    saved = str(project.root / "first.plan")
    assert run_cli("-c", config, "plan", "--out", saved).code == 0
    assert apply_here(project.root).status == "succeeded"
    stale = run_cli("-c", config, "apply", saved, "--auto-approve")
    assert stale.code == 1 and "state moved from serial 0" in stale.err
    assert status(project)["lock"] is None
    assert run_cli("-c", config, "state", "lock").code == 0  # the lock is free to take


def test_plan_with_no_changes_does_not_bump_the_serial(tmp_path: Path) -> None:
    project = make_tiny(tmp_path / "proj")
    assert apply_here(project.root).status == "succeeded"
    serial = status(project)["serial"]
    saved = str(project.root / "noop.plan")
    config = str(project.root / "mvctl.yaml")
    assert run_cli("-c", config, "plan", "--out", saved, "--detailed-exitcode").code == 0
    assert apply_here(project.root).status == "no_changes"
    assert run_cli("-c", config, "apply", saved, "--auto-approve").code == 0
    assert status(project)["serial"] == serial
    history = json.loads(run_cli("-c", config, "history", "--json").out)["applies"]
    assert len(history) == 1
