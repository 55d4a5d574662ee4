"""Benchmark: hashing, re-planning, no-op apply and per-step orchestration overhead.

Run by hand (not collected by pytest):  python tests/bench_steps.py [--size-mib 1024] [--steps 50]

  - first-hash throughput of a large file (created once in /tmp) through mvctl's hash_file,
    against hashlib.sha256 over the same bytes in memory and against `sha256sum`; best of
    several runs each, interleaved, so a busy machine penalises none of them more than others;
  - `mvctl plan` again with that file as an untouched dependency, and how many files
    Workspace.digests() had to hash (must be 0: the stat cache);
  - a no-op `mvctl apply` of the quickstart after it was applied;
  - a pipeline of N trivial steps: apply's wall time minus the steps' own run time, per step
    (all of apply's fixed costs included), and the marginal cost of a step (the same for a
    5-step pipeline subtracted, so process start, config loading and planning cancel out).
Targets (issue 3): first hash >= 80 % of in-memory hashlib; re-plan hashes nothing; no-op
apply < 0.3 s; < 50 ms per step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mvctl.store.digests import DigestCache  # noqa: E402
from mvctl.workspace import load_workspace  # noqa: E402

BIG_FILE = Path(tempfile.gettempdir()) / "mvctl-bench-big.bin"
SMALL_CHAIN = 5
ORCHESTRATION_RUNS = 3
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), "MVCTL_ACTOR": "bench"}


def big_file(size_mib: int) -> Path:
    if not BIG_FILE.exists() or BIG_FILE.stat().st_size != size_mib * 2**20:
        block = os.urandom(16 * 2**20)
        with BIG_FILE.open("wb") as out:
            for _ in range(size_mib // 16):
                out.write(block)
    return BIG_FILE


def best_of(runs: int, *measures: Callable[[], object]) -> list[float]:
    """Best wall time of each callable, runs interleaved."""
    best = [float("inf")] * len(measures)
    for _ in range(runs):
        for index, measure in enumerate(measures):
            started = time.perf_counter()
            measure()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def mvctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mvctl", *args],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 2):
        raise SystemExit(f"mvctl {' '.join(args)} failed in {root}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def time_mvctl(root: Path, *args: str, runs: int = 5) -> float:
    mvctl(root, *args)  # warm-up
    return best_of(runs, lambda: mvctl(root, *args))[0]


def bench_hashing(path: Path, runs: int) -> dict[str, float]:
    data = path.read_bytes()
    gib = len(data) / 2**30

    def first_hash() -> None:
        cache = DigestCache(None)  # empty: every file is hashed
        cache.file_digest(path)
        assert cache.hashed_files == 1

    def coreutils() -> None:
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)

    memory, ours, sha256sum = best_of(
        runs, lambda: hashlib.sha256(data).digest(), first_hash, coreutils
    )
    cold = float("nan")
    if hasattr(os, "posix_fadvise"):
        with path.open("rb") as handle:  # drop the file from the page cache: a cold first hash
            os.fsync(handle.fileno())
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        cold = best_of(1, first_hash)[0]
    return {
        "memory": gib / memory,
        "ours": gib / ours,
        "sha256sum": gib / sha256sum,
        "cold": gib / cold,
    }


def bench_replan(workdir: Path, path: Path, runs: int) -> tuple[float, int]:
    root = workdir / "bigdep"
    (root / "steps").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "big.bin").symlink_to(path)
    (root / "steps" / "train.py").write_text("print('train')\n")
    (root / "mvctl.yaml").write_text(
        "project: bigdep\nmodels:\n  m:\n    pipeline:\n"
        "      - {name: train, run: python steps/train.py, deps: [data/big.bin, steps/train.py],"
        " outputs: [model.safetensors]}\n"
        '    versions: {"1.0.0": {}}\n'
    )
    mvctl(root, "plan")  # the first plan hashes the big file once
    wall = time_mvctl(root, "plan", runs=runs)
    hashed = load_workspace(start=root).digests()[2]
    return wall, hashed


def bench_noop_apply(workdir: Path, runs: int) -> float:
    root = workdir / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", root, ignore=shutil.ignore_patterns(".mvctl"))
    mvctl(root, "apply", "--auto-approve")
    return time_mvctl(root, "apply", "--auto-approve", runs=runs)


LAST_STEP = """\
import json, struct
from mvctl import step
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))
"""


def chain_project(root: Path, steps: int) -> Path:
    """A chain of ``steps`` trivial steps (a shell echo each; the last writes the model)."""
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "last.py").write_text(LAST_STEP)
    lines = ["project: chain", "models:", "  m:", "    pipeline:"]
    for index in range(steps - 1):
        deps = f"[s{index - 1:02d}]" if index else "[]"
        lines.append(
            f"      - {{name: s{index:02d}, run: 'echo {index} > \"$MVCTL_OUTPUT_DIR/o{index}\"',"
            f" deps: {deps}, outputs: [o{index}]}}"
        )
    lines.append(
        f"      - {{name: last, run: python steps/last.py, deps: [s{steps - 2:02d}],"
        " outputs: [model.safetensors]}"
    )
    lines += ['    versions: {"1.0.0": {}}']
    (root / "mvctl.yaml").write_text("\n".join(lines) + "\n")
    return root


def bench_orchestration(workdir: Path, steps: int, runs: int) -> tuple[float, float]:
    """(wall s, steps' own s) of applying a fresh chain of trivial steps, the run with the least
    overhead of ``runs``; the state database is created beforehand, as it is once per project."""
    best = (float("inf"), 0.0)
    for attempt in range(runs):
        root = chain_project(workdir / f"chain-{steps}-{attempt}", steps)
        mvctl(root, "state", "migrate")
        started = time.perf_counter()
        mvctl(root, "apply", "--auto-approve")
        wall = time.perf_counter() - started
        shown = json.loads(mvctl(root, "show", "m@1.0.0", "--json").stdout)
        own = sum(info["duration_s"] for info in shown["lineage"]["steps"].values())
        if wall - own < best[0] - best[1]:
            best = (wall, own)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = big_file(args.size_mib)
    workdir = Path(tempfile.mkdtemp(prefix="mvctl-bench-steps-"))
    try:
        rates = bench_hashing(path, args.runs)
        replan, hashed = bench_replan(workdir, path, args.runs)
        noop = bench_noop_apply(workdir, args.runs)
        wall, own = bench_orchestration(workdir, args.steps, ORCHESTRATION_RUNS)
        small_wall, small_own = bench_orchestration(workdir, SMALL_CHAIN, ORCHESTRATION_RUNS)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    size = f"{args.size_mib / 1024:g} GiB"
    rows = [
        ("in-memory hashlib.sha256", f"{rates['memory']:.2f} GiB/s", ""),
        (
            f"first hash of a {size} file (hash_file)",
            f"{rates['ours']:.2f} GiB/s = {rates['ours'] / rates['memory']:.0%} of in-memory",
            ">= 80 %",
        ),
        ("  the same, page cache dropped first", f"{rates['cold']:.2f} GiB/s", "(disk-bound)"),
        ("sha256sum", f"{rates['sha256sum']:.2f} GiB/s", ""),
        (f"re-plan, untouched {size} dep", f"{replan:.3f} s, {hashed} files hashed", "0 hashed"),
        ("no-op apply of the quickstart", f"{noop:.3f} s", "< 0.3 s"),
        (
            f"orchestration, {args.steps} trivial steps: (wall - steps' own) / steps",
            f"{(wall - own) / args.steps * 1000:.1f} ms/step ({wall:.2f} s wall, {own:.2f} s in steps)",
            "< 50 ms",
        ),
        (
            f"  per extra step ({SMALL_CHAIN} vs {args.steps} steps; startup and plan excluded)",
            f"{((wall - own) - (small_wall - small_own)) / (args.steps - SMALL_CHAIN) * 1000:.1f} ms/step",
            "",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'measured':<{value_width}}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {target}")


if __name__ == "__main__":
    main()
