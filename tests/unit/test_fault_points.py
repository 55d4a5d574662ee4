"""The fault hook: inert unless armed, then the real SIGKILL (or ENOSPC) at the N-th pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import timeit

import pytest

from mvctl import faults

PROBE = """
from mvctl import faults
for n in range(1, 4):
    try:
        faults.reached("state_committed")
    except OSError as error:
        print("failed", n, error.errno)
    print("passed", n, flush=True)
"""


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MVCTL_TEST_")}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_kill_is_the_real_sigkill_at_the_nth_pass() -> None:
    done = run({faults.KILL_ENV: "state_committed:2"})
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split("\n")[:1] == ["passed 1"] and "passed 2" not in done.stdout


def test_fail_raises_enospc_at_the_nth_pass_only() -> None:
    done = run({faults.FAIL_ENV: "state_committed:3"})
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["passed 1", "passed 2", "failed 3 28", "passed 3"]


def test_unknown_point_is_refused() -> None:
    done = run({faults.KILL_ENV: "no_such_point:1"})
    assert done.returncode == 1 and "POINT one of" in done.stderr


def test_unarmed_costs_next_to_nothing() -> None:
    if os.environ.get(faults.KILL_ENV) or os.environ.get(faults.FAIL_ENV):
        pytest.skip("armed in this process")
    per_call = min(
        timeit.repeat(lambda: faults.reached("state_committed"), number=10_000, repeat=3)
    )
    assert per_call / 10_000 < 2e-6
