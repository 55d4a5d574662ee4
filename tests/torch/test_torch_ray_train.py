"""`distributed: {workers: N}`: the torch trainer's loop on Ray Train workers under the Ray
executor, against a real local Ray of two CPUs started once for the module. Two CPU workers
train the blobs model; every rank ends with the weights the store holds; re-applying is a
cache hit; without the Ray executor, or with a bad value, nothing runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.projects import Project
from tests.torch.test_torch_trainer import make_blobs, separable_points, stored_model

pytestmark = [pytest.mark.torch, pytest.mark.ray]
ray = pytest.importorskip("ray", reason="the Ray tests need `pip install -e '.[test]'` (ray)")
pytest.importorskip("torch", reason="the torch tests need `pip install -e '.[test]'` (torch)")

WORKERS = ", distributed: {workers: 2}"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # a Ray of its own, even where another one runs on this machine
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def on_ray(project: Project) -> Project:
    project.edit_config(
        "project: blobs\n", "project: blobs\nexecutor: {type: ray, address: auto}\n"
    )
    return project


def log_lines(project: Project) -> list[dict[str, object]]:
    log = project.mvctl("logs", "blobs@1.0.0", "train").out
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def place_of(project: Project, word: str) -> str:
    """file:line:column of the first ``word`` on the config's `distributed` line."""
    lines = project.config().splitlines()
    (number,) = [i for i, line in enumerate(lines, 1) if "distributed:" in line]
    return f"mvctl.yaml:{number}:{lines[number - 1].index(word) + 1}"


def weights_only_digest(model_file: Path) -> str:
    """sha256 of the stored file's tensors written again without its metadata."""
    from safetensors.torch import load_file, save

    return "sha256:" + hashlib.sha256(save(load_file(str(model_file)))).hexdigest()


def test_two_ray_train_workers_end_with_the_weights_the_store_holds(
    local_ray: None, tmp_path: Path
) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict

    project = on_ray(make_blobs(tmp_path / "proj", extra=WORKERS))
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    lines = log_lines(project)
    ranks = sorted((m["rank"], m["world_size"], m["rows"]) for m in lines if "rows" in m)
    assert ranks == [(0, 2, 80), (1, 2, 80)], lines  # a DistributedSampler shard each
    losses = [m["loss"] for m in lines if "epoch" in m]
    assert len(losses) == 6 and losses[-1] < losses[0], lines  # rank 0 alone reports
    digests = {
        m["rank"]: m["weights_digest"] for m in lines if "rank" in m and "weights_digest" in m
    }
    model_file = stored_model(project, "blobs@1.0.0")
    assert digests == {0: weights_only_digest(model_file), 1: weights_only_digest(model_file)}
    (agreed,) = [m for m in lines if "ranks_agree" in m]
    assert agreed == {"ranks_agree": True, "world_size": 2, "weights_digest": digests[0]}
    held_out = [m["held_out_accuracy"] for m in lines if "held_out_accuracy" in m]
    assert held_out and held_out[0] > 0.9, lines
    module = load_torch_model(
        model_file, expected_module="nets.small.Classifier", import_root=project.root
    )
    x, y = separable_points()
    assert list(predict(module, x)) == list(y)
    again = project.mvctl("apply", "--auto-approve")
    assert again.code == 0 and "No changes" in again.out, again.text


def test_more_than_the_cluster_can_ever_hold_fails_the_step_saying_so(
    local_ray: None, tmp_path: Path
) -> None:
    project = on_ray(
        make_blobs(tmp_path / "proj", extra=", distributed: {workers: 2, gpus_per_worker: 4}")
    )
    failed = project.mvctl("apply", "--auto-approve")
    assert failed.code == 1 and "step train exited with code 1" in failed.out, failed.text
    shown = project.mvctl("show", "blobs@1.0.0").out
    assert (
        "asks for 2 Ray Train worker(s) of 1 CPU(s) and 4 GPU(s) each, but the Ray cluster can "
        "hold 0" in shown
    ), shown
    assert "Traceback" not in shown


@pytest.mark.parametrize(
    ("how", "args"),
    [("the config's executor", ()), ("--executor local", ("--executor", "local"))],
)
def test_workers_without_the_ray_executor_are_refused_before_anything_runs(
    tmp_path: Path, how: str, args: tuple[str, ...]
) -> None:
    project = make_blobs(tmp_path / "proj", extra=WORKERS)
    if args:
        on_ray(project)
    refused = project.mvctl("apply", "--auto-approve", *args)
    assert refused.code == 1, (how, refused.text)
    assert (
        place_of(project, "workers") in refused.err
        and "step train of model blobs trains on 2 Ray Train workers, which need the Ray executor"
        in refused.err
        and "--executor ray" in refused.err
        and "distributed: {nproc: N}" in refused.err
    ), refused.text
    assert "Traceback" not in refused.text
    assert json.loads(project.mvctl("history", "--json").out)["applies"] == []
    assert not (project.root / ".mvctl" / "store" / "objects").exists()


@pytest.mark.parametrize(
    ("distributed", "at", "field", "says"),
    [
        ("{workers: 0}", "0", "distributed.workers", "workers 0 is not a whole number from 1"),
        ("{workers: 1.5}", "1.5", "distributed.workers", "workers 1.5 is not a whole number"),
        ("{workers: 2, gpus_per_worker: 99}", "99", "distributed.gpus_per_worker", "0 to 16"),
        ("{workers: 2, cpus_per_worker: -1}", "-1", "distributed.cpus_per_worker", "above 0"),
        ("{nproc: 2, workers: 2}", "distributed", "with.distributed'", "not both"),
        ("{workers: 2, gpu_per_worker: 1}", "gpu_per", "gpu_per_worker", "'gpus_per_worker'"),
    ],
)
def test_a_bad_distributed_value_is_refused_at_its_place(
    tmp_path: Path, distributed: str, at: str, field: str, says: str
) -> None:
    project = make_blobs(tmp_path / "proj", extra=f", distributed: {distributed}")
    refused = project.mvctl("validate")
    assert refused.code == 1, refused.text
    assert f"Error: {place_of(project, at)}: " in refused.err, refused.text
    assert field in refused.err and says in refused.err, refused.text
    assert "Traceback" not in refused.text
