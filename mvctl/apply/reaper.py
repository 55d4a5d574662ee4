"""The watchdog of one apply's step processes, run as a script by ``apply/processes.py``.

It reads lines from its stdin, a pipe that only apply writes to: ``+PGID`` when a step's
process group starts, ``-PGID`` when it is gone. End of file means apply is gone, however it
went (SIGKILL included: the kernel closes the pipe of a dead process). Every group still
listed then gets SIGTERM, and SIGKILL once the grace period (its one argument, in seconds)
has passed. It runs in a session of its own, so no signal sent to apply's process group
reaches it. Standard library only, started with ``python -I -S``: a few milliseconds, once
per apply that runs a step.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterable

POLL_S = 0.05


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to process group ``pgid``; False when no process is left in it."""
    if pgid <= 1:
        return False  # 0 is our own group, 1 is init's: never a step's
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # the group id was reused by another user's process: not ours
    return True


def stop_groups(groups: set[int], grace_s: float) -> None:
    """SIGTERM every group, then SIGKILL whatever is still there after ``grace_s``."""
    alive = {pgid for pgid in groups if signal_group(pgid, signal.SIGTERM)}
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = {pgid for pgid in alive if signal_group(pgid, 0)}
    for pgid in alive:
        signal_group(pgid, signal.SIGKILL)


def watch(reports: Iterable[bytes], grace_s: float) -> None:
    """Follow the groups apply reports until its pipe closes, then stop those left."""
    groups: set[int] = set()
    for line in reports:
        sign, number = line[:1], line[1:].strip()
        if not number.isdigit():
            continue
        if sign == b"+":
            groups.add(int(number))
        elif sign == b"-":
            groups.discard(int(number))
    stop_groups(groups, grace_s)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(sys.stdin.buffer, float(sys.argv[1]))
