"""Benchmark: load + validate + check a configuration of 1,000 models x 10 versions.

Run by hand (not collected by pytest):  python tests/spec/bench_load.py [--models N] [--versions N]
Prints the best and median wall time of several loads, and the peak memory traced during one.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mvctl.spec import load_config  # noqa: E402
from tests.spec.generated import big_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mvctl.yaml"
        path.write_text(big_config(args.models, args.versions))
        times = []
        for _ in range(args.runs):
            gc.collect()
            start = time.perf_counter()
            loaded = load_config(path)
            times.append(time.perf_counter() - start)
            del loaded
        tracemalloc.start()
        loaded = load_config(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = path.stat().st_size
    print(
        f"load_config: {args.models} models x {args.versions} versions ({size / 1e6:.1f} MB): "
        f"best {min(times):.3f} s, median {statistics.median(times):.3f} s, "
        f"peak traced memory {peak / 1e6:.0f} MB"
    )
    assert len(loaded.config.models) == args.models


if __name__ == "__main__":
    main()
