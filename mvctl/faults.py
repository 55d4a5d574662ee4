"""Named fault points on apply's path, so the crash tests can kill or fail it exactly there.

A crash test cannot rely on timing to land a SIGKILL "between recording a version and moving
its alias": on a fast machine that window is microseconds. Instead the code calls
``reached("point")`` at each place worth dying in, and the tests arm one of them through the
environment of the `mvctl` process they start:

* ``MVCTL_TEST_KILL_AT=point:N`` — the N-th time ``point`` is reached, the process sends
  itself SIGKILL: the real signal, which no handler, ``finally`` or atexit can soften;
* ``MVCTL_TEST_FAIL_AT=point:N`` — the N-th time, ``OSError(ENOSPC)`` is raised there instead,
  as a full disk would (the failing-write tests).

The variables are read once, at import. Unset — always, outside the tests — a call is one
test of a module-level constant. Points are listed in ``POINTS`` so a test can check it
armed one that exists; ``tests/functional/test_crash.py`` documents where each one sits.
"""

from __future__ import annotations

import errno
import os
import signal
import threading

KILL_ENV = "MVCTL_TEST_KILL_AT"
FAIL_ENV = "MVCTL_TEST_FAIL_AT"

POINTS = frozenset(
    {
        "lock_taken",  # the lock row is committed; nothing else is written yet
        "apply_begun_uncommitted",  # inside the transaction opening the apply record
        "step_running",  # a step's process is running
        "step_exited",  # a step's process ended; its outputs are not stored yet
        "blob_written",  # a blob is complete under its temporary name, not renamed yet
        "step_run_uncommitted",  # inside the transaction recording a finished step
        "version_trained",  # training finished; the version is not recorded yet
        "state_uncommitted",  # inside a change's transaction: rows written, not committed
        "state_committed",  # a change and its log row are committed
        "alias_verified",  # a promotion's artifact is verified; the alias has not moved
        "actions_done",  # every action ran; the apply record is still open
        "apply_finished",  # the apply record is closed; the lock is still held
    }
)


def _armed(name: str) -> tuple[str, int] | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    point, _, nth = raw.rpartition(":")
    if point not in POINTS or not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"{name}={raw!r}: expected POINT:N, POINT one of {sorted(POINTS)}")
    return point, int(nth)


_KILL = _armed(KILL_ENV)
_FAIL = _armed(FAIL_ENV)
_ARMED = _KILL is not None or _FAIL is not None
_counts: dict[str, int] = {}
_counting = threading.Lock()


def reached(point: str) -> None:
    """Mark ``point`` as passed; die or fail here if a test armed it for this pass."""
    if _ARMED:
        _trip(point)


def _trip(point: str) -> None:
    with _counting:
        count = _counts[point] = _counts.get(point, 0) + 1
    if (point, count) == _KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    if (point, count) == _FAIL:
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {point}:{count})")
