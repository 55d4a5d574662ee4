"""The Ray executor against a real local Ray, started once for the module: steps run as Ray
tasks (the step's parent process is a Ray worker), logs and progress come back into the step
log, outputs reach the store and the state, a timeout or Ctrl-C cancels the task and kills
the step's processes, and what cannot work is refused before anything runs."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.projects import Project, base_env

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason="the Ray tests need `pip install -e '.[test]'` (ray)")

STEP = """\
import json, os, struct, time
from mvctl import step
def parent_of(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
ancestors, pid = [], os.getpid()
while pid > 1 and len(ancestors) < 3:
    pid = parent_of(pid)
    ancestors.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
print(json.dumps({"ancestors": ancestors}), flush=True)
print(json.dumps({"progress": 0.5, "stage": "half"}), flush=True)
with open("step.pid", "w") as out:
    out.write(str(os.getpid()))
time.sleep(float(step.params().get("sleep", 0)))
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))
"""

CONFIG = """\
project: rayproj
executor: {type: ray, address: auto}
models:
  m:
    pipeline:
      - name: prepare
        run: python steps/step.py
        deps: [steps/step.py]
        params: {sleep: 0}
        outputs: [model.safetensors]
        resources: {cpus: 1, memory: 64MiB}
    versions:
      "1": {}
"""


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # address="local": a Ray of its own, even where another runs on this machine (another
    # test module's cluster); RAY_ADDRESS points the applies run as processes (address auto)
    # at this one rather than at whichever Ray started last.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("RAY_ADDRESS", ray.get_runtime_context().gcs_address)
    yield
    monkeypatch.undo()
    ray.shutdown()


def make_project(root: Path, config: str = CONFIG) -> Project:
    project = Project(root, base_env(None))
    project.write("steps/step.py", STEP)
    project.write("mvctl.yaml", config)
    return project


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_each_step_runs_as_a_ray_task_and_the_apply_records_it(
    local_ray: None, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "proj")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    log = project.mvctl("logs", "m@1", "prepare").out
    (ancestors,) = [
        json.loads(line)["ancestors"] for line in log.splitlines() if "ancestors" in line
    ]
    assert any(a.startswith("ray::mvctl m@1 prepare") for a in ancestors[:2]), ancestors
    assert '"stage": "half"' in log
    shown = json.loads(project.mvctl("show", "m@1", "--json").out)
    assert shown["status"] == "trained" and shown["artifact_digest"].startswith("sha256:"), shown
    again = project.mvctl("apply", "--auto-approve")
    assert again.code == 0 and "No changes" in again.out, again.text


def test_a_step_past_its_timeout_is_cancelled_and_its_process_killed(
    local_ray: None, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "proj")
    project.edit_config("params: {sleep: 0}", "params: {sleep: 120}\n        timeout: 2s")
    began = time.monotonic()
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert "step prepare timed out after 2s" in applied.out, applied.text
    assert time.monotonic() - began < 60
    pid = int((project.root / "step.pid").read_text())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), f"the step process {pid} outlived its cancelled task"


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGKILL, -9)], ids=["SIGINT", "SIGKILL"]
)
def test_an_apply_stopped_or_killed_leaves_no_step_running_and_records_nothing(
    local_ray: None, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    project = make_project(tmp_path / "proj")
    project.edit_config("params: {sleep: 0}", "params: {sleep: 120}")
    victim = project.start("apply", "--auto-approve")
    pid_file = project.root / "step.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    step_pid = int(pid_file.read_text())
    time.sleep(0.5)  # the apply has read the task's report of the step's process by now
    victim.send_signal(signum)
    assert victim.wait(timeout=60) == code
    deadline = time.monotonic() + 15
    while alive(step_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(step_pid), "the step process outlived its apply"
    (model,) = json.loads(project.mvctl("status", "--json").out)["models"]
    assert model["versions"] == []


@pytest.mark.parametrize(
    ("executor", "says"),
    [
        ("ray:ray://10.0.0.9:10001", "is a ray:// client address, whose workers cannot read"),
        ("dask", "--executor 'dask' is neither local, ray nor ray:ADDRESS"),
    ],
)
def test_what_cannot_work_is_refused_before_anything_runs(
    tmp_path: Path, executor: str, says: str
) -> None:
    project = make_project(tmp_path / "proj")
    refused = project.mvctl("apply", "--auto-approve", "--executor", executor)
    assert refused.code == 1 and says in refused.err, refused.text
    assert "Traceback" not in refused.text and not (project.root / "step.pid").exists()
    history = json.loads(project.mvctl("history", "--json").out)["applies"]
    assert history == []
