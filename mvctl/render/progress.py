"""Apply's live feedback: a progress bar per running step on a terminal, plain lines in CI.

Independent steps run in threads, so every event takes the reporter's lock: one bar or line is
changed at a time, and a line printed by one step never interleaves with another's.

In plain output (CI logs) versions train at once, yet a reader follows one version at a time,
so a version's lines stay together, as `make --output-sync` keeps a target's: one version
streams live (the first to start), and every line starts with its MODEL@VERSION; the others'
lines are held and printed as one block when that version's training ends, or when it becomes
the live one. A CI log thus always shows progress, and a failed version's story reads in one
piece right above its result line.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from mvctl.core.plan import TrainVersion
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
        self._live: str | None = None
        """The version whose plain lines are printed as they come."""
        self._held: dict[str, list[str]] = {}
        """The other versions' plain lines, oldest version first."""
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
            action = outcome.action
            target = f"{action.model}@{action.label}" if isinstance(action, TrainVersion) else ""
            if target and target != self._live:
                self._print_held(target)  # its block, right above its result
            self._action_finished(outcome)
            if target == self._live:
                self._version_done(target)

    def close(self) -> None:
        """Print the lines still held (an apply that stopped before its versions ended)."""
        with self._lock:
            for target in list(self._held):
                self._version_done(target)
            self._version_done(self._live or "")

    def _plain(self, target: str, line: str, *, progress: bool = False) -> None:
        """Print a version's line now if it is the live one, else hold it (progress lines of a
        held version are dropped: they are stale by the time its block prints)."""
        if self._live is None:
            self._live = target
            self._print_held(target)
        if target == self._live:
            self.console.print(line)
        elif not progress:
            self._held.setdefault(target, []).append(line)

    def _version_done(self, target: str) -> None:
        """The version ended: print its held block; the oldest held version goes live."""
        if target != self._live:
            self._print_held(target)
            return
        self._live = None
        if self._held:
            self._live = next(iter(self._held))
            self._print_held(self._live)

    def _print_held(self, target: str) -> None:
        for line in self._held.pop(target, ()):
            self.console.print(line)

    def _step_started(self, target: str, step: str, status: str) -> None:
        if status == "cached":
            line = f"  [dim]{escape(target)} {escape(step)}: cached[/]"
            if self.console.color:
                self.console.print(line)
            else:
                self._plain(target, line)
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
            self._plain(target, f"  {escape(target)} {escape(step)}: running")
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
            self._plain(
                target,
                f"  {escape(target)} {escape(step)}: {fraction:.0%} {escape(_fields(fields))}".rstrip(),
                progress=True,
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
        colour = {"ok": "green", "retry": "yellow"}.get(status, "red")
        line = f"  {escape(target)} {escape(step)}: [{colour}]{status}[/] ({seconds:.1f} s)"
        if self.console.color:
            self.console.print(line)
        else:
            self._plain(target, line)

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
