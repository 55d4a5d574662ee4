"""Benchmark: four independent single-threaded models trained in one apply, at once and serially.

Run by hand (not collected by pytest):  python tests/bench_parallel.py [--parallel 2] [--estimators 60]

Four models, each one `run:` step fitting a scikit-learn random forest with n_jobs=1 (each
model on its own synthetic data, so no step is shared). The same project, its state database
already created (`mvctl state migrate`: once per project, and not training), is applied twice
from that empty state, interleaved over several rounds: once with `--parallel 1` (one step at a
time: the serial wall time) and once with `--parallel N` (default 2, the cores of the
development machine). It prints each wall time (median), each step's own run time, and the
ratio. Target (DESIGN.md): four independent models on two cores in <= 0.6 x the serial time.

As a control it first times four bare CPU-bound processes (no mvctl) one after another and
N at once: that ratio is the best any scheduler can do on this machine at this moment (on a
machine shared with other jobs it can be far above 1 / N).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("alpha", "beta", "gamma", "delta")

TRAIN = """\
import os
from mvctl import step
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
import skops.io as sio

p = step.params()
X, y = make_classification(n_samples=3000, n_features=30, random_state=p["seed"])
model = RandomForestClassifier(n_estimators=p["estimators"], n_jobs=1, random_state=p["seed"])
model.fit(X, y)
sio.dump(model, step.output("model.skops"))
"""


def make_project(root: Path, estimators: int) -> None:
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "train.py").write_text(TRAIN)
    blocks = "".join(
        textwrap.dedent(
            f"""\
              {name}:
                owners: [bench]
                pipeline:
                  - name: train
                    run: python steps/train.py
                    deps: [steps/train.py]
                    params: {{seed: {seed}, estimators: {estimators}}}
                    outputs: [model.skops]
                    resources: {{cpus: 1}}
                versions:
                  "1": {{}}
            """
        ).replace("\n", "\n  ")
        for seed, name in enumerate(MODELS)
    )
    (root / "mvctl.yaml").write_text(f"project: bench\nmodels:\n  {blocks}\n")


def mvctl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVCTL_")}
    env.update(NO_COLOR="1", MVCTL_ACTOR="bench", PYTHONPATH=str(REPO))
    return env


def apply_once(template: Path, parallel: int) -> tuple[float, list[float]]:
    """Wall seconds of `mvctl apply --parallel N` from an empty state, and the steps' own."""
    work = Path(tempfile.mkdtemp(prefix="mvctl-bench-par-"))
    try:
        project = work / "proj"
        shutil.copytree(template, project)
        env = mvctl_env()
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "mvctl", "apply", "--auto-approve", "--parallel", str(parallel)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"apply failed:\n{done.stdout}{done.stderr}")
        steps = [
            float(line.rsplit("(", 1)[1].split()[0])
            for line in done.stdout.splitlines()
            if ": ok (" in line
        ]
        return wall, steps
    finally:
        shutil.rmtree(work, ignore_errors=True)


SPIN = "x = 0\nfor i in range(20_000_000):\n    x += i\n"


def control(parallel: int) -> tuple[float, float]:
    """Wall seconds of four bare CPU-bound processes: one after another, then N at once."""
    started = time.perf_counter()
    for _ in MODELS:
        subprocess.run([sys.executable, "-c", SPIN], check=True)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    waiting = list(MODELS)
    running: list[subprocess.Popen[bytes]] = []
    while waiting or running:
        while waiting and len(running) < parallel:
            waiting.pop()
            running.append(subprocess.Popen([sys.executable, "-c", SPIN]))
        running[0].wait()
        running.pop(0)
    return serial, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--estimators", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    template = Path(tempfile.mkdtemp(prefix="mvctl-bench-par-template-")) / "proj"
    make_project(template, args.estimators)
    subprocess.run(
        [sys.executable, "-m", "mvctl", "state", "migrate"],
        cwd=template,
        env=mvctl_env(),
        check=True,
        capture_output=True,
    )
    bare_serial, bare_parallel = control(args.parallel)
    serial: list[float] = []
    parallel: list[float] = []
    step_times: list[float] = []
    try:
        for _ in range(args.rounds):
            wall, steps = apply_once(template, 1)
            serial.append(wall)
            step_times += steps
            parallel.append(apply_once(template, args.parallel)[0])
    finally:
        shutil.rmtree(template.parent, ignore_errors=True)
    one, many = statistics.median(serial), statistics.median(parallel)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores usable; load average {os.getloadavg()[0]:.1f}")
    print(
        f"4 models, one single-threaded step each (median step {statistics.median(step_times):.2f} s)"
    )
    print(
        f"apply --parallel 1: {one:.2f} s (median of {args.rounds}: {', '.join(f'{s:.2f}' for s in serial)})"
    )
    print(
        f"apply --parallel {args.parallel}: {many:.2f} s "
        f"(median of {args.rounds}: {', '.join(f'{s:.2f}' for s in parallel)})"
    )
    print(f"ratio: {many / one:.2f} x the serial wall time (target <= 0.60)")
    print(
        f"control, 4 bare CPU-bound processes: {bare_serial:.2f} s serial, {bare_parallel:.2f} s "
        f"{args.parallel} at once: {bare_parallel / bare_serial:.2f} x (this machine's ceiling now)"
    )


if __name__ == "__main__":
    main()
