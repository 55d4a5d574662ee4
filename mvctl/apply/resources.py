"""What this machine has, and the slots that keep the steps running at once within it.

Every step of every version in an apply asks the one ``ResourcePool`` of its apply before its
process starts: it gets its cores, memory and GPUs only when they fit beside the steps already
running and fewer than `--parallel N` steps run, and gives them back when it ends. Requests are
served in the order they came, so a large step is never starved by a stream of small ones.
A step that asks more than the machine has could never start: apply refuses it before it
begins (``resource_errors``), naming the step and its place in the config.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mvctl.core.resolve import ResolvedStep, ResolvedVersion, StepExecution
from mvctl.errors import SpecError
from mvctl.spec.loader import LoadedConfig
from mvctl.spec.quantities import format_size


@dataclass(frozen=True)
class Machine:
    """What steps may use here: the cores this process may run on, the memory, the GPUs."""

    cpus: int
    memory: int
    """Bytes of physical memory (0: unknown, then memory requests are not bounded)."""
    gpus: tuple[str, ...]
    """The GPU ids steps may be given (CUDA_VISIBLE_DEVICES values)."""

    @classmethod
    def this(cls) -> Machine:
        return cls(_cpus(), _memory(), _gpus())


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _memory() -> int:
    """MemTotal from /proc/meminfo on Linux, else psutil's total when it is installed."""
    try:
        for line in Path("/proc/meminfo").read_text("ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        return 0
    return int(psutil.virtual_memory().total)


def _gpus() -> tuple[str, ...]:
    """CUDA_VISIBLE_DEVICES when set (what this process was given), else the NVIDIA devices
    the driver lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1")
    listed = Path("/proc/driver/nvidia/gpus")
    try:
        return tuple(str(i) for i in range(len(list(listed.iterdir()))))
    except OSError:
        return ()


@dataclass(frozen=True)
class Grant:
    """What one running step holds."""

    cpus: float
    memory: int
    gpus: tuple[str, ...]


class ResourcePool:
    """The cores, memory, GPUs and step slots of one apply, shared by all its steps."""

    def __init__(self, machine: Machine, parallel: int) -> None:
        self.machine = machine
        self.parallel = max(1, parallel)
        self._changed = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = 0
        self._cpus = 0.0
        self._memory = 0
        self._free_gpus = list(machine.gpus)

    def cpus_for(self, execution: StepExecution) -> float:
        """The cores a run holds: what it asks, never more than the machine has."""
        return min(execution.cpus or self.machine.cpus, float(self.machine.cpus))

    @contextmanager
    def hold(self, execution: StepExecution) -> Iterator[Grant]:
        """Wait until the step fits, hold its share while the block runs, then give it back."""
        grant = self._acquire(execution)
        try:
            yield grant
        finally:
            self._release(grant)

    def _acquire(self, execution: StepExecution) -> Grant:
        cpus = self.cpus_for(execution)
        memory = execution.memory if self.machine.memory else 0
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            try:
                while not (self._queue[0] is ticket and self._fits(cpus, memory, execution.gpus)):
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()
            self._running += 1
            self._cpus += cpus
            self._memory += memory
            gpus = tuple(self._free_gpus[: execution.gpus])
            del self._free_gpus[: execution.gpus]
        return Grant(cpus, memory, gpus)

    def _fits(self, cpus: float, memory: int, gpus: int) -> bool:
        if self._running >= self.parallel:
            return False
        if self._running and self._cpus + cpus > self.machine.cpus + 1e-9:
            return False
        if self._running and memory and self._memory + memory > self.machine.memory:
            return False
        return gpus <= len(self._free_gpus)

    def _release(self, grant: Grant) -> None:
        with self._changed:
            self._running -= 1
            self._cpus -= grant.cpus
            self._memory -= grant.memory
            self._free_gpus.extend(grant.gpus)
            self._changed.notify_all()


def resource_errors(
    loaded: LoadedConfig, versions: Iterable[ResolvedVersion], machine: Machine
) -> list[SpecError]:
    """A SpecError for each step that asks more than ``machine`` has, at its `resources:`."""
    errors: dict[tuple[str, str], SpecError] = {}
    for version in versions:
        model = loaded.config.models[version.model]
        index = {step.name: i for i, step in enumerate(model.pipeline)}
        for step in version.steps:
            problem = too_much(step.execution, machine)
            if problem is None or (version.model, step.name) in errors:
                continue
            path = ("models", version.model, "pipeline", index[step.name], "resources")
            errors[(version.model, step.name)] = SpecError(
                f"step {step.name} of model {version.model} asks for {problem}",
                place=loaded.positions.place(path),
                fix="Lower the step's `resources` to fit this machine, or apply on a machine "
                "that has them.",
            )
    return list(errors.values())


def too_much(execution: StepExecution, machine: Machine) -> str | None:
    """What ``execution`` asks beyond ``machine``, in words; None when it fits."""
    if execution.cpus_declared and execution.cpus is not None and execution.cpus > machine.cpus:
        return f"{execution.cpus:g} cores; this machine has {machine.cpus}"
    if machine.memory and execution.memory > machine.memory:
        return (
            f"{format_size(execution.memory)} of memory; this machine has "
            f"{format_size(machine.memory)}"
        )
    if execution.gpus > len(machine.gpus):
        return f"{execution.gpus} GPU(s); this machine has {len(machine.gpus)}"
    return None


def ray_train_errors(
    loaded: LoadedConfig, steps: Iterable[tuple[str, ResolvedStep]]
) -> list[SpecError]:
    """A SpecError for each step that trains on Ray Train workers (a torch step's
    `distributed.workers`), for an apply whose executor is local: they need a Ray cluster."""
    errors: dict[tuple[str, str], SpecError] = {}
    for model_name, step in steps:
        if not step.execution.ray_train_workers or (model_name, step.name) in errors:
            continue
        index = [s.name for s in loaded.config.models[model_name].pipeline].index(step.name)
        path = ("models", model_name, "pipeline", index, "with", "distributed", "workers")
        errors[(model_name, step.name)] = SpecError(
            f"step {step.name} of model {model_name} trains on {step.execution.ray_train_workers} "
            "Ray Train workers, which need the Ray executor, but this apply runs its steps "
            "on this machine",
            place=loaded.positions.place(path),
            field=f"models.{model_name}.pipeline[{index}].with.distributed.workers",
            fix="Apply with `--executor ray` (or `executor: {type: ray}` in mvctl.yaml), or "
            "train on this machine with `distributed: {nproc: N}`.",
        )
    return list(errors.values())
