"""Step caching end to end: the plan is exact for every kind of change, independent steps run
at the same time, and a touched file with equal content costs one hash and no re-run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.functional.projects import Project, base_env

CONFIG = """\
project: exact
models:
  m:
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py, data/raw.csv]
        params: {rows: 10}
        outputs: [data.json]
      - name: features
        run: python steps/features.py
        deps: [prepare, steps/features.py]
        params: {scale: 1}
        env: [FEATURE_FLAG]
        outputs: [features.json]
      - name: stats
        run: python steps/stats.py
        deps: [prepare]
        outputs: [stats.json]
      - name: train
        run: python steps/train.py
        deps: [features, stats, steps/train.py]
        params: {lr: 0.1}
        outputs: [model.safetensors]
    versions:
      "1.0.0": {}
    aliases:
      production: "1.0.0"
"""

# Each step records when it ran, so a test can tell whether two steps overlapped.
STEP = """\
import json, os, time
from mvctl import step
started = time.time()
time.sleep(float(os.environ.get("STEP_SLEEP", "0")))
inputs = json.loads(os.environ["MVCTL_INPUTS"])
body = {"params": step.params(), "inputs": sorted(inputs), "flag": os.environ.get("FEATURE_FLAG")}
step.output("{output}").write_text(json.dumps({**body, "span": [started, time.time()]}))
"""

TRAIN = """\
import json, struct
from mvctl import step
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", step.params()["lr"]))
"""


def make_dag(root: Path) -> Project:
    project = Project(root, base_env(None))
    project.write("mvctl.yaml", CONFIG)
    project.write("data/raw.csv", "a,b\n1,2\n")
    project.write("steps/prepare.py", STEP.replace("{output}", "data.json"))
    project.write("steps/features.py", STEP.replace("{output}", "features.json"))
    project.write("steps/stats.py", STEP.replace("{output}", "stats.json"))
    project.write("steps/train.py", TRAIN)
    return project


@pytest.fixture
def dag(tmp_path: Path) -> Project:
    return make_dag(tmp_path / "proj")


def planned_runs(plan: dict) -> set[tuple[str, str]]:
    return {
        (f"{a['model']}@{a['label']}", s["name"])
        for a in plan["actions"]
        if a["kind"] == "train_version"
        for s in a["steps"]
        if s["status"] == "run"
    }


def applied_runs(outcome: dict) -> set[tuple[str, str]]:
    return {
        (f"{o['action']['model']}@{o['action']['label']}", name)
        for o in outcome["outcomes"]
        if o["action"]["kind"] == "train_version"
        for name, how in o.get("steps", {}).items()
        if how == "run"
    }


def lineage_runs(project: Project, targets: set[str], env: dict[str, str]) -> set[tuple[str, str]]:
    ran = set()
    for target in targets:
        shown = project.mvctl("show", target, "--json", extra_env=env)
        assert shown.code == 0, shown.text
        steps = json.loads(shown.out)["lineage"]["steps"]
        ran |= {(target, name) for name, info in steps.items() if not info["cached"]}
    return ran


def plan_then_apply(project: Project, env: dict[str, str]) -> set[tuple[str, str]]:
    """Plan (saved), apply exactly that plan, and check the three views of what ran agree;
    the plan's view is returned."""
    planned = project.mvctl("plan", "--on-conflict", "overwrite", "--out", "p.json", extra_env=env)
    assert planned.code == 0, planned.text
    plan = json.loads((project.root / "p.json").read_text())
    applied = project.mvctl("apply", "p.json", "--auto-approve", "--json", extra_env=env)
    assert applied.code in (0, 1), applied.text
    outcome = json.loads(applied.out)
    assert all(o["status"] == "done" for o in outcome["outcomes"]), outcome
    trained = {
        f"{a['model']}@{a['label']}" for a in plan["actions"] if a["kind"] == "train_version"
    }
    ran = applied_runs(outcome)
    # Versions train at once: a step two of them share runs once, by whichever gets to it
    # first, so the runs are compared by cache key; each key runs exactly once.
    key_of = {
        (f"{a['model']}@{a['label']}", s["name"]): s["cache_key"]
        for a in plan["actions"]
        if a["kind"] == "train_version"
        for s in a["steps"]
    }
    planned = planned_runs(plan)
    assert sorted(key_of[run] for run in planned) == sorted(key_of[run] for run in ran)
    assert len({key_of[run] for run in ran}) == len(ran)
    assert lineage_runs(project, trained, env) == ran
    return planned


def declare(project: Project, version: str) -> None:
    """Add a version block after the last one."""
    edit(project, "mvctl.yaml", "    aliases:\n", f"      {version}\n    aliases:\n")


def edit(project: Project, relative: str, old: str, new: str) -> None:
    path = project.root / relative
    text = path.read_text()
    assert old in text, (old, relative)
    path.write_text(text.replace(old, new, 1))


V1, V2, V3, V4, V5 = (f"m@1.{minor}.0" for minor in range(5))
ALL = {"prepare", "features", "stats", "train"}


def test_plan_lists_exactly_the_steps_apply_runs_for_every_kind_of_change(dag: Project) -> None:
    env: dict[str, str] = {}
    assert plan_then_apply(dag, env) == {(V1, s) for s in ALL}

    # A new version sharing the pipeline's prefix: only the step it overrides runs.
    edit(
        dag, "mvctl.yaml", '"1.0.0": {}', '"1.0.0": {}\n      "1.1.0": {params: {train: {lr: 0.2}}}'
    )
    assert plan_then_apply(dag, env) == {(V2, "train")}

    # A version's param override: that step and what depends on it.
    edit(dag, "mvctl.yaml", "{train: {lr: 0.2}}", "{train: {lr: 0.2}, features: {scale: 2}}")
    assert plan_then_apply(dag, env) == {(V2, "features"), (V2, "train")}

    # A base param: every version; a step both versions share runs once, for the first.
    edit(dag, "mvctl.yaml", "params: {rows: 10}", "params: {rows: 20}")
    assert plan_then_apply(dag, env) == {(V1, s) for s in ALL} | {(V2, "features"), (V2, "train")}

    # A data file's content: lineage, the trained versions are kept; a new version uses it.
    (dag.root / "data" / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    assert plan_then_apply(dag, env) == set()
    declare(dag, '"1.2.0": {}')
    assert plan_then_apply(dag, env) == {(V3, s) for s in ALL}

    # The step's own script (a file dep of one step): it and its downstream steps, for new ones.
    edit(dag, "steps/features.py", "started = time.time()", "started = time.time()  # v2")
    assert plan_then_apply(dag, env) == set()
    declare(dag, '"1.3.0": {}')
    assert plan_then_apply(dag, env) == {(V4, "features"), (V4, "train")}

    # A command: each version retrains with today's files (overwrite); 1.2.0 and 1.3.0 reuse
    # what 1.0.0 runs, and 1.1.0's features run with the edited script for the first time.
    edit(dag, "mvctl.yaml", "run: python steps/stats.py", "run: python steps/stats.py --fast")
    assert plan_then_apply(dag, env) == {
        (V1, "stats"),
        (V1, "train"),
        (V2, "features"),
        (V2, "train"),
    }

    # A declared environment variable's value: lineage too; a new version reads it.
    env["FEATURE_FLAG"] = "on"
    assert plan_then_apply(dag, env) == set()
    declare(dag, '"1.4.0": {params: {features: {scale: 2}, train: {lr: 0.2}}}')
    assert plan_then_apply(dag, env) == {(V5, "features"), (V5, "train")}

    # A param set back to an earlier value: that earlier run is reused, nothing runs.
    edit(dag, "mvctl.yaml", "{train: {lr: 0.2},", "{train: {lr: 0.3},")
    assert plan_then_apply(dag, env) == {(V2, "train")}
    edit(dag, "mvctl.yaml", "{train: {lr: 0.3},", "{train: {lr: 0.2},")
    assert plan_then_apply(dag, env) == set()

    # A dep touched with the same content: one hash, nothing to do.
    from mvctl.workspace import load_workspace

    raw = dag.root / "data" / "raw.csv"
    stat = raw.stat()
    os.utime(raw, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert load_workspace(start=dag.root).digests()[2] == 1
    unchanged = dag.mvctl("plan", "--detailed-exitcode", extra_env=env)
    assert unchanged.code == 0, unchanged.text


def test_independent_steps_run_at_the_same_time(dag: Project) -> None:
    applied = dag.mvctl(
        "apply", "--auto-approve", "--parallel", "2", extra_env={"STEP_SLEEP": "1.5"}
    )
    assert applied.code == 0, applied.text
    features, stats = (
        _span(dag, "m@1.0.0", step, name)
        for step, name in (("features", "features.json"), ("stats", "stats.json"))
    )
    assert features[0] < stats[1] and stats[0] < features[1], (features, stats)


def test_parallel_one_runs_steps_one_after_another(dag: Project) -> None:
    applied = dag.mvctl(
        "apply", "--auto-approve", "--parallel", "1", extra_env={"STEP_SLEEP": "0.5"}
    )
    assert applied.code == 0, applied.text
    features = _span(dag, "m@1.0.0", "features", "features.json")
    stats = _span(dag, "m@1.0.0", "stats", "stats.json")
    assert features[1] <= stats[0] or stats[1] <= features[0], (features, stats)


def test_a_failing_step_lets_its_running_sibling_finish_and_be_cached(dag: Project) -> None:
    edit(
        dag, "steps/stats.py", "started = time.time()", "started = time.time(); raise SystemExit(5)"
    )
    failed = dag.mvctl("apply", "--auto-approve", "--parallel", "2", extra_env={"STEP_SLEEP": "1"})
    assert failed.code == 1 and "step stats exited with code 5" in failed.out, failed.text
    plan = json.loads(dag.mvctl("plan", "--json", "--retry-failed").out)
    train = next(a for a in plan["actions"] if a["kind"] == "train_version")
    steps = {s["name"]: s["status"] for s in train["steps"]}
    assert steps == {"prepare": "cached", "features": "cached", "stats": "run", "train": "run"}


def test_a_step_that_writes_none_of_its_outputs_fails_its_version(dag: Project) -> None:
    edit(dag, "steps/stats.py", 'step.output("stats.json").write_text', "print")
    failed = dag.mvctl("apply", "--auto-approve")
    assert failed.code == 1, failed.text
    assert "step stats did not write its declared outputs stats.json" in failed.out
    assert "Traceback" not in failed.text
    status = json.loads(dag.mvctl("status", "--json").out)
    assert [(v["label"], v["status"]) for v in status["models"][0]["versions"]] == [
        ("1.0.0", "failed")
    ]
    assert status["models"][0]["aliases"] == []


def _span(project: Project, target: str, step: str, name: str) -> list[float]:
    shown = json.loads(project.mvctl("show", target, "--json").out)
    digest = shown["lineage"]["steps"][step]["outputs"][name][len("sha256:") :]
    blob = project.root / ".mvctl" / "store" / "objects" / digest[:2] / digest[2:]
    span: list[float] = json.loads(blob.read_text())["span"]
    return span
