"""Run one pipeline step as a subprocess and put its outputs and log into the store.

The step runs in the project root (so `python steps/prepare.py` works as written), in a
process group of its own that never outlives the apply (``apply/processes.py``), with its
params (a file, and inline when small), upstream inputs and an empty output folder handed
over through environment variables (see ``mvctl.step``). Its stdout and stderr are kept as
the run's log; JSON lines carrying `progress` are passed to the caller as they arrive.

While it runs, the log is written line by line to ``log.txt`` in its work folder, so
`mvctl logs --follow` can tail it; ``exit_code`` appears beside it when the process ends. The
work folder stays for the caller to remove (a failed step's is kept for inspection).

A step runs within what its apply granted it (``apply/resources.py``): its thread pools
(OpenMP, MKL, OpenBLAS) sized to its cores unless the environment sizes them already, and only
its GPUs visible. With a `timeout:`, its process group is stopped when the time is up. A run
that retries an earlier one starts its log with the earlier runs' logs, so the log keeps
every attempt.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mvctl import faults
from mvctl.apply.processes import Deadline, ProcessGroups
from mvctl.apply.resources import Grant
from mvctl.core.resolve import ResolvedStep
from mvctl.store.blobs import BlobStore

ProgressCallback = Callable[[float, dict[str, Any]], None]
LOG_TAIL_LINES = 20
LOG_NAME = "log.txt"
EXIT_CODE_NAME = "exit_code"
INLINE_PARAMS_LIMIT = 64 * 1024
"""Params up to this many bytes of JSON are also handed over inline in MVCTL_PARAMS; larger
ones only by file: Linux refuses to start a process with a variable over 128 KiB."""


@dataclass(frozen=True)
class StepResult:
    """What a finished step left: its outputs (name -> digest), its log, how it ended."""

    exit_code: int
    outputs: Mapping[str, str]
    log_digest: str
    log_tail: str
    duration_s: float
    missing_outputs: tuple[str, ...] = ()
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.missing_outputs


@dataclass(frozen=True)
class StoredInputs:
    """A step's inputs as the store holds them, for a runner that fetches them itself on
    another machine (the Ray executor with an S3 store)."""

    upstream: Mapping[str, Mapping[str, str]]
    """Each upstream step's outputs: step -> output name -> digest."""
    files: Mapping[str, str]
    """The kept files of the step's file deps: path relative to the project root -> digest."""
    not_kept: tuple[str, ...] = ()
    """File deps written with `snapshot: false`: not in the store, so not to be had elsewhere."""


class StepRunner(Protocol):
    """Runs one step's process to its end: ``run_step`` here, or ``RaySteps.run_step``."""

    def __call__(
        self,
        step: ResolvedStep,
        *,
        root: Path,
        work_dir: Path,
        inputs: Mapping[str, Path],
        store: BlobStore,
        labels: Mapping[str, str],
        on_progress: ProgressCallback,
        processes: ProcessGroups,
        grant: Grant | None = None,
        earlier_log: bytes = b"",
        stored: StoredInputs | None = None,
    ) -> StepResult: ...


def step_command(step: ResolvedStep) -> str | list[str]:
    """The shell command of a `run:` step, or the built-in trainer's module invocation."""
    return command_of(step.definition)


def command_of(definition: Mapping[str, Any]) -> str | list[str]:
    """``step_command`` from a step's definition alone (on a Ray worker, this interpreter)."""
    if "run" in definition:
        command: str = definition["run"]
        return command
    return [sys.executable, "-m", f"mvctl.apply.{definition['uses']}_trainer"]


def run_step(
    step: ResolvedStep,
    *,
    root: Path,
    work_dir: Path,
    inputs: Mapping[str, Path],
    store: BlobStore,
    labels: Mapping[str, str],
    on_progress: ProgressCallback,
    processes: ProcessGroups,
    grant: Grant | None = None,
    earlier_log: bytes = b"",
    stored: StoredInputs | None = None,
) -> StepResult:
    """Run the step to completion; never raises for a failing step, only for I/O errors
    (and ``StepsStopped`` once its apply is stopping). A step stopped by a signal ends with
    the negative signal number as its exit code, like any process killed by one."""
    env = prepare_work_dir(step, work_dir, inputs, labels)
    log_path = work_dir / LOG_NAME
    if grant is not None:
        env.update(_granted_environment(grant))
    started = time.perf_counter()
    command = step_command(step)
    timeout_s = step.execution.timeout_s
    deadline: Deadline | None = None
    with log_path.open("wb", buffering=0) as log:
        log.write(earlier_log)
        process = processes.start(
            command,
            shell=isinstance(command, str),
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        if timeout_s is not None:
            deadline = Deadline(process.pid, timeout_s)
        try:
            assert process.stdout is not None
            faults.reached("step_running")
            for raw in process.stdout:
                log.write(raw)
                report_progress(raw, on_progress)
            process.stdout.close()
            exit_code = process.wait()
        finally:
            if deadline is not None:
                deadline.cancel()
            processes.ended(process)
    timed_out = deadline is not None and deadline.expired
    return collect_result(step, work_dir, store, exit_code, started, timed_out=timed_out)


def prepare_work_dir(
    step: ResolvedStep, work_dir: Path, inputs: Mapping[str, Path], labels: Mapping[str, str]
) -> dict[str, str]:
    """An empty work folder with its output folder; returns the step's environment."""
    out_dir = work_dir / "out"
    if work_dir.exists():
        shutil.rmtree(work_dir)
    out_dir.mkdir(parents=True)
    settings = step.definition.get("with")
    return step_environment(step.name, step.params, settings, work_dir, inputs, labels)


def collect_result(
    step: ResolvedStep,
    work_dir: Path,
    store: BlobStore,
    exit_code: int,
    started: float,
    *,
    timed_out: bool,
) -> StepResult:
    """Once the step's process ended: its outputs and log into the store, how it went."""
    out_dir = work_dir / "out"
    log_path = work_dir / LOG_NAME
    (work_dir / EXIT_CODE_NAME).write_text(str(exit_code), "utf-8")
    faults.reached("step_exited")
    duration = time.perf_counter() - started
    missing = tuple(name for name in step.outputs if not (out_dir / name).is_file())
    outputs = (
        {}
        if exit_code or missing
        else {name: store.put_file(out_dir / name) for name in step.outputs}
    )
    log_digest, tail = store_log(log_path, store)
    return StepResult(exit_code, outputs, log_digest, tail, duration, missing, timed_out)


def store_log(log_path: Path, store: BlobStore) -> tuple[str, str]:
    """Put a step's log into the store: (its digest, its last lines)."""
    log_digest = store.put_bytes(log_path.read_bytes())
    tail = "\n".join(log_path.read_text("utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:])
    return log_digest, tail


def step_environment(
    name: str,
    params: Any,
    settings: Any,
    work_dir: Path,
    inputs: Mapping[str, Path],
    labels: Mapping[str, str],
) -> dict[str, str]:
    """The environment of step ``name`` run from ``work_dir`` (its outputs go to ``out``
    inside); params and trainer settings (`with:`, None when absent) are written beside it."""
    out_dir = work_dir / "out"
    env = dict(os.environ)
    interpreter_dir = str(Path(sys.executable).parent)
    env["PATH"] = interpreter_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    params_json = json.dumps(params, sort_keys=True)
    params_file = work_dir / "params.json"
    params_file.write_text(params_json, "utf-8")
    env["MVCTL_PARAMS_FILE"] = str(params_file)
    if len(params_json.encode()) <= INLINE_PARAMS_LIMIT:
        env["MVCTL_PARAMS"] = params_json
    env["MVCTL_OUTPUT_DIR"] = str(out_dir)
    env["MVCTL_INPUTS"] = json.dumps({name: str(path) for name, path in inputs.items()})
    env["MVCTL_STEP"] = name
    env["MVCTL_MODEL"] = labels["model"]
    env["MVCTL_VERSION"] = labels["version"]
    if settings is not None:
        settings_file = work_dir / "with.json"
        settings_file.write_text(json.dumps(settings, sort_keys=True), "utf-8")
        env["MVCTL_WITH_FILE"] = str(settings_file)
    return env


THREAD_POOL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _granted_environment(grant: Grant) -> dict[str, str]:
    """Thread pools sized to the granted cores (unless already set), the granted GPUs only."""
    threads = str(max(1, math.ceil(grant.cpus)))
    env = {name: threads for name in THREAD_POOL_VARIABLES if name not in os.environ}
    if grant.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(grant.gpus)
    return env


def report_progress(raw: bytes, on_progress: ProgressCallback) -> None:
    line = raw.strip()
    if not line.startswith(b"{") or b"progress" not in line:
        return
    try:
        message = json.loads(line)
        fraction = float(message.pop("progress"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    on_progress(fraction, message)
