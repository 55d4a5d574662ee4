"""Running mvctl inside the test process: faster than a subprocess where no process must die.

``run_cli`` calls the real entry point (``mvctl.cli.main``) with argv, capturing what it
writes and the exit code it ends with; ``apply_here`` and ``revert_here`` call the ops the
commands call, for tests that look at the result objects.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from mvctl.cli import main
from mvctl.ops.apply import ApplyOptions, apply
from mvctl.ops.revert import RevertOptions, revert
from mvctl.ops.revert_settings import revert_settings
from mvctl.results.apply import ApplyResult
from mvctl.results.revert import RevertResult
from mvctl.workspace import load_workspace
from tests.functional.projects import Result


class StepRecorder:
    """Apply events, keeping which steps really ran; other events are ignored."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []

    def step_started(self, target: str, step: str, status: str) -> None:
        if status == "run":
            self.ran.append((target, step))

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def run_cli(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """`mvctl ARGV` in this process: its exit code and output (SystemExit caught). Its stdin
    is empty and no terminal, as in CI, even under `pytest -s`; it runs in ``cwd`` with
    ``env`` as its whole environment when given, and the working folder and environment are
    put back afterwards (also when it changed them itself: `-C DIR`)."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    stdin, sys.stdin = sys.stdin, io.StringIO()
    folder = os.getcwd()
    environment = dict(os.environ)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            main(list(argv))
    except SystemExit as done:
        code = done.code
    finally:
        sys.stdin = stdin
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environment)
    return Result(code if isinstance(code, int) else 1, out.getvalue(), err.getvalue())


def apply_here(root: Path, **options: Any) -> ApplyResult:
    return apply(
        load_workspace(root / "mvctl.yaml"),
        ApplyOptions(auto_approve=True, **options),
        confirm=lambda plan: True,
        events=StepRecorder(),
    )


def revert_here(root: Path, **options: Any) -> RevertResult:
    return revert(
        revert_settings(root / "mvctl.yaml"),
        RevertOptions(auto_approve=True, **options),
        confirm=lambda outline: True,
    )
