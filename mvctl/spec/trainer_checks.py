"""Meaning checks of a `uses: torch` step: what the schema accepts but the trainer cannot do.

The torch trainer needs a module class to build (``with.module``, an import path), may take its
constructor arguments, a task, a data file name, a device and data-parallel training (processes
on this machine, or Ray Train workers under the Ray executor); its params are the training
loop's. A typo in any of them would otherwise surface only in the step's log, after
apply has started, so ``mvctl validate`` and every plan report them with the place and fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Protocol

from mvctl.spec.models import Step
from mvctl.spec.positions import NodePath

TORCH_TASKS = ("classification", "regression")
TORCH_PARAMS = ("batch_size", "epochs", "lr", "momentum", "optimizer", "seed", "weight_decay")
TORCH_WITH = ("data", "device", "distributed", "module", "module_args", "task", "threads")
TORCH_DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "sgd")
DISTRIBUTED_KEYS = ("cpus_per_worker", "gpus_per_worker", "nproc", "workers")
MAX_WORKERS = 1024
MAX_GPUS_PER_WORKER = 16
COUNT_EXAMPLES = {"nproc": 2, "workers": 2, "gpus_per_worker": 1}
_DOTTED_IMPORT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class Reporter(Protocol):
    def error(
        self, path: NodePath, what: str, fix: str | None = None, *, value: bool = False
    ) -> None: ...


def check_torch_step(step: Step, path: NodePath, at: Reporter) -> None:
    settings = step.with_
    module = settings.get("module")
    example = "with: {module: mypkg.nets.Net, task: classification}"
    if module is None:
        at.error(
            path,
            "the torch trainer needs 'with.module', the import path of a torch.nn.Module class",
            f"Add '{example}'.",
        )
    elif not isinstance(module, str) or not _DOTTED_IMPORT.match(module):
        at.error(
            (*path, "with", "module"),
            f"module {module!r} is not a dotted import path",
            f"Write the module and the class, as in '{example}'.",
            value=True,
        )
    for key in sorted(set(settings) - set(TORCH_WITH)):
        at.error(
            (*path, "with", key),
            f"the torch trainer has no setting '{key}'",
            _suggest(key, TORCH_WITH),
        )
    if not isinstance(settings.get("module_args", {}), dict):
        at.error(
            (*path, "with", "module_args"),
            "module_args must map constructor arguments to values",
            "Write it as 'module_args: {hidden: 64}'.",
            value=True,
        )
    task = settings.get("task", "classification")
    if task not in TORCH_TASKS:
        at.error(
            (*path, "with", "task"),
            f"task {task!r} is neither classification nor regression",
            "Use classification (cross-entropy) or regression (mean squared error).",
            value=True,
        )
    device = settings.get("device", "auto")
    if device not in TORCH_DEVICES:
        at.error(
            (*path, "with", "device"),
            f"device {device!r} is not auto, cpu or cuda",
            "Use auto (CUDA when present, else the CPU), cpu or cuda.",
            value=True,
        )
    if "distributed" in settings:
        _check_distributed(step, settings["distributed"], path, at)
    threads = settings.get("threads", 1)
    if type(threads) is not int or threads < 1:
        at.error(
            (*path, "with", "threads"),
            f"threads {threads!r} is not a whole number >= 1",
            "Write e.g. 'threads: 2' (torch threads per training process; default 1).",
            value=True,
        )
    for key in sorted(set(step.params) - set(TORCH_PARAMS)):
        at.error(
            (*path, "params", key),
            f"the torch trainer takes no param '{key}'",
            _suggest(key, TORCH_PARAMS),
        )
    optimizer = step.params.get("optimizer", "adam")
    if optimizer not in OPTIMIZERS:
        at.error(
            (*path, "params", "optimizer"),
            f"optimizer {optimizer!r} is neither adam nor sgd",
            "Use adam or sgd.",
            value=True,
        )


def _check_distributed(step: Step, value: object, path: NodePath, at: Reporter) -> None:
    """`{nproc: N}` (processes on this machine) or `{workers: N, gpus_per_worker: G,
    cpus_per_worker: C}` (Ray Train workers, under the Ray executor), never both."""
    where = (*path, "with", "distributed")
    if not isinstance(value, dict) or not ({"nproc", "workers"} & set(value)):
        at.error(
            where,
            "distributed must be {nproc: N} (N processes on this machine) or {workers: N} "
            "(N Ray Train workers on the Ray cluster)",
            "Write it as 'distributed: {nproc: 2}' or 'distributed: {workers: 2, gpus_per_worker: 1}'.",
            value=not isinstance(value, dict),
        )
        return
    for key in sorted(set(value) - set(DISTRIBUTED_KEYS)):
        at.error(
            (*where, key), f"distributed has no setting '{key}'", _suggest(key, DISTRIBUTED_KEYS)
        )
    if "nproc" in value:
        if "workers" in value:
            at.error(
                where,
                "distributed takes nproc (processes on this machine) or workers (Ray Train "
                "workers on the Ray cluster), not both",
                "Keep 'nproc' to train on one machine, or 'workers' to train on the Ray cluster.",
            )
        for key in sorted({"gpus_per_worker", "cpus_per_worker"} & set(value)):
            at.error(
                (*where, key),
                f"{key} goes with workers (Ray Train); nproc processes take one core each, or "
                "one GPU each on CUDA",
                f"Remove '{key}', or train on the Ray cluster with 'workers:'.",
            )
    _check_count(value, "nproc", 1, MAX_WORKERS, where, at)
    _check_count(value, "workers", 1, MAX_WORKERS, where, at)
    _check_count(value, "gpus_per_worker", 0, MAX_GPUS_PER_WORKER, where, at)
    cpus = value.get("cpus_per_worker", 1)
    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or not 0 < cpus <= MAX_WORKERS:
        at.error(
            (*where, "cpus_per_worker"),
            f"cpus_per_worker {cpus!r} is not a number of cores above 0 and at most {MAX_WORKERS}",
            "Write e.g. 'cpus_per_worker: 2' (cores each Ray Train worker holds; default 1).",
            value=True,
        )
    if "workers" in value:
        _check_worker_device(step, value, where, path, at)


def _check_count(
    value: dict[str, object], key: str, least: int, most: int, where: NodePath, at: Reporter
) -> None:
    count = value.get(key, least)
    if type(count) is not int or not least <= count <= most:
        at.error(
            (*where, key),
            f"{key} {count!r} is not a whole number from {least} to {most}",
            f"Write e.g. '{key}: {COUNT_EXAMPLES[key]}'.",
            value=True,
        )


def _check_worker_device(
    step: Step, value: dict[str, object], where: NodePath, path: NodePath, at: Reporter
) -> None:
    """Ray gives each worker its GPUs: the device follows `gpus_per_worker`; and the
    workers, not the step's own task, hold the cores and GPUs."""
    gpus = value.get("gpus_per_worker", 0)
    device = step.with_.get("device", "auto")
    if device == "cpu" and type(gpus) is int and gpus > 0:
        at.error(
            (*where, "gpus_per_worker"),
            f"device is cpu, but each worker asks for {gpus} GPU(s) it would not use",
            "Remove gpus_per_worker, or set device: auto or cuda.",
        )
    if device == "cuda" and gpus == 0:
        at.error(
            (*path, "with", "device"),
            "device is cuda, but the Ray Train workers ask for no GPU (gpus_per_worker: 0), "
            "so Ray gives them none",
            "Add 'gpus_per_worker: 1' to distributed, or use device: auto.",
            value=True,
        )
    for key, held in (("cpus", "cores"), ("gpus", "GPUs")):
        if getattr(step.resources, key) is not None:
            at.error(
                (*path, "resources", key),
                f"the Ray Train workers of this step hold its {held}; the step's own "
                f"task holds none, so resources.{key} would do nothing",
                f"Remove resources.{key} and set distributed.{key}_per_worker.",
            )


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1)
    listed = ", ".join(f"'{option}'" for option in options)
    return f"Did you mean '{close[0]}'?" if close else f"It takes {listed}."
