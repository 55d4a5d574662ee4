"""An apply killed or stopped while a step runs leaves nothing behind, on SQLite and PostgreSQL.

The project's `long` step is a shell command (`python steps/long.py && echo ...`), so its
python is apply's grandchild, and it starts a child of its own: each writes its pid into
`pids/`. A `quick` sibling finishes (and is cached) while `long` runs.

* SIGKILL: the whole step tree is gone within seconds (apply's watchdog stops it), and the
  next apply takes the dead apply's lock over and finishes;
* SIGTERM / SIGINT (a cancelled CI job, Ctrl-C): exit 143 / 130; the step tree is gone when
  apply exits, the lock is released, the work folder removed, the apply record closed as
  interrupted, and the finished sibling is cached for the next apply.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.functional.projects import Project, base_env

CONFIG = """\
project: stopping
models:
  m:
    owners: [tester]
    pipeline:
      - name: quick
        run: python steps/quick.py
        deps: [steps/quick.py]
        outputs: [q.txt]
      - name: long
        run: python steps/long.py && echo long is done
        deps: [steps/long.py]
        outputs: [l.txt]
      - name: model
        run: python steps/model.py
        deps: [quick, long, steps/model.py]
        outputs: [model.safetensors]
    versions:
      "1.0.0": {}
    aliases:
      production: "1.0.0"
"""

QUICK = """\
from mvctl import step
step.output("q.txt").write_text("quick")
"""

# With LONG_STEP_SLEEP set it records its pid, starts a child that records its own, and
# sleeps; otherwise it finishes at once (the apply that resumes).
LONG = """\
import os, subprocess, sys, time
from pathlib import Path
from mvctl import step
seconds = float(os.environ.get("LONG_STEP_SLEEP", "0"))
if seconds:
    pids = Path("pids")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (pids / "child.pid").write_text(str(child.pid))
    (pids / "long.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
step.output("l.txt").write_text("long")
"""

MODEL = """\
import json, struct
from mvctl import step
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))
"""

STEP_TREE = ("long.pid", "child.pid")


@pytest.fixture
def project(tmp_path: Path, state_url: str) -> Project:
    made = Project(tmp_path / "proj", base_env(state_url))
    made.write("mvctl.yaml", CONFIG)
    made.write("steps/quick.py", QUICK)
    made.write("steps/long.py", LONG)
    made.write("steps/model.py", MODEL)
    (made.root / "pids").mkdir()
    return made


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended: it only waits for its parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start_slow_apply(project: Project, *options: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    """An apply whose `long` step runs (pids of its tree) after `quick` was cached."""
    victim = project.start(
        "apply",
        "--auto-approve",
        "--parallel",
        "2",
        *options,
        extra_env={"LONG_STEP_SLEEP": "600", "MVCTL_LOCK_LEASE": "45"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all((project.root / "pids" / name).exists() for name in STEP_TREE):
            plan = project.mvctl("plan", "--json")
            if plan.code == 0 and json.loads(plan.out)["summary"]["steps_cached"] >= 1:
                break
        assert victim.poll() is None, "the apply ended before its long step ran"
        time.sleep(0.2)
    else:
        raise AssertionError("the long step never started, or quick was never cached")
    pids = [int((project.root / "pids" / name).read_text()) for name in STEP_TREE]
    assert all(running(pid) for pid in pids)
    return victim, pids


def background_output(project: Project, name: str = "err") -> str:
    logs = sorted(project.root.parent.glob("background-*"), key=lambda p: int(p.name[11:]))
    return (logs[-1] / name).read_text()


def background_err(project: Project) -> str:
    return background_output(project, "err")


def test_sigkill_stops_the_step_tree_and_the_next_apply_takes_over(project: Project) -> None:
    victim, pids = start_slow_apply(project)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    killed = time.monotonic()
    while any(running(pid) for pid in pids) and time.monotonic() - killed < 10:
        time.sleep(0.05)
    assert not any(running(pid) for pid in pids), "a step process outlived its killed apply"
    lock = json.loads(project.mvctl("status", "--json").out)["lock"]
    assert (lock["pid"], lock["lease_s"]) == (victim.pid, 45)
    assert lock["dead"] == f"pid {victim.pid} is not running on {lock['host']}"

    resumed = project.mvctl("apply", "--auto-approve")
    assert resumed.code == 0, resumed.text
    assert f"took over the state lock of tester (apply, pid {victim.pid}" in resumed.err
    assert "quick: cached" in resumed.out and "long: ok" in resumed.out
    assert not (project.root / ".mvctl" / "work" / "apply-1").exists()
    history = json.loads(project.mvctl("history", "--json").out)["applies"]
    assert [h["status"] for h in history] == ["succeeded", "failed"]
    assert f"its lock {lock['lock_id']} (tester, pid {victim.pid}" in history[1]["message"]
    checked = project.mvctl("state", "check")
    assert checked.code == 0 and "The state is consistent." in checked.out, checked.text


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_stop_signal_stops_the_steps_and_cleans_up(
    project: Project, signum: signal.Signals, code: int
) -> None:
    victim, pids = start_slow_apply(project)
    work = project.root / ".mvctl" / "work" / "apply-1"
    assert work.is_dir()
    victim.send_signal(signum)
    assert victim.wait(timeout=30) == code, background_err(project)
    assert not any(running(pid) for pid in pids), "a step process outlived its stopped apply"
    err = background_err(project)
    assert f"Stopped: interrupted by {signum.name}." in err and "Traceback" not in err, err
    assert not work.exists()
    status = json.loads(project.mvctl("status", "--json").out)
    assert status["lock"] is None
    assert [(m["name"], m["versions"]) for m in status["models"]] == [("m", [])]
    (record,) = json.loads(project.mvctl("history", "--json").out)["applies"]
    assert (record["status"], record["message"]) == ("failed", f"interrupted by {signum.name}")
    plan = json.loads(project.mvctl("plan", "--json").out)
    (train,) = [a for a in plan["actions"] if a["kind"] == "train_version"]
    assert [(s["name"], s["status"]) for s in train["steps"]] == [
        ("quick", "cached"),
        ("long", "run"),
        ("model", "run"),
    ]
    checked = project.mvctl("state", "check")
    assert checked.code == 0 and "The state is consistent." in checked.out, checked.text


def test_a_stopped_apply_under_json_ends_with_an_error_document(project: Project) -> None:
    victim, pids = start_slow_apply(project, "--json")
    victim.send_signal(signal.SIGTERM)
    assert victim.wait(timeout=30) == 143, background_err(project)
    error = json.loads(background_output(project, "out"))  # progress went to stderr
    assert (error["kind"], error["exit_code"]) == ("Interrupted", 143)
    assert error["error"] == "Stopped: interrupted by SIGTERM."
    assert "m@1.0.0 quick" in background_err(project)
    assert not any(running(pid) for pid in pids)
