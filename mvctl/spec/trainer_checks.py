"""Meaning checks of a `uses: torch` step: what the schema accepts but the trainer cannot do.

The torch trainer needs a module class to build (``with.module``, an import path), may take its
constructor arguments, a task, a data file name, a device and a process count; its params are the
training loop's. A typo in any of them would otherwise surface only in the step's log, after
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
    if "distributed" in settings and not _valid_distributed(settings["distributed"]):
        at.error(
            (*path, "with", "distributed"),
            "distributed must be {nproc: N} with N a whole number >= 1",
            "Write it as 'distributed: {nproc: 2}'.",
            value=True,
        )
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


def _valid_distributed(value: object) -> bool:
    if not isinstance(value, dict) or set(value) != {"nproc"}:
        return False
    nproc = value["nproc"]
    return type(nproc) is int and nproc >= 1


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1)
    listed = ", ".join(f"'{option}'" for option in options)
    return f"Did you mean '{close[0]}'?" if close else f"It takes {listed}."
