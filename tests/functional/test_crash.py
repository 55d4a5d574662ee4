"""Crash safety: `mvctl apply` SIGKILLed at every named point of its path, and at random times.

Each kill runs the real command in its own process with ``MVCTL_TEST_KILL_AT=point:N``
(``mvctl.faults``), so it dies exactly there — during a step, between training and
recording, between recording and the alias move, while a blob sits under its temporary
name, inside a state transaction. Every test asserts the process died by SIGKILL: none can
pass by the kill not happening. After each kill:

* `state check` passes: it finds nothing wrong, and reports the lock as held by a dead
  process (naming its pid) that the next apply takes over;
* applying again, with nobody breaking the lock, finishes the job: the lock is taken over
  (and the takeover written into the killed apply's record), the steps whose runs were
  recorded before the kill are cache hits, the others run, and the result is the one an
  uninterrupted apply gives (same artifacts, same aliases), with a clean check and nothing
  left to plan.

The tiny project trains in milliseconds; the check and resume run in-process to keep the
whole sweep short.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mvctl.core.planner import PlanOptions
from mvctl.ops.apply import ApplyOptions, apply
from mvctl.ops.check import check
from mvctl.ops.plan import make_plan
from mvctl.results.check import CheckResult
from mvctl.workspace import Workspace, load_workspace
from tests.functional.inprocess import StepRecorder, run_cli
from tests.functional.projects import Project, base_env, make_tiny

# How often each point is passed by one apply of the tiny project from an empty state: one
# model, two versions sharing `prepare` (3 step runs), two aliases; 5 blobs are written
# (3 outputs, 2 distinct logs: both `train` runs log nothing).
KILLS = [
    ("lock_taken", 1),
    ("apply_begun_uncommitted", 1),
    *(("step_running", n) for n in (1, 2, 3)),
    *(("step_exited", n) for n in (1, 2, 3)),
    *(("blob_written", n) for n in (1, 2, 3, 4, 5)),
    *(("step_run_uncommitted", n) for n in (1, 2, 3)),
    *(("version_trained", n) for n in (1, 2)),
    *(("state_uncommitted", n) for n in (1, 2, 3, 4, 5)),
    *(("state_committed", n) for n in (1, 2, 3, 4, 5)),
    *(("alias_verified", n) for n in (1, 2)),
    ("actions_done", 1),
    ("apply_finished", 1),
]
NEW_VERSION = '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}'
RANDOM_KILLS = 2
KILLERS = 3
"""Killed applies run at once while the sweep is prepared."""


@pytest.fixture(autouse=True)
def _local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands use each project's own `.mvctl/` state and store."""
    for name in ("MVCTL_STATE", "MVCTL_STORE", "MVCTL_TEST_KILL_AT", "MVCTL_TEST_FAIL_AT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project with its state database created, empty: each kill starts from a copy
    (creating the schema would cost more than the apply itself)."""
    project = make_tiny(tmp_path_factory.mktemp("template") / "proj")
    migrated = project.mvctl("state", "migrate")
    assert migrated.code == 0, migrated.text
    return project.root


def copy_of(template: Path, folder: Path) -> Project:
    shutil.copytree(template, folder / "proj")
    return Project(folder / "proj", base_env(None))


@pytest.fixture(scope="module")
def reference(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an uninterrupted apply leaves: artifacts by version, aliases; and its time."""
    project = copy_of(template, tmp_path_factory.mktemp("reference"))
    started = time.monotonic()
    done = project.mvctl("apply", "--auto-approve")
    assert done.code == 0, done.text
    return {**final_state(workspace_of(project)), "seconds": time.monotonic() - started}


def workspace_of(project: Project) -> Workspace:
    return load_workspace(project.root / "mvctl.yaml")


def final_state(workspace: Workspace) -> dict[str, Any]:
    state = workspace.open_state(create=False)
    try:
        versions = {v.label: (v.status, v.artifact_digest) for v in state.versions_of("churn")}
        aliases = {alias: a.version for (_, alias), a in state.snapshot().aliases.items()}
    finally:
        state.close()
    return {"versions": versions, "aliases": aliases}


def recorded_step_keys(workspace: Workspace) -> set[str]:
    state = workspace.open_state(create=False)
    try:
        return set(state.snapshot().step_keys)
    finally:
        state.close()


def dead_lock_only(result: CheckResult, pid: int) -> str | None:
    """The check after a kill: it passes, and names the dead holder's lock, which the next
    apply takes over; its lock id (None: the process died before it took the lock)."""
    assert result.ok, result.findings
    assert {f.kind for f in result.findings} <= {"dead_lock", "interrupted_apply"}, result.findings
    dead = [f for f in result.findings if f.kind == "dead_lock"]
    if not dead:
        return None
    assert f"but its holder is dead: pid {pid} is not running" in dead[0].message
    assert "takes the lock over" in dead[0].fix
    return dead[0].message.split("lock id ")[1].split(",")[0]


def recover_and_finish(
    project: Project, pid: int, reference: dict[str, Any], *, locked: bool = True
) -> None:
    """Check, apply again: the lock is taken over, the job finishes with finished steps cached."""
    workspace = workspace_of(project)
    lock_id = dead_lock_only(check(workspace), pid)
    assert lock_id is not None or not locked, "the lock was taken before the kill"
    cached_before = recorded_step_keys(workspace)
    recorder = StepRecorder()
    result = apply(
        workspace, ApplyOptions(auto_approve=True), confirm=lambda plan: True, events=recorder
    )
    assert result.status in ("succeeded", "no_changes"), result
    # Three distinct step runs make the tiny project; those recorded before the kill are
    # restored from the store, the rest run now.
    assert len(recorder.ran) == 3 - len(cached_before), (recorder.ran, cached_before)
    assert recorded_step_keys(workspace) >= cached_before
    assert final_state(workspace) == {k: reference[k] for k in ("versions", "aliases")}
    for record in interrupted_records(workspace):
        assert lock_id is not None and f"its lock {lock_id} (tester, pid {pid}" in record
    clean = check(workspace)
    assert clean.ok and clean.findings == (), clean.findings
    replanned = make_plan(workspace, PlanOptions()).plan
    assert not replanned.has_changes and not replanned.drift, replanned


def interrupted_records(workspace: Workspace) -> list[str]:
    """The messages of the apply records closed as interrupted."""
    state = workspace.open_state(create=False)
    try:
        return [a.message or "" for a in state.applies() if "interrupted" in (a.message or "")]
    finally:
        state.close()


@pytest.fixture(scope="module")
def killed(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Project, int, int]]:
    """Every named kill, run up front a few at a time (most of a kill's cost is starting
    Python): point -> (its project, the pid, the exit status)."""

    def kill(point: str) -> tuple[Project, int, int]:
        project = copy_of(template, tmp_path_factory.mktemp(point.replace(":", "-")))
        victim = project.start("apply", "--auto-approve", extra_env={"MVCTL_TEST_KILL_AT": point})
        return project, victim.pid, victim.wait(timeout=180)

    points = [f"{p}:{n}" for p, n in KILLS]
    with ThreadPoolExecutor(max_workers=KILLERS) as pool:
        return dict(zip(points, pool.map(kill, points), strict=True))


@pytest.mark.parametrize(("point", "nth"), KILLS, ids=[f"{p}:{n}" for p, n in KILLS])
def test_kill_at_a_named_point_then_resume(
    killed: dict[str, tuple[Project, int, int]], point: str, nth: int, reference: dict[str, Any]
) -> None:
    project, pid, status = killed[f"{point}:{nth}"]
    assert status == -signal.SIGKILL, f"{point}:{nth} was never reached (exit {status})"
    recover_and_finish(project, pid, reference)


def random_kills(project: Project, seconds: float, rng: random.Random) -> Iterator[int]:
    """Start applies and SIGKILL each after a random delay within a normal apply's time
    (past the interpreter's start); yields the pid of the one killed (one that finished
    first is started over and killed sooner)."""
    delay = rng.uniform(0.4 * seconds, seconds)
    while True:
        victim = project.start("apply", "--auto-approve")
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        if victim.wait(timeout=60) == -signal.SIGKILL:
            yield victim.pid
            return
        assert victim.returncode == 0  # it finished before the kill: start over, kill sooner
        delay /= 2
        shutil.rmtree(project.root / ".mvctl")


@pytest.mark.parametrize("seed", range(RANDOM_KILLS))
def test_kill_at_a_random_time_then_resume(
    tmp_path: Path, template: Path, seed: int, reference: dict[str, Any]
) -> None:
    project = copy_of(template, tmp_path)
    rng = random.Random(seed)
    (pid,) = list(random_kills(project, reference["seconds"], rng))
    recover_and_finish(project, pid, reference, locked=False)


def test_recovery_through_the_cli_as_the_readme_says(tmp_path: Path, template: Path) -> None:
    """The README's steps for a killed apply, as a user types them: none breaks the lock."""
    project = copy_of(template, tmp_path)
    victim = project.start(
        "apply", "--auto-approve", extra_env={"MVCTL_TEST_KILL_AT": "version_trained:2"}
    )
    assert victim.wait(timeout=120) == -signal.SIGKILL
    config = str(project.root / "mvctl.yaml")
    checked = run_cli("-c", config, "state", "check", "--json")
    assert checked.code == 0, checked.text
    report = json.loads(checked.out)
    assert report["ok"]
    (dead,) = [f for f in report["findings"] if f["kind"] == "dead_lock"]
    assert f"pid {victim.pid} is not running" in dead["message"]
    assert "the next `mvctl apply` (or revert) takes the lock over" in dead["fix"]
    assert "interrupted" in checked.out  # the open apply record, a warning
    status = run_cli("-c", config, "status")
    assert f"its holder is dead: pid {victim.pid} is not running" in status.out, status.text
    lock_id = json.loads(run_cli("-c", config, "status", "--json").out)["lock"]["lock_id"]
    assert lock_id in dead["message"]
    resumed = project.mvctl("apply", "--auto-approve")
    assert resumed.code == 0, resumed.text
    assert f"took over the state lock of tester (apply, pid {victim.pid}" in resumed.err
    assert "prepare: cached" in resumed.out
    final = run_cli("-c", config, "state", "check")
    assert final.code == 0 and "The state is consistent." in final.out, final.text
    history = json.loads(run_cli("-c", config, "history", "--json").out)["applies"]
    assert history[-1]["status"] == "failed"
    assert "interrupted" in history[-1]["message"] and lock_id in history[-1]["message"]


def test_a_revert_takes_over_the_lock_of_a_killed_apply(tmp_path: Path, template: Path) -> None:
    project = copy_of(template, tmp_path)
    assert project.mvctl("apply", "--auto-approve").code == 0
    project.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', NEW_VERSION)
    victim = project.start(
        "apply", "--auto-approve", extra_env={"MVCTL_TEST_KILL_AT": "step_running:1"}
    )
    assert victim.wait(timeout=120) == -signal.SIGKILL
    assert (project.root / ".mvctl" / "work" / "apply-2").is_dir()
    reverted = project.mvctl("revert", "--auto-approve")
    assert reverted.code == 0, reverted.text
    assert f"took over the state lock of tester (apply, pid {victim.pid}" in reverted.err
    assert not (project.root / ".mvctl" / "work" / "apply-2").exists()
    history = json.loads(project.mvctl("history", "--json").out)["applies"]
    assert [(h["kind"], h["status"]) for h in history] == [
        ("revert", "succeeded"),
        ("apply", "failed"),
        ("apply", "succeeded"),
    ]
    assert "interrupted" in history[1]["message"] and "taken over" in history[1]["message"]
    assert json.loads(project.mvctl("status", "--json").out)["lock"] is None


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["state_uncommitted:3"])
def test_kill_on_postgresql_then_resume(
    tmp_path: Path,
    point: str,
    postgres_database_url: str,
    reference: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server rolls back the dead client's open transaction and frees its row locks."""
    project = make_tiny(tmp_path / "proj", postgres_database_url)
    monkeypatch.setenv("MVCTL_STATE", postgres_database_url)
    victim = project.start("apply", "--auto-approve", extra_env={"MVCTL_TEST_KILL_AT": point})
    assert victim.wait(timeout=120) == -signal.SIGKILL
    recover_and_finish(project, victim.pid, reference)
