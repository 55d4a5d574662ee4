"""Run the torch trainer's loop on Ray Train workers and bring the trained weights back.

A `uses: torch` step with `distributed: {workers: N}` runs, under the Ray executor, inside a Ray
task that holds no cores; its process joins that Ray as a driver (``RAY_ADDRESS``, which the
executor sets) and fits a ``TorchTrainer``: N workers, each holding ``cpus_per_worker`` cores
and ``gpus_per_worker`` GPUs, in a process group Ray Train sets up (nccl on GPUs, gloo on the
CPU). A request no node mix of the cluster could ever hold is refused before the fit, rather
than left waiting for resources that will not come.

Nothing here assumes a file system shared between nodes:
- the training data goes to the workers through Ray's object store (the NPZ file's bytes),
  not as a path;
- the project's own module (the top-level package or file of `with.module`) goes in the job's
  runtime_env ``py_modules``, which Ray uploads and unpacks on each node; mvctl itself must be
  installed on the nodes (the worker function lives in it);
- the weights come back through the step's inbox, a small actor with no cores that the driver
  creates: every rank sends it the digest of its final weights, rank 0 the model file's bytes
  and its progress lines. A Ray Train checkpoint would need a storage path every node can
  write (a shared file system or a bucket), and reported metrics are meant for small numbers
  written into the run's result files; an actor call carries bytes through the object store
  to wherever the driver runs.
The step fails unless every rank reported the same weights, and the bytes received hold them.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.apply.torch_model import weights_digest
from mvctl.errors import MvctlError

Say = Callable[[dict[str, Any]], None]


class RayTrainError(MvctlError):
    """Why training on the Ray Train workers could not give one agreed model (the step's
    process reports it and fails)."""


@dataclass(frozen=True)
class RayTrainWorkers:
    """`distributed: {workers, cpus_per_worker, gpus_per_worker}`."""

    count: int
    cpus: float
    gpus: int

    def resources(self) -> dict[str, float]:
        """What each worker holds (ScalingConfig's resources_per_worker)."""
        return {"CPU": self.cpus, **({"GPU": float(self.gpus)} if self.gpus else {})}

    def described(self) -> str:
        gpus = f" and {self.gpus} GPU(s)" if self.gpus else ""
        return f"{self.count} Ray Train worker(s) of {self.cpus:g} CPU(s){gpus} each"


class Inbox:
    """The step's actor: what the workers send back to the driver."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._digests: dict[int, str] = {}
        self._model: bytes | None = None

    def say(self, line: str) -> None:
        self._lines.append(line)

    def lines(self, start: int) -> list[str]:
        return self._lines[start:]

    def agree(self, rank: int, digest: str) -> None:
        self._digests[rank] = digest

    def deliver(self, model: bytes) -> None:
        self._model = model

    def collected(self) -> tuple[bytes | None, dict[int, str]]:
        return self._model, dict(self._digests)


def importable_source(root: Path, module: str) -> list[str]:
    """The project's own code `with.module` imports (its top-level package or file), for the
    workers' runtime_env; nothing when it is an installed package."""
    top = module.split(".", 1)[0]
    for candidate in (root / top, root / f"{top}.py"):
        if candidate.is_dir() or candidate.is_file():
            return [str(candidate)]
    return []


def cluster_capacity(workers: RayTrainWorkers, nodes: Sequence[Mapping[str, Any]]) -> int:
    """How many such workers the cluster's live nodes could hold at once, all of them idle:
    a worker's cores and GPUs must come from one node."""
    held = 0
    for node in nodes:
        if not node.get("Alive"):
            continue
        resources = node.get("Resources") or {}
        fits = math.floor(float(resources.get("CPU", 0.0)) / workers.cpus + 1e-9)
        if workers.gpus:
            fits = min(fits, math.floor(float(resources.get("GPU", 0.0)) / workers.gpus + 1e-9))
        held += fits
    return held


def train_on_workers(
    loop: Callable[[dict[str, Any]], None],
    config: dict[str, Any],
    data: bytes,
    workers: RayTrainWorkers,
    *,
    address: str,
    shipped: list[str],
    say: Say,
) -> bytes:
    """Fit ``loop`` on the workers (it gets ``config`` plus ``data``, an object reference to
    the NPZ bytes, and ``inbox``); the model file's bytes, once every rank agreed."""
    import ray
    import ray.train
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    runtime_env = {"py_modules": shipped} if shipped else None
    ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    try:
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        capacity = cluster_capacity(workers, nodes)
        if capacity < workers.count:
            totals = ray.cluster_resources()  # type: ignore[no-untyped-call]
            raise RayTrainError(
                f"the step asks for {workers.described()}, but the Ray cluster can hold "
                f"{capacity} (its nodes have {totals.get('CPU', 0):g} CPU(s) and "
                f"{totals.get('GPU', 0):g} GPU(s) in all)",
                fix="Lower distributed.workers or what each worker asks, or add nodes that have them.",
            )
        inbox: Any = ray.remote(num_cpus=0)(Inbox).remote()
        with tempfile.TemporaryDirectory(prefix="mvctl-ray-train-") as storage:
            trainer = TorchTrainer(
                loop,
                train_loop_config={**config, "data": ray.put(data), "inbox": inbox},
                scaling_config=ScalingConfig(
                    num_workers=workers.count,
                    use_gpu=workers.gpus > 0,
                    resources_per_worker=workers.resources(),
                ),
                torch_config=TorchConfig(backend="nccl" if workers.gpus else "gloo"),
                run_config=RunConfig(name="mvctl-step", storage_path=storage),
            )
            try:
                with _relayed(inbox, say):
                    trainer.fit()
            except ray.train.TrainingFailedError as error:
                sys.stdout.write(f"{error}\n")  # the workers' tracebacks, for the step's log
                sys.stdout.flush()
                raise RayTrainError(
                    f"training on the Ray Train workers failed: {_gist(error)}"
                ) from error
        model, digests = ray.get(inbox.collected.remote())
    finally:
        ray.shutdown()
    return agreed_model(model, digests, workers.count, say)


def agreed_model(model: bytes | None, digests: dict[int, str], world: int, say: Say) -> bytes:
    """``model`` when every rank reported the same final weights and ``model`` holds them."""
    from safetensors.torch import load

    for rank in sorted(digests):
        say({"rank": rank, "weights_digest": digests[rank]})
    missing = sorted(set(range(world)) - set(digests))
    if missing or model is None:
        raise RayTrainError(
            f"rank(s) {missing or [0]} sent no final weights; the training loop ended early"
        )
    differ = sorted(rank for rank in digests if digests[rank] != digests[0])
    if differ:
        raise RayTrainError(
            f"rank(s) {differ} ended with other weights than rank 0 ({digests[differ[0]]} vs "
            f"{digests[0]}), so there is no one trained model to save"
        )
    received = weights_digest(load(model))
    if received != digests[0]:
        raise RayTrainError(
            f"the model received from rank 0 holds weights {received}, not the {digests[0]} "
            "every rank reported"
        )
    say({"ranks_agree": True, "world_size": world, "weights_digest": received})
    return model


@contextmanager
def _relayed(inbox: Any, say: Say) -> Iterator[None]:
    """Copy the workers' lines from the inbox into the step's output while the block runs."""
    import ray

    done = threading.Event()
    shown = 0

    def relay() -> None:
        nonlocal shown
        while True:
            finished = done.wait(0.5)
            for line in ray.get(inbox.lines.remote(shown)):
                say(json.loads(line))
                shown += 1
            if finished:
                return

    relaying = threading.Thread(target=relay, name="mvctl-ray-train-lines", daemon=True)
    relaying.start()
    try:
        yield
    finally:
        done.set()
        relaying.join()


def _gist(error: BaseException) -> str:
    """The last line of the error's text: a worker's exception, after its traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
