"""One scheduler for the whole apply: steps of every model share the --parallel slots and the
machine's resources; per-step timeout and retries; health_check_timeout; grouped plain logs.

The steps are small real processes that write when they ran into times/, so the tests read
overlap from the steps themselves, not from mvctl's own account.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mvctl.apply.resources import Machine
from mvctl.exit_codes import ExitCode
from tests.functional.projects import Project, base_env

WORK = """\
import json, os, struct, sys, time
from mvctl import step
p = step.params()
started = time.time()
time.sleep(float(p.get("sleep", 0)))
os.makedirs("times", exist_ok=True)
name = os.environ["MVCTL_MODEL"] + "-" + os.environ["MVCTL_STEP"]
with open(os.path.join("times", name), "w") as out:
    out.write(f"{started} {time.time()}")
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output(p.get("out", "model.safetensors")), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))
"""


def make_models(root: Path, names: list[str], step_yaml: str, model_yaml: str = "") -> Project:
    """A project of independent one-version models, each one step named train running WORK
    (its command names the model, so no two models share a step's cache key)."""
    project = Project(root, base_env(None))
    project.write("steps/work.py", WORK)
    blocks = "".join(
        f"""\
  {name}:
    owners: [tester]
{model_yaml}    pipeline:
      - name: train
        run: python steps/work.py {name}
        deps: [steps/work.py]
        outputs: [model.safetensors]
{step_yaml}    versions:
      "1": {{}}
"""
        for name in names
    )
    project.write("mvctl.yaml", f"project: sched\nmodels:\n{blocks}")
    return project


def intervals(project: Project) -> dict[str, tuple[float, float]]:
    spans = {}
    for path in (project.root / "times").iterdir():
        start, end = path.read_text().split()
        spans[path.name] = (float(start), float(end))
    return spans


def most_at_once(spans: dict[str, tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def test_steps_of_different_models_run_at_the_same_time(tmp_path: Path) -> None:
    project = make_models(
        tmp_path / "proj",
        ["alpha", "beta"],
        "        params: {sleep: 1.5}\n        resources: {cpus: 0.5}\n",
    )
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "2")
    assert applied.code == 0, applied.text
    (a_start, a_end), (b_start, b_end) = intervals(project).values()
    assert a_start < b_end and b_start < a_end, intervals(project)


def test_an_alias_of_one_model_moves_while_another_model_still_trains(tmp_path: Path) -> None:
    project = make_models(
        tmp_path / "proj",
        ["fast", "slow"],
        "        params: {sleep: 0.1}\n        resources: {cpus: 0.5}\n",
        '    aliases: {production: "1"}\n',
    )
    project.edit_config(
        "python steps/work.py slow\n", "python steps/work.py slow\n        params: {sleep: 2.5}\n"
    )
    project.edit_config(
        "params: {sleep: 2.5}\n        deps: [steps/work.py]\n        outputs: [model.safetensors]\n        params: {sleep: 0.1}\n",
        "params: {sleep: 2.5}\n        deps: [steps/work.py]\n        outputs: [model.safetensors]\n",
    )
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "2")
    assert applied.code == 0, applied.text
    lines = applied.out.splitlines()
    moved = next(i for i, line in enumerate(lines) if "fast:production" in line and "done" in line)
    slow_trained = next(i for i, line in enumerate(lines) if "slow@1" in line and "done" in line)
    assert moved < slow_trained, applied.out
    spans = intervals(project)
    assert spans["fast-train"][1] < spans["slow-train"][1]


def test_parallel_bounds_the_steps_of_all_models_together(tmp_path: Path) -> None:
    project = make_models(
        tmp_path / "proj",
        ["m1", "m2", "m3", "m4"],
        "        params: {sleep: 0.8}\n        resources: {cpus: 0.5}\n",
    )
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "2")
    assert applied.code == 0, applied.text
    spans = intervals(project)
    assert len(spans) == 4
    assert most_at_once(spans) == 2, spans


def test_declared_memory_bounds_the_steps_running_at_once(tmp_path: Path) -> None:
    """Each step asks 40 % of the machine's memory: two fit at once, never three, whatever
    --parallel allows and however many cores there are."""
    share = int(Machine.this().memory * 0.4)
    project = make_models(
        tmp_path / "proj",
        ["m1", "m2", "m3"],
        f"        params: {{sleep: 0.8}}\n        resources: {{cpus: 0.25, memory: {share}}}\n",
    )
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "3")
    assert applied.code == 0, applied.text
    assert most_at_once(intervals(project)) == 2, intervals(project)


def test_a_step_past_its_timeout_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    project = make_models(tmp_path / "proj", ["hung"], "        timeout: 1s\n")
    project.edit_config(
        "run: python steps/work.py",
        "run: sh -c 'sleep 120 & echo $! > child.pid; sleep 120'",
    )
    began = time.monotonic()
    applied = project.mvctl("apply", "--auto-approve", process=True)
    took = time.monotonic() - began
    assert applied.code == 1, applied.text
    assert "step train timed out after 1s" in applied.out
    assert took < 30, took
    child = int((project.root / "child.pid").read_text())
    assert not _alive(child), f"the step's background child {child} outlived its timeout"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


FLAKY = """\
import os, sys
from mvctl import step
if not os.path.exists("tried-once"):
    open("tried-once", "w").close()
    print("first run fails on purpose")
    sys.exit(7)
print("second run works")
step.output("model.safetensors").write_bytes(open("model.bin", "rb").read())
"""


def _flaky_project(root: Path, retries: int) -> Project:
    project = make_models(root, ["flaky"], f"        retries: {retries}\n")
    project.write("steps/flaky.py", FLAKY)
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (project.root / "model.bin").write_bytes(
        len(header).to_bytes(8, "little") + header + b"\x00\x00\x80\x3f"
    )
    project.edit_config("run: python steps/work.py", "run: python steps/flaky.py")
    return project


def test_a_step_that_fails_once_succeeds_on_its_retry_and_its_log_keeps_both_runs(
    tmp_path: Path,
) -> None:
    project = _flaky_project(tmp_path / "proj", retries=1)
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert "flaky@1 train: retry" in applied.out
    log = project.mvctl("logs", "flaky@1", "train")
    assert log.code == 0, log.text
    first = log.out.index("first run fails on purpose")
    assert log.out.index("exited with code 7; run 2 of 2") > first
    assert log.out.index("second run works") > first


def test_without_retries_the_same_step_fails_the_version(tmp_path: Path) -> None:
    project = _flaky_project(tmp_path / "proj", retries=0)
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert "step train exited with code 7" in applied.out


def test_a_step_asking_more_than_the_machine_has_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    cores = Machine.this().cpus
    project = make_models(tmp_path / "proj", ["big"], f"        resources: {{cpus: {cores + 1}}}\n")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert "mvctl.yaml:10:9" in applied.text
    assert (
        f"step train of model big asks for {cores + 1} cores; this machine has {cores}"
        in applied.text
    )
    assert not (project.root / "times").exists()
    history = project.mvctl("history", "--json")
    assert json.loads(history.out)["applies"] == []


def test_a_step_asking_for_gpus_the_machine_lacks_is_refused(tmp_path: Path) -> None:
    gpus = len(Machine.this().gpus)
    project = make_models(tmp_path / "proj", ["gpu"], f"        resources: {{gpus: {gpus + 1}}}\n")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert f"asks for {gpus + 1} GPU(s); this machine has {gpus}" in applied.text


def test_the_step_sees_thread_counts_sized_to_its_cores(tmp_path: Path) -> None:
    project = make_models(tmp_path / "proj", ["threads"], "        resources: {cpus: 1}\n")
    project.edit_config(
        "run: python steps/work.py",
        "run: sh -c 'echo $OMP_NUM_THREADS > omp.txt && python steps/work.py'",
    )
    env = {k: v for k, v in project.env.items() if k != "OMP_NUM_THREADS"}
    project.env = env
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert (project.root / "omp.txt").read_text().strip() == "1"


def test_bad_timeout_and_sizes_are_spec_errors_at_their_place(tmp_path: Path) -> None:
    project = make_models(tmp_path / "proj", ["m"], "        timeout: 10 minutes\n")
    checked = project.mvctl("validate")
    assert checked.code == 1, checked.text
    assert "mvctl.yaml:10:9" in checked.text and "'10 minutes' is not a duration" in checked.text
    project = make_models(tmp_path / "p2", ["m"], "        resources: {memory: 2 gigs}\n")
    checked = project.mvctl("validate")
    assert checked.code == 1, checked.text
    assert "'2 gigs' is not a size" in checked.text


def test_health_check_timeout_needs_a_health_check(tmp_path: Path) -> None:
    project = make_models(tmp_path / "proj", ["m"], "", "    health_check_timeout: 10s\n")
    checked = project.mvctl("validate")
    assert checked.code == 1, checked.text
    assert "the model has no 'health_check'" in checked.text


def test_a_health_check_past_its_timeout_rolls_the_promotion_back(tmp_path: Path) -> None:
    project = make_models(
        tmp_path / "proj",
        ["m"],
        "",
        "    health_check: sleep 30\n    health_check_timeout: 1s\n",
    )
    project.edit_config('      "1": {}\n', '      "1": {}\n    aliases: {production: "1"}\n')
    began = time.monotonic()
    applied = project.mvctl("apply", "--auto-approve")
    assert time.monotonic() - began < 25
    assert applied.code == ExitCode.REFUSED, applied.text
    assert "health check timed out after 1s" in applied.out
    status = json.loads(project.mvctl("status", "--json").out)
    assert status["models"][0]["aliases"] == []


def test_plain_output_keeps_each_versions_lines_together(tmp_path: Path) -> None:
    """Two models with two steps each train at once; the one that does not stream live
    prints its step lines as one block, right before its result line."""
    project = make_models(
        tmp_path / "proj",
        ["ant", "bee"],
        "        params: {sleep: 0.6}\n        resources: {cpus: 0.5}\n",
    )
    text = project.config()
    for name in ("ant", "bee"):
        text = text.replace(
            f"      - name: train\n        run: python steps/work.py {name}\n",
            f"      - name: prep\n        run: python steps/work.py prep-{name}\n"
            "        params: {sleep: 0.6, out: prep.bin}\n        outputs: [prep.bin]\n"
            "        resources: {cpus: 0.5}\n"
            f"      - name: train\n        run: python steps/work.py {name}\n",
        )
    text = text.replace("deps: [steps/work.py]", "deps: [prep, steps/work.py]")
    (project.root / "mvctl.yaml").write_text(text)
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "4")
    assert applied.code == 0, applied.text
    lines = applied.out.splitlines()
    step_lines = [(i, line.split()[0]) for i, line in enumerate(lines) if line.startswith("  ")]
    assert {target for _, target in step_lines} == {"ant@1", "bee@1"}
    overlap = intervals(project)
    assert overlap["ant-prep"][0] < overlap["bee-prep"][1], "the two versions did not overlap"
    live = step_lines[0][1]
    held = ({"ant@1", "bee@1"} - {live}).pop()
    held_at = [i for i, target in step_lines if target == held]
    assert len(held_at) == 4, applied.out
    assert held_at == list(range(held_at[0], held_at[0] + 4)), applied.out
    result = lines[held_at[-1] + 1]
    assert held.split("@")[0] in result and "done" in result, applied.out
    assert all(
        line.startswith(("  ant@1 ", "  bee@1 "))
        for _, line in [(0, lines[i]) for i, _ in step_lines]
    )


def test_steps_hold_their_declared_resources_only_while_they_run(tmp_path: Path) -> None:
    """`--parallel 1` runs the four models one after another: no two steps overlap."""
    project = make_models(tmp_path / "proj", ["m1", "m2", "m3"], "        params: {sleep: 0.3}\n")
    applied = project.mvctl("apply", "--auto-approve", "--parallel", "1")
    assert applied.code == 0, applied.text
    assert most_at_once(intervals(project)) == 1


assert os.name == "posix"
