"""Apply's live feedback: a progress bar per running step on a terminal, plain lines in CI.

Independent steps run in threads, so every event takes the reporter's lock: one bar or line is
changed at a time, and a line printed by one step never interleaves with another's.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from mvctl.render.console import Console
from mvctl.render.markup import escape
from mvctl.render.plan import action_lines
from mvctl.results.apply import ActionOutcome

PLAIN_PROGRESS_EVERY_S = 5.0


def _fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(fields.items()))


class ApplyReporter:
    """Implements ApplyEvents for a Console; safe to call from several threads."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}
        self._last_plain: dict[tuple[str, str], float] = {}
        self._lock = threading.RLock()

    def step_started(self, target: str, step: str, status: str) -> None:
        with self._lock:
            self._step_started(target, step, status)

    def step_progress(
        self, target: str, step: str, fraction: float, fields: dict[str, Any]
    ) -> None:
        with self._lock:
            self._step_progress(target, step, fraction, fields)

    def step_finished(self, target: str, step: str, status: str, seconds: float) -> None:
        with self._lock:
            self._step_finished(target, step, status, seconds)

    def action_finished(self, outcome: ActionOutcome) -> None:
        with self._lock:
            self._action_finished(outcome)

    def _step_started(self, target: str, step: str, status: str) -> None:
        if status == "cached":
            self.console.print(f"  [dim]{escape(target)} {escape(step)}: cached[/]")
            return
        if self.console.color:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            if self._progress is None:
                self._progress = Progress(
                    TextColumn("  {task.description}"),
                    BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"),
                    console=self.console.rich,
                    transient=True,
                )
                self._progress.start()
            # The columns render markup, and write to the terminal past the Console's print.
            self._tasks[(target, step)] = self._progress.add_task(
                f"{escape(target)} {escape(step)}", total=1.0, info=""
            )
        else:
            self.console.print(f"  {escape(target)} {escape(step)}: running")
            self._last_plain[(target, step)] = time.monotonic()

    def _step_progress(
        self, target: str, step: str, fraction: float, fields: dict[str, Any]
    ) -> None:
        key = (target, step)
        if self._progress is not None and key in self._tasks:
            self._progress.update(
                self._tasks[key], completed=fraction, info=escape(_fields(fields))
            )
            return
        now = time.monotonic()
        if now - self._last_plain.get(key, 0.0) >= PLAIN_PROGRESS_EVERY_S:
            self._last_plain[key] = now
            self.console.print(
                f"  {escape(target)} {escape(step)}: {fraction:.0%} {escape(_fields(fields))}".rstrip()
            )

    def _step_finished(self, target: str, step: str, status: str, seconds: float) -> None:
        if status == "cached":
            return
        key = (target, step)
        if self._progress is not None and key in self._tasks:
            self._progress.remove_task(self._tasks.pop(key))
            if not self._tasks:
                self._progress.stop()
                self._progress = None
        colour = "green" if status == "ok" else "red"
        self.console.print(
            f"  {escape(target)} {escape(step)}: [{colour}]{status}[/] ({seconds:.1f} s)"
        )

    def _action_finished(self, outcome: ActionOutcome) -> None:
        headline = action_lines(outcome.action)[0]
        if outcome.status == "done":
            detail = f": {escape(outcome.message)}" if outcome.message else ""
            self.console.print(f"{headline}  [green]done[/]{detail}")
        else:
            colour = "red" if outcome.status == "failed" else "yellow"
            self.console.print(
                f"{headline}  [{colour}]{outcome.status}[/]: {escape(outcome.message)}"
            )
