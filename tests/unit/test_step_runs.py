"""A step subprocess: progress lines parsed as they arrive, the full log kept, a live log to
follow; and the apply reporter, which steps running in threads call at the same time."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Any

from mvctl.apply.processes import ProcessGroups
from mvctl.apply.steps import EXIT_CODE_NAME, LOG_NAME, run_step
from mvctl.core.plan import CreateModel
from mvctl.core.resolve import ResolvedStep
from mvctl.render.console import Console
from mvctl.render.progress import ApplyReporter
from mvctl.results.apply import ActionOutcome
from mvctl.store.blobs import LocalStore

# What a live progress display writes around its lines: colours, cursor moves, line erases.
ANSI_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

SCRIPT = r"""
import json, sys
print("plain text")
print('{"progress": 0.25, "epoch": 1, "loss": 0.5}')
print('{"progress": "half"}')
print('{"loss": 0.4}')
print('{"progress": 0.5, broken')
print(json.dumps({"progress": 1.0, "stage": "done"}))
print("to stderr", file=sys.stderr)
open(sys.argv[1], "w").write("out")
sys.exit(int(sys.argv[2]))
"""


def make_step(tmp_path: Path, exit_code: int) -> ResolvedStep:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    command = f'python {script} "$MVCTL_OUTPUT_DIR/result.txt" {exit_code}'
    return ResolvedStep(
        "train", "k" * 64, {"run": command, "params": {"lr": 0.1}}, (), ("result.txt",)
    )


def run(
    tmp_path: Path, exit_code: int
) -> tuple[Any, list[tuple[float, dict[str, Any]]], Path, LocalStore]:
    store = LocalStore(tmp_path / "store")
    progress: list[tuple[float, dict[str, Any]]] = []
    work = tmp_path / "work" / "step"
    processes = ProcessGroups()
    try:
        result = run_step(
            make_step(tmp_path, exit_code),
            root=tmp_path,
            work_dir=work,
            inputs={},
            store=store,
            labels={"model": "m", "version": "1"},
            on_progress=lambda fraction, fields: progress.append((fraction, fields)),
            processes=processes,
        )
    finally:
        processes.close()
    return result, progress, work, store


def test_progress_lines_are_parsed_and_everything_is_logged(tmp_path: Path) -> None:
    result, progress, work, store = run(tmp_path, 0)
    assert progress == [(0.25, {"epoch": 1, "loss": 0.5}), (1.0, {"stage": "done"})]
    assert result.succeeded and set(result.outputs) == {"result.txt"}
    log = store.get_bytes(result.log_digest).decode()
    assert log.startswith("plain text\n") and '"progress": "half"' in log and "to stderr" in log
    assert (work / EXIT_CODE_NAME).read_text() == "0"


def test_a_failed_step_keeps_its_live_log_and_exit_code(tmp_path: Path) -> None:
    result, _, work, _ = run(tmp_path, 3)
    assert result.exit_code == 3 and not result.succeeded and result.outputs == {}
    assert "to stderr" in (work / LOG_NAME).read_text()
    assert (work / EXIT_CODE_NAME).read_text() == "3"
    assert "to stderr" in result.log_tail


def test_the_reporter_takes_events_from_many_threads(tmp_path: Path) -> None:
    for color in (False, True):
        out = io.StringIO()
        reporter = ApplyReporter(Console(out, color=color))

        def one_step(index: int, reporter: ApplyReporter = reporter) -> None:
            name = f"step{index}"
            reporter.step_started("m@1", name, "run")
            for tick in range(50):
                reporter.step_progress("m@1", name, tick / 50, {"tick": tick})
            reporter.step_finished("m@1", name, "ok", 0.1)

        threads = [threading.Thread(target=one_step, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        reporter.action_finished(ActionOutcome(CreateModel("m"), "done"))
        lines = [ANSI_CONTROL.sub("", line) for line in out.getvalue().splitlines()]
        for index in range(8):
            assert sum(line.strip().startswith(f"m@1 step{index}: ok") for line in lines) == 1, (
                lines
            )
        assert reporter._progress is None and reporter._tasks == {}
