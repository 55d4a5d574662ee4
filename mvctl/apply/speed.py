"""Serving speed of batch prediction: latency percentiles and throughput.

The model predicts ``warmup`` batches untimed (caches, lazy initialisation), then
``repetitions`` batches of exactly ``batch_size`` rows, each timed on its own with a monotonic
clock. Batches walk through the dataset (repeating it when it is shorter than a batch), so the
timings do not hinge on one lucky slice of rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PERCENTILES = {"latency_p50_ms": 50.0, "latency_p95_ms": 95.0, "latency_p99_ms": 99.0}


@dataclass(frozen=True)
class SpeedResult:
    latencies_ms: tuple[float, ...]
    """One per timed batch, in the order they ran."""
    batch_size: int
    warmup: int

    @property
    def qps(self) -> float:
        """Rows predicted per second over the timed batches."""
        total_s = sum(self.latencies_ms) / 1000.0
        return self.batch_size * len(self.latencies_ms) / total_s if total_s > 0 else float("inf")

    def metrics(self) -> dict[str, float]:
        import numpy as np

        values = {
            name: float(np.percentile(self.latencies_ms, q)) for name, q in PERCENTILES.items()
        }
        values["qps"] = self.qps
        return values


def batches(x: Any, batch_size: int) -> list[Any]:
    """Every distinct window of ``batch_size`` rows, the data repeated to fill the last one."""
    import numpy as np

    rows = x.shape[0]
    reps = -(-batch_size // rows) + 1  # enough copies that any window fits
    tiled = np.concatenate([x] * reps) if reps > 1 else x
    starts = range(0, max(rows, 1), batch_size)
    return [tiled[start : start + batch_size] for start in starts]


def measure_speed(
    predict_batch: Callable[[Any], Any],
    x: Any,
    *,
    batch_size: int,
    repetitions: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> SpeedResult:
    windows = batches(x, batch_size)
    for call in range(warmup):
        predict_batch(windows[call % len(windows)])
    latencies = []
    for call in range(repetitions):
        window = windows[(warmup + call) % len(windows)]
        started = clock()
        predict_batch(window)
        latencies.append((clock() - started) * 1000.0)
    return SpeedResult(tuple(latencies), batch_size, warmup)
