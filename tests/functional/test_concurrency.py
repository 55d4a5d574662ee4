"""Six `mvctl` processes apply and revert against one state at once, on SQLite and PostgreSQL.

Each round, one apply trains a new version and holds the lock until the test lets it go;
five more start together: two applies and a revert that wait (`--lock-timeout`), an apply
and a revert that do not. The waiters get the lock one after another and succeed (or are refused for a reason
of their own: a pin the revert left); the impatient ones fail at once, naming a holder. After
every round the change log is one sequence: applies follow each other serial by serial, never
overlapping in time, each apply's rows numbered 1..n, and `state check` is clean.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from pathlib import Path

import pytest

from mvctl.ops.check import check
from mvctl.ops.revert import RevertOptions, revert
from mvctl.ops.revert_settings import workspace_settings
from mvctl.state.db import StateDB
from mvctl.workspace import load_workspace
from tests.functional.projects import TINY_CONFIG, Project, make_tiny

# MVCTL_CONCURRENCY_ROUNDS=10 for a long run; one round is six processes at once.
ROUNDS = int(os.environ.get("MVCTL_CONCURRENCY_ROUNDS", "1"))
REFUSALS = ("conflict", "cannot be undone alone", "Nothing to revert")


def config_for(round_no: int, production: str) -> str:
    """The tiny config plus one new version per round so far; production as asked."""
    extra = "".join(
        f'      "2.{n}.0": {{params: {{train: {{lr: 0.{n + 3}}}}}}}\n' for n in range(round_no + 1)
    )
    text = TINY_CONFIG.replace('      "1.1.0"', extra + '      "1.1.0"')
    return text.replace('production: "1.0.0"', f'production: "{production}"')


def start(
    project: Project, *args: str, hold_until: Path | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start mvctl in the background; with ``hold_until``, its train step (and so the lock it
    holds) waits until that file exists, however slowly the others start on a busy machine."""
    env = {} if hold_until is None else {"TRAIN_WAITS_FOR": str(hold_until)}
    proc = project.start(*args, extra_env=env)
    logs = sorted(
        project.root.parent.glob("background-*"), key=lambda p: int(p.name.split("-")[1])
    )[-1]
    return proc, logs


def wait_for_lock(url: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with StateDB.open(url, create=False) as db:
            holder = db.lock_holder()
        if holder is not None:
            return holder.pid
        time.sleep(0.1)
    raise AssertionError("the slow apply never took the lock")


def assert_one_sequence(url: str) -> None:
    with StateDB.open(url, create=False) as db:
        applies = list(reversed(db.applies()))
        changes = db.changes()
        serial = db.serial()
        assert db.lock_holder() is None
    assert applies and all(a.status in ("succeeded", "failed") for a in applies)
    for before, after in itertools.pairwise(applies):
        assert after.serial_before == before.serial_after, (before, after)
        assert after.started_at >= (before.finished_at or ""), (before, after)
    assert serial == applies[-1].serial_after
    by_apply: dict[int, list[int]] = {}
    for row in changes:
        by_apply.setdefault(row.apply_id, []).append(row.seq)
    for apply in applies:
        assert by_apply.get(apply.id, []) == list(range(1, apply.change_count + 1)), apply
    assert sum(a.change_count for a in applies) == len(changes)


def test_concurrent_applies_and_reverts_keep_one_sequence(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = ROUNDS
    store = tmp_path / "store"
    projects = [make_tiny(tmp_path / f"p{n}" / "proj", state_url) for n in range(6)]
    for project in projects:
        project.env["MVCTL_STORE"] = str(store)
    monkeypatch.setenv("MVCTL_STATE", state_url)
    monkeypatch.setenv("MVCTL_STORE", str(store))
    first = projects[0].mvctl("apply", "--auto-approve")
    assert first.code == 0, first.text
    held = waited = failed_fast = 0
    for round_no in range(rounds):
        for n, project in enumerate(projects):
            project.write("mvctl.yaml", config_for(round_no, "1.1.0" if n % 2 else "1.0.0"))
        release = tmp_path / f"release-{round_no}"
        slow, slow_logs = start(projects[0], "apply", "--auto-approve", hold_until=release)
        holder_pid = wait_for_lock(state_url)
        started = time.monotonic()
        runs = [
            (start(projects[1], "apply", "--auto-approve", "--lock-timeout", "90"), True),
            (start(projects[2], "apply", "--auto-approve", "--lock-timeout", "90"), True),
            (start(projects[3], "revert", "--auto-approve", "--lock-timeout", "90"), True),
            (start(projects[4], "apply", "--auto-approve"), False),
            (start(projects[5], "revert", "--auto-approve"), False),
        ]
        pids = {holder_pid} | {proc.pid for (proc, _), _ in runs}
        for (proc, logs), patient in runs:
            if patient:
                continue
            assert proc.wait(timeout=60) == 1, (logs / "err").read_text()
            err = (logs / "err").read_text()
            assert "locked by" in err and "mvctl state unlock --force" in err, err
            assert any(f"pid {pid} " in err for pid in pids), err
            assert "Traceback" not in err and "Internal error" not in err, err
            failed_fast += 1
        release.touch()
        assert slow.wait(timeout=120) == 0, (slow_logs / "err").read_text()
        held += 1
        for (proc, logs), patient in runs:
            if not patient:
                continue
            code = proc.wait(timeout=180)
            err = (logs / "err").read_text()
            out = (logs / "out").read_text()
            assert "Traceback" not in err + out and "Internal error" not in err, err
            assert "database is locked" not in err and "stayed locked" not in err, err
            assert code == 0 or any(r in err + out for r in REFUSALS), (code, err, out)
            waited += code == 0
        assert time.monotonic() - started < 170
        workspace = load_workspace(projects[0].root / "mvctl.yaml")
        revert(
            workspace_settings(workspace),
            RevertOptions(release=True, auto_approve=True),
            confirm=lambda _: True,
        )
        assert_one_sequence(state_url)
        result = check(workspace)
        assert result.ok and result.findings == (), result.findings
    assert held == rounds and waited >= rounds and failed_fast >= rounds
