"""The built-in `uses: torch` trainer, run as a step subprocess like any other.

It builds the ``torch.nn.Module`` named by ``with.module`` (an import path resolved from the
project root, with ``with.module_args`` as keyword arguments), trains it on the upstream
step's NPZ data (``X_train``/``y_train``, or ``X``/``y``; ``with.data`` names the file) with a
standard loop, reports progress and the mean loss per epoch, and saves the weights with
safetensors, the module's recipe in the metadata (see ``torch_model``). Never pickle.

Params: ``optimizer`` (adam | sgd), ``lr``, ``epochs``, ``batch_size``, ``seed``, and
``weight_decay`` / ``momentum``. ``with.task`` is classification (cross-entropy; the default)
or regression (mean squared error). A classifier's labels may be any values (text included):
output column i stands for the i-th label in sorted order, recorded in the file's metadata;
labels that are already column numbers (0 <= label < outputs) keep them. ``with.threads`` sets torch's
threads per process (default 1: the small networks steps train are slower with more, and
independent steps and versions share the CPUs).

``with.device`` is auto (the default: CUDA when torch finds enough CUDA devices, else the
CPU), cpu or cuda; cuda where torch finds no CUDA device fails the step with that reason rather
than training somewhere slower than asked.

``with: {distributed: {nproc: N}}`` trains data-parallel in N processes through
torch.distributed, with the backend that fits the device (nccl on CUDA, one GPU per process;
gloo on the CPU): each process sees its shard of every epoch (DistributedSampler) and gradients
are averaged (DistributedDataParallel); rank 0 reports progress and saves.

``with: {distributed: {workers: N, gpus_per_worker: G, cpus_per_worker: C}}`` runs the same
loop on N Ray Train workers (``torch_ray_train``) of the Ray cluster the step's task runs in,
under the Ray executor: nccl on the GPUs Ray gives each worker when G > 0, gloo on the CPU
otherwise. The step writes the weights rank 0 sends, once every rank reported the same ones.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from mvctl import step
from mvctl.apply.torch_model import (
    TASKS,
    ModuleRecipe,
    build_module,
    load_torch_model,
    save_torch_model,
    torch_model_bytes,
    weights_digest,
)
from mvctl.apply.torch_ray_train import (
    RayTrainError,
    RayTrainWorkers,
    importable_source,
    train_on_workers,
)
from mvctl.errors import MvctlError

__all__ = ["Recipe", "load_torch_model", "main"]

DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "epochs": 10,
    "batch_size": 32,
    "seed": 0,
    "weight_decay": 0.0,
    "momentum": 0.0,
}
OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")
OUTPUT = "model.safetensors"


def _fail(message: str) -> SystemExit:
    return SystemExit(f"mvctl torch trainer: {message}")


@dataclass(frozen=True)
class Recipe:
    """Everything one training process needs; plain values, so it crosses a process spawn."""

    module: ModuleRecipe
    params: dict[str, Any]
    nproc: int
    threads: int
    data: str
    output: str
    device: str = "auto"
    workers: int = 0
    """Ray Train workers (`distributed.workers`); 0: processes on this machine (``nproc``)."""
    cpus_per_worker: float = 1.0
    gpus_per_worker: int = 0

    @classmethod
    def from_step(
        cls, settings: dict[str, Any], params: dict[str, Any], data: Path, output: Path
    ) -> Recipe:
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise _fail(f"unknown params {unknown}; it takes {sorted(DEFAULTS)}")
        merged = {**DEFAULTS, **params}
        if merged["optimizer"] not in OPTIMIZERS:
            raise _fail(f"optimizer {merged['optimizer']!r} is not one of {OPTIMIZERS}")
        task = settings.get("task", "classification")
        if task not in TASKS:
            raise _fail(f"with.task {task!r} is not one of {TASKS}")
        distributed = settings.get("distributed") or {}
        nproc = int(distributed.get("nproc", 1))
        recipe = ModuleRecipe(
            str(settings.get("module", "")), dict(settings.get("module_args") or {}), task
        )
        threads = int(settings.get("threads", 1))
        device = str(settings.get("device", "auto"))
        if device not in DEVICES:
            raise _fail(f"with.device {device!r} is not one of {DEVICES}")
        return cls(
            recipe,
            merged,
            max(1, nproc),
            max(1, threads),
            str(data),
            str(output),
            device,
            workers=int(distributed.get("workers", 0)),
            cpus_per_worker=float(distributed.get("cpus_per_worker", 1)),
            gpus_per_worker=int(distributed.get("gpus_per_worker", 0)),
        )


def resolve_device(requested: str, nproc: int) -> str:
    """cpu or cuda for ``requested``: auto takes CUDA when torch sees a device per process.

    Each data-parallel process needs a GPU of its own (nccl refuses two ranks on one device),
    so auto falls back to the CPU when there are fewer, and cuda fails with the counts.
    """
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if requested == "cpu" or (requested == "auto" and available < nproc):
        return "cpu"
    if available == 0:
        raise _fail(
            "with.device is cuda but torch finds no CUDA device on this machine "
            "(torch.cuda.is_available() is False); use device: auto or cpu, or apply where "
            "CUDA is present"
        )
    if available < nproc:
        raise _fail(
            f"with.device is cuda with distributed nproc {nproc}, one GPU per process, but "
            f"torch finds {available} CUDA device(s); lower nproc to {available} or use "
            "device: cpu"
        )
    return "cuda"


def _find_data(name: str) -> Path:
    inputs: dict[str, str] = json.loads(os.environ.get("MVCTL_INPUTS", "{}"))
    found = [Path(folder) / name for folder in inputs.values() if (Path(folder) / name).is_file()]
    if len(found) != 1:
        where = ", ".join(sorted(inputs)) or "no upstream steps"
        raise _fail(
            f"expected exactly one upstream output named {name!r} (upstream: {where}); "
            "name the file with `with: {data: ...}`"
        )
    return found[0]


def _load_arrays(source: str | IO[bytes]) -> tuple[Any, Any, tuple[Any, Any] | None]:
    """Features as float tensors; labels as numpy arrays (values for regression), from an
    NPZ file or its bytes."""
    import numpy as np
    import torch

    with np.load(source) as data:
        keys = set(data.files)
        x_key, y_key = ("X_train", "y_train") if "X_train" in keys else ("X", "y")
        if x_key not in keys or y_key not in keys:
            raise _fail(f"the data needs arrays X_train/y_train or X/y, has {sorted(keys)}")
        arrays = {k: data[k] for k in (x_key, y_key, "X_test", "y_test") if k in keys}
    x = torch.as_tensor(arrays[x_key], dtype=torch.float32)
    held = None
    if "X_test" in arrays and "y_test" in arrays:
        held = (torch.as_tensor(arrays["X_test"], dtype=torch.float32), arrays["y_test"])
    return x, arrays[y_key], held


def class_columns(labels: Any, outputs: int) -> tuple[tuple[Any, ...], Any]:
    """The label each output column stands for, and each row's column.

    Labels that are already column numbers keep them (the module was built for 0..K-1);
    any others (text, or numbers beyond the outputs) take the columns in sorted order, one
    column per label.
    """
    import numpy as np

    classes = np.unique(labels)
    if np.issubdtype(classes.dtype, np.integer) and classes.min() >= 0 and classes.max() < outputs:
        return tuple(range(outputs)), labels.astype(np.int64)
    if len(classes) != outputs:
        shown = ", ".join(str(c) for c in classes[:10]) + (", ..." if len(classes) > 10 else "")
        raise _fail(
            f"the module gives {outputs} outputs per row, but the training labels have "
            f"{len(classes)} classes ({shown}); give its last layer {len(classes)} outputs"
        )
    return tuple(classes.tolist()), np.searchsorted(classes, labels)


def _targets(module: Any, x: Any, labels: Any, task: str) -> tuple[Any, tuple[Any, ...] | None]:
    """What the loss compares the outputs with, and the classes of a classifier."""
    import torch

    if task != "classification":
        return torch.as_tensor(labels, dtype=torch.float32), None
    module.eval()  # one row through it, to count the outputs (batch norm needs eval mode)
    with torch.no_grad():
        outputs = int(module(x[:1]).shape[1])
    module.train()
    classes, columns = class_columns(labels, outputs)
    return torch.as_tensor(columns, dtype=torch.long), classes


def _outputs(model: Any, x: Any, task: str) -> Any:
    out = model(x)
    return out.squeeze(1) if task == "regression" and out.ndim == 2 and out.shape[1] == 1 else out


def _train(rank: int, world: int, recipe: Recipe, port: int) -> None:
    """One process of ``nproc`` on this machine (rank 0 of 1 when not distributed)."""
    import torch

    device = torch.device("cuda", rank) if recipe.device == "cuda" else torch.device("cpu")
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if recipe.device == "cuda" else "gloo"
        dist.init_process_group(
            backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
        )
    trained = _fit(rank, world, recipe, device, _load_arrays(recipe.data), _say)
    if rank == 0:
        save_torch_model(trained.module, trained.recipe, Path(recipe.output))
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def train_on_ray_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the same loop as an ``nproc`` process, in the process group Ray
    Train set up (gloo, or nccl with the GPUs Ray gave it). Every rank reports the digest of
    its final weights to the step's inbox; rank 0 also sends the model file's bytes."""
    import io

    import ray
    import ray.train
    import ray.train.torch

    recipe: Recipe = config["recipe"]
    inbox = config["inbox"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()

    def say(message: dict[str, Any]) -> None:
        inbox.say.remote(json.dumps(message))  # one caller's calls arrive in order

    arrays = _load_arrays(io.BytesIO(ray.get(config["data"])))
    trained = _fit(rank, world, recipe, ray.train.torch.get_device(), arrays, say)
    sent = [inbox.agree.remote(rank, weights_digest(trained.module.state_dict()))]
    if rank == 0:
        sent.append(inbox.deliver.remote(torch_model_bytes(trained.module, trained.recipe)))
    ray.get(sent)


@dataclass(frozen=True)
class _Trained:
    module: Any
    recipe: ModuleRecipe
    """The module's recipe with the classes its output columns stand for."""


def _fit(
    rank: int,
    world: int,
    recipe: Recipe,
    device: Any,
    arrays: tuple[Any, Any, tuple[Any, Any] | None],
    say: Callable[[dict[str, Any]], None],
) -> _Trained:
    """The training loop every rank runs, on this machine or on a Ray Train worker: the same
    seed everywhere, a DistributedSampler shard per rank, gradients averaged by DDP when the
    process group (``world`` > 1) is up. Rank 0 reports progress and the held-out score."""
    import torch
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    params, task = recipe.params, recipe.module.task
    torch.manual_seed(int(params["seed"]))
    torch.set_num_threads(recipe.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    x, labels, held = arrays
    module = build_module(recipe.module).to(device)
    y, classes = _targets(module, x.to(device), labels, task)
    dataset = TensorDataset(x, y)
    generator = torch.Generator().manual_seed(int(params["seed"]))
    sampler: Any = None
    if world > 1:
        sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=int(params["seed"]))
    loader = DataLoader(
        dataset,
        batch_size=int(params["batch_size"]),
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator,
    )
    shard = len(sampler) if sampler is not None else len(dataset)
    say({"rank": rank, "world_size": world, "rows": shard, "device": str(device)})
    model = module
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
    optimizer = _optimizer(model, params)
    loss_fn = torch.nn.CrossEntropyLoss() if task == "classification" else torch.nn.MSELoss()
    epochs = int(params["epochs"])
    for epoch in range(epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        totals = torch.zeros(2, dtype=torch.float64)
        for x_batch, y_batch in loader:
            xb, yb = x_batch.to(device), y_batch.to(device)
            optimizer.zero_grad()
            loss = loss_fn(_outputs(model, xb, task), yb)
            loss.backward()
            optimizer.step()
            totals += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)
        if world > 1:  # summed on the device: nccl reduces CUDA tensors only
            reduced = totals.to(device)
            torch.distributed.all_reduce(reduced)
            totals = reduced.cpu()
        if rank == 0:
            loss_now = round(float(totals[0] / totals[1]), 6)
            say({"progress": (epoch + 1) / epochs, "epoch": epoch + 1, "loss": loss_now})
    if rank == 0:
        _report_held_out(module, held, task, classes, device, say)
    return _Trained(module, replace(recipe.module, classes=classes))


def _optimizer(model: Any, params: dict[str, Any]) -> Any:
    import torch

    lr, decay = float(params["lr"]), float(params["weight_decay"])
    if params["optimizer"] == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=lr, momentum=float(params["momentum"]), weight_decay=decay
        )
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)


def _report_held_out(
    module: Any,
    held: tuple[Any, Any] | None,
    task: str,
    classes: tuple[Any, ...] | None,
    device: Any,
    say: Callable[[dict[str, Any]], None],
) -> None:
    import numpy as np
    import torch

    if held is None:
        return
    module.eval()
    with torch.no_grad():
        out = _outputs(module, held[0].to(device), task).cpu()
    if classes is not None:
        predicted = np.asarray(classes)[out.argmax(dim=1).numpy()]
        score = {"held_out_accuracy": float((predicted == held[1]).mean())}
    else:
        truth = torch.as_tensor(held[1], dtype=torch.float32)
        score = {"held_out_mse": float(((out - truth) ** 2).mean())}
    say(score)


def _say(message: dict[str, Any]) -> None:
    """One JSON line in one write: lines from several ranks never interleave in the log."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def main() -> None:
    root = str(Path.cwd())
    if root not in sys.path:
        sys.path.insert(0, root)  # steps run in the project root; its modules are importable
    settings = step.settings()
    recipe = Recipe.from_step(
        settings,
        step.params(),
        _find_data(str(settings.get("data", "train.npz"))),
        step.output(OUTPUT),
    )
    try:
        build_module(recipe.module)  # fail early, before any process is spawned, on a bad module
    except MvctlError as error:
        raise _fail(error.message) from error
    if recipe.workers:
        _train_on_ray(recipe, Path(root))
        return
    recipe = replace(recipe, device=resolve_device(recipe.device, recipe.nproc))
    if recipe.nproc == 1:
        _train(0, 1, recipe, 0)
        return
    from torch.multiprocessing.spawn import spawn

    if sys.platform.startswith("linux") and recipe.device == "cpu":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # all ranks are on this machine
    spawn(_train, args=(recipe.nproc, recipe, _free_port()), nprocs=recipe.nproc, join=True)  # type: ignore[no-untyped-call]


def _train_on_ray(recipe: Recipe, root: Path) -> None:
    """Train on the Ray Train workers of the Ray cluster this step's task runs in; save the
    weights rank 0 sends once every rank reported the same final weights."""
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        raise _fail(
            "with.distributed.workers trains on Ray Train workers, which need the Ray executor; "
            "apply with --executor ray, or use distributed: {nproc: N} on one machine"
        )
    # Ray gives each worker its GPUs: the device follows gpus_per_worker (the checks refuse
    # device: cpu with GPUs and device: cuda without).
    recipe = replace(recipe, device="cuda" if recipe.gpus_per_worker else "cpu")
    workers = RayTrainWorkers(recipe.workers, recipe.cpus_per_worker, recipe.gpus_per_worker)
    try:
        model = train_on_workers(
            train_on_ray_worker,
            {"recipe": recipe},
            Path(recipe.data).read_bytes(),
            workers,
            address=address,
            shipped=importable_source(root, recipe.module.module),
            say=_say,
        )
    except RayTrainError as error:
        raise _fail(error.message) from error
    Path(recipe.output).write_bytes(model)


if __name__ == "__main__":
    # Run through the package's module, not __main__, so spawned workers can import _train.
    from mvctl.apply.torch_trainer import main as package_main

    package_main()
