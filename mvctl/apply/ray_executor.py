"""Run steps as Ray tasks: `executor: {type: ray, address: ...}` or `apply --executor ray`.

The apply's one scheduler (``apply/pipeline.py``) still decides when a step runs; here a step
becomes a Ray task that holds the step's resources in the Ray cluster (num_cpus, num_gpus,
memory) and runs the step's process on a worker. The task streams the process's output back
line by line, so the step's log and progress read as with local processes; the apply process
puts the outputs and the log into the store and alone writes the state.

On a Ray whose every node is this machine, workers read the step's inputs and write its
outputs in the apply's work folder (the tasks are kept on this node). On any other Ray (a
multi-node cluster, a `ray://` client address) the inputs and outputs travel through the
store, which must then be an S3 store (``apply/ray_remote.py``); with a local store that
combination is refused before anything runs, saying so. Ctrl-C (or any end of the apply)
cancels the tasks and kills the steps' process groups (here the task reports its step's process
first: Ray's own cancel cannot interrupt a task blocked reading its step's output), as a
`timeout:` does. If the apply itself is killed, Ray ends its tasks and their processes. Ray is
imported here only, and only when this executor is chosen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from mvctl.apply import ray_remote
from mvctl.apply.processes import ProcessGroups, StepsStopped
from mvctl.apply.reaper import signal_group
from mvctl.apply.resources import Grant
from mvctl.apply.steps import (
    LOG_NAME,
    ProgressCallback,
    StepResult,
    StoredInputs,
    collect_result,
    prepare_work_dir,
    report_progress,
    step_command,
)
from mvctl.core.resolve import ResolvedStep
from mvctl.errors import MvctlError, StepFailedError
from mvctl.store.blobs import BlobStore
from mvctl.store.s3 import S3Store

LOCAL_RAY = "local"
"""The address that starts a Ray of its own for the apply, on this machine."""


class RayExecutorError(MvctlError):
    """The Ray executor cannot run here (Ray missing, unreachable or not on this machine)."""


def parse_executor(value: str) -> tuple[str, str | None]:
    """`local`, `ray` or `ray:ADDRESS` (from `apply --executor`) -> (type, address)."""
    kind, _, address = value.partition(":")
    if kind == "local" and not address:
        return "local", None
    if kind == "ray":
        return "ray", address or "auto"
    raise RayExecutorError(
        f"--executor {value!r} is neither local, ray nor ray:ADDRESS",
        fix="Use --executor local, --executor ray (the running Ray: address auto), "
        "--executor ray:local (a Ray started for this apply) or --executor ray:HOST:PORT.",
    )


class RaySteps:
    """The running Ray tasks of one apply; runs a step like ``steps.run_step`` does."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._started_ray = False
        self._lock = threading.Lock()
        self._tasks: dict[Any, _Running] = {}
        self._stopping = False
        self._node: str | None = None
        """This machine's node, where the tasks run when they share its files."""
        self._relay: Any = None
        """The relay of the tasks whose inputs and outputs travel through the S3 store."""

    @property
    def fetches_inputs(self) -> bool:
        """Whether the tasks fetch their inputs from the store on their workers."""
        return self._relay is not None

    def connect(self, store: BlobStore) -> None:
        """Join (or start) the Ray; steps run on this node with its files, or anywhere with
        an S3 store."""
        try:
            import ray
        except ImportError as error:
            raise RayExecutorError(
                "the Ray executor needs Ray, which is not installed",
                fix="pip install 'mvctl[ray]', or apply with --executor local.",
            ) from error
        client = self.address.startswith("ray://")
        if client and not isinstance(store, S3Store):
            raise _not_this_machine(self.address, "a ray:// client address", store)
        if not ray.is_initialized():
            try:
                if self.address == LOCAL_RAY:
                    ray.init(include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise RayExecutorError(
                    f"cannot connect to Ray at {self.address!r}: {str(error).splitlines()[0].rstrip('.')}",
                    fix="Start one with `ray start --head`, use --executor ray:local for a Ray of "
                    "the apply's own, or --executor local.",
                ) from error
            self._started_ray = True
        here = ray.get_runtime_context().get_node_id()
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        others = [n for n in nodes if n.get("Alive") and n.get("NodeID") != here]
        if isinstance(store, S3Store) and (client or others):
            self._relay = ray_remote.new_relay()
        elif others:
            self.close()
            raise _not_this_machine(self.address, f"a cluster of {len(others) + 1} nodes", store)
        else:
            self._node = here

    def close(self) -> None:
        """Leave the Ray if this apply started or joined it."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    def stop(self) -> None:
        """Start no new task and cancel the running ones (their step processes are killed)."""
        import ray

        with self._lock:
            self._stopping = True
            tasks = list(self._tasks.items())
        for task, running in tasks:
            ray.cancel(task)
            running.kill()

    def run_step(
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
    ) -> StepResult:
        """Run the step as a Ray task; the same contract as ``steps.run_step``."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        execution = step.execution
        options: dict[str, Any] = {
            "num_cpus": grant.cpus if grant is not None else execution.cpus or 1.0,
            "num_gpus": execution.gpus,
            "max_retries": 0,  # `retries:` is the scheduler's, with the attempts in the log
            "name": f"mvctl {labels['model']}@{labels['version']} {step.name}",
        }
        if execution.ray_train_workers:  # its workers hold the cores; holding one here could
            options.update(num_cpus=0, num_gpus=0)  # leave them none on a small Ray: deadlock
        if execution.memory:
            options["memory"] = execution.memory
        if self._relay is not None:
            assert stored is not None and isinstance(store, S3Store)
            return self._run_elsewhere(
                step, work_dir, store, labels, on_progress, processes, earlier_log, stored, options
            )
        assert self._node is not None, "connect() first"
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self._node, soft=False)
        env = prepare_work_dir(step, work_dir, inputs, labels)
        started = time.perf_counter()
        command = step_command(step)
        remote = ray.remote(run_on_worker).options(**options)
        with self._lock:
            if self._stopping or processes.stopping:
                raise StepsStopped("the apply is stopping its steps; no new step starts")
            task: Any = remote.remote(command, str(root), env)  # streams, as a generator
            running = self._tasks[task] = _Running()
        timer = _Timeout(running, execution.timeout_s)
        exit_code = -int(signal.SIGKILL)
        try:
            with (work_dir / LOG_NAME).open("wb", buffering=0) as log:
                log.write(earlier_log)
                for ref in task:
                    item = ray.get(ref)
                    if isinstance(item, bytes):
                        log.write(item)
                        report_progress(item, on_progress)
                    elif item[0] == "pid":
                        running.started(int(item[1]))
                    else:
                        exit_code = int(item[1])
        except ray.exceptions.RayError as error:  # cancelled, a lost worker, a failed task
            message = f"--- mvctl: the Ray task ended: {error} ---\n"
            with (work_dir / LOG_NAME).open("ab") as log:
                log.write(message.encode())
        finally:
            timer.cancel()
            with self._lock:
                self._tasks.pop(task, None)
        return collect_result(step, work_dir, store, exit_code, started, timed_out=timer.expired)

    def _run_elsewhere(
        self,
        step: ResolvedStep,
        work_dir: Path,
        store: S3Store,
        labels: Mapping[str, str],
        on_progress: ProgressCallback,
        processes: ProcessGroups,
        earlier_log: bytes,
        stored: StoredInputs,
        options: dict[str, Any],
    ) -> StepResult:
        """Run the step on any worker, its inputs and outputs travelling through the store."""
        import ray

        if stored.not_kept:
            raise StepFailedError(
                f"step {step.name} cannot run on a Ray worker: its dep "
                f"{', '.join(stored.not_kept)} is written with `snapshot: false`, so it is not "
                "in the store and no worker can have it",
                {"step": step.name, "reason": "dep not in the store"},
                fix="Remove `snapshot: false` from the dep, or apply with a Ray on this machine "
                "or --executor local.",
            )
        payload = ray_remote.task_payload(step, stored, store, labels)
        submitted: list[Any] = []

        def started_task(task: Any) -> None:
            submitted.append(task)
            with self._lock:
                self._tasks[task] = _Running()
                stopping = self._stopping
            if stopping:
                ray.cancel(task)

        with self._lock:
            if self._stopping or processes.stopping:
                raise StepsStopped("the apply is stopping its steps; no new step starts")
        try:
            return ray_remote.run_remotely(
                step,
                payload=payload,
                options=options,
                relay=self._relay,
                work_dir=work_dir,
                store=store,
                on_progress=on_progress,
                earlier_log=earlier_log,
                started_task=started_task,
            )
        finally:
            with self._lock:
                for task in submitted:
                    self._tasks.pop(task, None)


class _Running:
    """A task's step process group, once the task reports it; killed even if it comes later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pgid: int | None = None
        self._killed = False

    def started(self, pgid: int) -> None:
        with self._lock:
            self._pgid = pgid
            killed = self._killed
        if killed:
            signal_group(pgid, signal.SIGKILL)

    def kill(self) -> None:
        with self._lock:
            self._killed = True
            pgid = self._pgid
        if pgid is not None:
            signal_group(pgid, signal.SIGKILL)


class _Timeout:
    """Kills the step's process group at the step's `timeout:`."""

    def __init__(self, running: _Running, seconds: float | None) -> None:
        self.expired = False
        self._running = running
        self._timer = threading.Timer(seconds, self._expire) if seconds is not None else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        self._running.kill()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def run_on_worker(
    command: str | list[str], root: str, env: dict[str, str]
) -> Iterator[bytes | tuple[str, int]]:
    """The Ray task: run the step's process; yield ("pid", its process group), its output
    lines, then ("exit", its exit code).

    Its process group is killed however the task ends, cancellation included."""
    import ray

    gpus = ray.get_gpu_ids()
    env = {**env, "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpus)} if gpus else env
    env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address  # Ray Train steps join this Ray
    process = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        yield ("pid", process.pid)
        assert process.stdout is not None
        for line in process.stdout:  # noqa: UP028 (Ray resumes generators by send(); files lack it)
            yield line
        process.stdout.close()
        yield ("exit", process.wait())
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _not_this_machine(address: str, what: str, store: BlobStore) -> RayExecutorError:
    return RayExecutorError(
        f"the Ray at {address!r} is {what}, whose workers cannot read or write the local store "
        f"{store.display} nor this machine's work folder, so steps cannot run there with it",
        fix="Use an S3 store (`store: s3://BUCKET/PREFIX` or MVCTL_STORE), through which the "
        "workers fetch inputs and put outputs; or apply with a Ray on this machine "
        "(--executor ray:local) or --executor local.",
    )
