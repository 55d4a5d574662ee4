"""Step processes that never outlive their apply.

Each step runs in a process group of its own, so one signal reaches the shell of a `run:`
step and everything it started (`sh -c "python train.py"`: the python too), and a signal
meant for apply's own group (Ctrl-C on a terminal) does not reach the steps: apply stops
them itself. An apply can end three ways while steps run:

* interrupted (SIGINT, SIGTERM): ``stop`` lets no new step start, sends SIGTERM to every
  running group, waits ``STOP_GRACE_S`` and sends SIGKILL to what is left;
* any other way, an error included: ``close`` does the same for anything still running;
* SIGKILLed: nothing of apply runs any more, so a watchdog does it. The watchdog
  (``apply/reaper.py``) is a small process in a session of its own, so signals sent to
  apply's group spare it; apply tells it each step's group over a pipe that only apply
  writes to. However apply dies, the kernel closes that pipe; the watchdog reads end of
  file, stops the groups it was told of (SIGTERM, then SIGKILL) and exits. It starts with
  the first step, so an apply with nothing to run never pays for it.

When a step's main process ends, whatever it left running in its group is killed with it. A
process that leaves its group on purpose (``setsid``, a daemon) escapes all of this. A step
with a `timeout:` gets a ``Deadline``: when it passes, the group gets SIGTERM, and SIGKILL
after the same grace period.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from mvctl.apply.reaper import signal_group

STOP_GRACE_S = 3.0
"""How long a stopped step may take to exit after SIGTERM before it gets SIGKILL."""
WATCHDOG = Path(__file__).with_name("reaper.py")


class StepsStopped(Exception):
    """A step was about to start after its apply began stopping its steps."""


class Deadline:
    """Stops one step's process group when its time is up, unless cancelled first."""

    def __init__(self, pgid: int, seconds: float, grace_s: float = STOP_GRACE_S) -> None:
        self.expired = False
        self._pgid = pgid
        self._grace_s = grace_s
        self._cancelled = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(seconds,), name="mvctl-deadline", daemon=True
        )
        self._thread.start()

    def _watch(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            return
        self.expired = True
        signal_group(self._pgid, signal.SIGTERM)
        if not self._cancelled.wait(self._grace_s):
            signal_group(self._pgid, signal.SIGKILL)

    def cancel(self) -> None:
        """The step ended (call before its main process is reaped, while its group is ours)."""
        self._cancelled.set()


class ProcessGroups:
    """The process groups of one apply's running steps, and their watchdog."""

    def __init__(self, grace_s: float = STOP_GRACE_S) -> None:
        self._grace_s = grace_s
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._also_stop: list[Callable[[], None]] = []

    @property
    def stopping(self) -> bool:
        """Whether the apply is stopping its steps: a step that fails now was stopped."""
        with self._changed:
            return self._stopping

    def start(self, command: str | list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start a step in a new process group that the watchdog knows of."""
        with self._changed:
            if self._stopping:
                raise StepsStopped("the apply is stopping its steps; no new step starts")
            self._start_watchdog()
            process: subprocess.Popen[bytes] = subprocess.Popen(command, process_group=0, **options)
            self._running[process.pid] = process
            self._tell(f"+{process.pid}")
        return process

    def ended(self, process: subprocess.Popen[bytes]) -> None:
        """The step is over (or its caller failed): kill what is left of its group, reap its
        main process, and forget the group."""
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
        with self._changed:
            self._running.pop(process.pid, None)
            self._tell(f"-{process.pid}")
            self._changed.notify_all()

    def also_stop(self, stop: Callable[[], None]) -> None:
        """Call ``stop`` too when the steps are stopped: steps that run elsewhere (Ray)."""
        self._also_stop.append(stop)

    def stop(self) -> None:
        """Start no new step; SIGTERM the running ones, SIGKILL them after the grace period.

        Returns once every step's caller has seen its process end, or the grace is over."""
        with self._changed:
            self._stopping = True
            groups = list(self._running)
        for stop_elsewhere in self._also_stop:
            stop_elsewhere()
        for pgid in groups:
            signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace_s
        with self._changed:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            groups = list(self._running)
        for pgid in groups:
            signal_group(pgid, signal.SIGKILL)

    def close(self) -> None:
        """Stop whatever still runs and let the watchdog go."""
        with self._changed:
            running = bool(self._running)
        if running:
            self.stop()
        with self._changed:
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.stdin is not None:
            with suppress(OSError):
                watchdog.stdin.close()
            with suppress(subprocess.TimeoutExpired):
                watchdog.wait(timeout=self._grace_s + 1)

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WATCHDOG), str(self._grace_s)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _tell(self, report: str) -> None:
        """Tell the watchdog of a group that started or ended; call holding the lock."""
        if self._watchdog is None or self._watchdog.stdin is None:
            return
        # A watchdog that died cannot be helped; the steps are still stopped by ``stop``.
        with suppress(OSError):
            self._watchdog.stdin.write(f"{report}\n".encode())
            self._watchdog.stdin.flush()
