"""Run a step on any node of any Ray cluster, its inputs and outputs travelling through S3.

With an S3 store, a step's Ray task needs nothing of this machine: on its worker it makes a
scratch folder, downloads the step's kept dep files there at their project-relative paths
(the scratch project, where the step's command runs) and the upstream outputs where
``steps.prepare_work_dir`` would put them, runs the command with the environment local steps
get (MVCTL_PARAMS_FILE, MVCTL_INPUTS, MVCTL_OUTPUT_DIR, ...), and uploads the declared outputs
it wrote. Only declared deps exist there: a step that reads any other file of the project
fails on the worker with its own error, which its log shows.

The task gets the store's bucket, prefix, endpoint and encryption settings; the credentials
are the worker's own (its environment, its instance or pod role), never sent. Its output lines
travel back through a small relay actor (Ray Client, the `ray://` address, has no streaming
generators), batched; the task returns what it uploaded: each output's digest and size. The
apply process trusts none of it: the names must be exactly the declared outputs, each blob in
the store must hash to its reported digest and have its reported size, or the step fails and
a blob that does not match its name is removed. Only then is the result recorded, by the apply.

A stopped apply cancels the task: Ray interrupts it between two polls of its step's output,
and it stops the step's process group as local steps are stopped; if its worker dies instead,
the watchdog of ``apply/processes.py`` stops the group. A `timeout:` is kept on the worker.

The task and the relay are defined inside ``_ray_functions`` so that Ray ships them by value:
a worker without mvctl runs them, and the task reports that mvctl is missing instead of Ray
failing to unpickle a function it cannot import.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mvctl.apply.processes import Deadline, ProcessGroups
from mvctl.apply.steps import (
    LOG_NAME,
    ProgressCallback,
    StepResult,
    StoredInputs,
    command_of,
    report_progress,
    step_environment,
    store_log,
)
from mvctl.core.resolve import ResolvedStep
from mvctl.errors import DigestMismatchError, MvctlError, StepFailedError
from mvctl.spec.paths import output_name_problem
from mvctl.store.blobs import BlobStore, hex_of
from mvctl.store.s3 import S3Settings, S3Store

RELAY_POLL_S = 0.2
"""How often the task sends its step's new output lines, and the apply collects them."""
ONLY_DECLARED = (
    "--- mvctl: the step ran on a Ray worker, in a scratch copy of the project holding only "
    "its declared file deps and upstream outputs: a file it reads must be in its `deps:` ---\n"
)
PROTOCOL = 1
"""The shape of a task's payload and report; a worker with another mvctl refuses others."""


def task_payload(
    step: ResolvedStep, stored: StoredInputs, store: S3Store, labels: Mapping[str, str]
) -> dict[str, Any]:
    """What the worker needs, in plain values (unpickled on a worker that may lack mvctl).
    The store's settings carry no credentials: the worker has its own."""
    return {
        "protocol": PROTOCOL,
        "store": {"url": store.display, **asdict(store.settings)},
        "step": step.name,
        "definition": dict(step.definition),
        "params": step.params,
        "outputs": list(step.outputs),
        "timeout_s": step.execution.timeout_s,
        "labels": dict(labels),
        "files": dict(stored.files),
        "upstream": {name: dict(outputs) for name, outputs in stored.upstream.items()},
    }


def run_remotely(
    step: ResolvedStep,
    *,
    payload: dict[str, Any],
    options: dict[str, Any],
    relay: Any,
    work_dir: Path,
    store: BlobStore,
    on_progress: ProgressCallback,
    earlier_log: bytes,
    started_task: Any,
) -> StepResult:
    """Run the step's task, write its lines to the step's log as they come, and verify and
    record what it reports. ``started_task(ref)`` registers the task for cancelling."""
    import ray

    work_dir.mkdir(parents=True, exist_ok=True)
    task, _ = _ray_functions()
    key = uuid.uuid4().hex
    started = time.perf_counter()
    report: Any = None
    with (work_dir / LOG_NAME).open("wb", buffering=0) as log:
        log.write(earlier_log)
        ref = ray.remote(task).options(**options).remote(payload, relay, key)
        started_task(ref)
        try:
            while True:
                done, _ = ray.wait([ref], timeout=RELAY_POLL_S)
                for line in ray.get(relay.take.remote(key)):
                    if isinstance(line, bytes):
                        log.write(line)
                        report_progress(line, on_progress)
                if done:
                    break
            report = ray.get(ref)
        except ray.exceptions.RayError as error:  # cancelled, a lost worker or node
            log.write(f"--- mvctl: the Ray task ended: {error} ---\n".encode())
        finally:
            relay.forget.remote(key)
        problem = _report_problem(report)
        if problem is not None:
            log.write(f"--- mvctl: {problem} ---\n".encode())
        elif report is not None and report["exit_code"]:
            log.write(ONLY_DECLARED.encode())
    return _result(step, work_dir, store, report if problem is None else None, started)


def _report_problem(report: Any) -> str | None:
    """Why a report cannot be read as one (a worker without mvctl, one that failed before the
    step started), or None."""
    if report is None:
        return None
    if not isinstance(report, dict):
        return "the Ray task returned something that is not an mvctl step report"
    if report.get("error"):
        return str(report["error"])
    if not isinstance(report.get("exit_code"), int) or not isinstance(report.get("outputs"), dict):
        return "the Ray task's report is malformed"
    return None


def _result(
    step: ResolvedStep,
    work_dir: Path,
    store: BlobStore,
    report: dict[str, Any] | None,
    started: float,
) -> StepResult:
    """The step's result once its log is complete: a failure (the log says why) when there
    is no report; outputs only after they are verified."""
    duration = time.perf_counter() - started
    log_digest, tail = store_log(work_dir / LOG_NAME, store)
    if report is None:
        return StepResult(-9, {}, log_digest, tail, duration)
    exit_code, timed_out = report["exit_code"], bool(report.get("timed_out"))
    reported: dict[str, Any] = report["outputs"]
    missing = tuple(name for name in step.outputs if name not in reported)
    if exit_code or missing:
        return StepResult(exit_code, {}, log_digest, tail, duration, missing, timed_out)
    try:
        outputs = verify_outputs(step, reported, store)
    except MvctlError as refused:
        raise StepFailedError(
            f"step {step.name}: {refused.what}",
            {"step": step.name, "reason": "outputs refused", "log": log_digest, "log_tail": tail},
            fix=refused.fix,
        ) from refused
    return StepResult(exit_code, outputs, log_digest, tail, duration)


def verify_outputs(
    step: ResolvedStep, reported: Mapping[str, Any], store: BlobStore
) -> dict[str, str]:
    """The reported outputs (name -> {"digest", "size"}) as name -> digest, once each is
    checked against the store; raises, naming the output, when one is not what the worker
    said. A blob whose content does not match its name is removed, so no later put takes
    it for good."""
    names = set(reported)
    if names != set(step.outputs):
        extra = sorted(names - set(step.outputs))
        raise StepFailedError(
            f"the worker reported outputs {', '.join(map(repr, extra))} that the step does "
            f"not declare (it declares {', '.join(step.outputs)}); nothing was recorded",
            {"step": step.name, "reason": "outputs refused"},
            fix="Check the cluster's workers run the mvctl this apply runs.",
        )
    outputs = {}
    for name in step.outputs:
        entry = reported[name]
        digest = entry.get("digest") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not isinstance(size, int):
            raise StepFailedError(
                f"the worker's report of output {name!r} is malformed; nothing was recorded",
                {"step": step.name, "reason": "outputs refused"},
            )
        hex_of(digest)
        if not store.has(digest):
            raise DigestMismatchError(
                f"output {name!r} was reported as {digest}, which is not in the store "
                f"{store.display}; nothing was recorded",
                fix="Check the workers write to the same store as this apply.",
            )
        try:
            store.verify(digest)
        except DigestMismatchError as corrupt:
            store.delete(digest)
            raise DigestMismatchError(
                f"output {name!r} is not what the worker reported: {corrupt.what}; the blob was "
                "removed and nothing was recorded",
                fix="Find what else writes to the store's objects/ (only mvctl should), then "
                "apply again.",
            ) from corrupt
        if _stored_size(store, digest) != size:
            raise DigestMismatchError(
                f"output {name!r} was reported as {size} bytes, but its blob in the store "
                "has another size; nothing was recorded",
                fix="Check the cluster's workers run the mvctl this apply runs.",
            )
        outputs[name] = digest
    return outputs


def _stored_size(store: BlobStore, digest: str) -> int:
    if isinstance(store, S3Store):
        head = store.client.head_object(Bucket=store.bucket, Key=store.key(digest))
        return int(head["ContentLength"])
    return Path(store.location(digest)).stat().st_size


def new_relay() -> Any:
    """The apply's relay actor, holding no CPU: where tasks leave their output lines."""
    import ray

    _, relay = _ray_functions()
    return ray.remote(relay).options(num_cpus=0).remote()


def _ray_functions() -> tuple[Any, type]:
    """The task and the relay, defined here so that Ray ships them by value (see the module)."""

    class Relay:
        """Output lines by task, until the apply takes them."""

        def __init__(self) -> None:
            self.lines: dict[str, list[bytes]] = {}

        def put(self, key: str, lines: list[bytes]) -> None:
            self.lines.setdefault(key, []).extend(lines)

        def take(self, key: str) -> list[bytes]:
            return self.lines.pop(key, [])

        def forget(self, key: str) -> None:
            self.lines.pop(key, None)

    def run_mvctl_step(payload: dict[str, Any], relay: Any, key: str) -> dict[str, Any]:
        try:
            from mvctl.apply.ray_remote import run_on_worker
        except ImportError as error:
            import socket
            import sys

            return {
                "error": f"mvctl cannot be imported on the Ray worker {socket.gethostname()} "
                f"({sys.executable}): {error}. Install mvctl (with its s3 extra) in the "
                "cluster's image, or run the apply as a Ray job whose runtime_env installs it"
            }
        return run_on_worker(payload, relay, key)

    return run_mvctl_step, Relay


def run_on_worker(payload: dict[str, Any], relay: Any, key: str) -> dict[str, Any]:
    """The task's body on the worker: materialise the inputs, run, upload; the report."""
    if payload.get("protocol") != PROTOCOL:
        return {"error": "the Ray worker runs another version of mvctl than the apply"}
    scratch = Path(tempfile.mkdtemp(prefix="mvctl-step-"))
    lines = _Lines(relay, key)
    processes = ProcessGroups()
    try:
        store = _open_store(payload["store"])
        project = scratch / "project"
        project.mkdir()
        for path, digest in payload["files"].items():
            store.get_file(digest, _inside(project, path))
        inputs = {}
        for upstream, outputs in payload["upstream"].items():
            folder = scratch / "in" / upstream
            for name, digest in outputs.items():
                if output_name_problem(name) is not None:
                    raise StepFailedError(f"an input of the step is named {name!r}", {})
                store.get_file(digest, folder / name)
            inputs[upstream] = folder
        work_dir = scratch / "work"
        (work_dir / "out").mkdir(parents=True)
        definition = payload["definition"]
        env = step_environment(
            payload["step"],
            payload["params"],
            definition.get("with"),
            work_dir,
            inputs,
            payload["labels"],
        )
        exit_code, timed_out = _run(
            processes, command_of(definition), project, env, payload["timeout_s"], lines
        )
        uploaded = {}
        for name in payload["outputs"] if exit_code == 0 else ():
            path = work_dir / "out" / name
            if path.is_file():
                uploaded[name] = {"digest": store.put_file(path), "size": path.stat().st_size}
        lines.flush()
        return {"exit_code": exit_code, "timed_out": timed_out, "outputs": uploaded}
    except MvctlError as error:
        lines.flush()
        return {"error": f"on the Ray worker: {error.message}"}
    finally:
        processes.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _open_store(settings: dict[str, Any]) -> S3Store:
    fields = {name: value for name, value in settings.items() if name != "url"}
    return S3Store(settings["url"], S3Settings(**fields))


def _inside(project: Path, path: str) -> Path:
    problem = output_name_problem(path)
    if problem is not None:
        raise StepFailedError(f"a dep file of the step is at {path!r}, which {problem}", {})
    return project / path


def _run(
    processes: ProcessGroups,
    command: str | list[str],
    project: Path,
    env: dict[str, str],
    timeout_s: float | None,
    lines: _Lines,
) -> tuple[int, bool]:
    """Run the step's process in the scratch project, sending its lines; (exit code, timed
    out). Its output is read by a thread, so a cancel reaches this one between polls."""
    process = processes.start(
        command,
        shell=isinstance(command, str),
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = Deadline(process.pid, timeout_s) if timeout_s is not None else None
    read: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, read), daemon=True)
    reader.start()
    try:
        while (line := _next_line(read, lines)) is not None:
            lines.add(line)
        exit_code = process.wait()
    finally:
        if deadline is not None:
            deadline.cancel()
        processes.ended(process)
    return exit_code, deadline is not None and deadline.expired


def _read_lines(process: subprocess.Popen[bytes], read: queue.Queue[bytes | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        read.put(line)
    process.stdout.close()
    read.put(None)


def _next_line(read: queue.Queue[bytes | None], lines: _Lines) -> bytes | None:
    """The process's next line (None at its end); lines waiting meanwhile are sent."""
    while True:
        try:
            return read.get(timeout=RELAY_POLL_S)
        except queue.Empty:
            lines.send_due()


class _Lines:
    """A step's output lines on their way to the relay, sent at most every RELAY_POLL_S."""

    def __init__(self, relay: Any, key: str) -> None:
        self._relay = relay
        self._key = key
        self._pending: list[bytes] = []
        self._sent = time.monotonic()

    def add(self, line: bytes) -> None:
        self._pending.append(line)
        self.send_due()

    def send_due(self) -> None:
        if self._pending and time.monotonic() - self._sent >= RELAY_POLL_S:
            self._send()

    def flush(self) -> None:
        """Send what is left and wait until the relay holds every line, before the report."""
        import ray

        ray.get(self._send())

    def _send(self) -> Any:
        batch, self._pending = self._pending, []
        self._sent = time.monotonic()
        return self._relay.put.remote(self._key, batch)
