"""The torch trainer's settings are checked before anything runs, each error naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mvctl.spec.checks import check_model
from mvctl.spec.models import ModelSpec
from mvctl.spec.positions import Positions
from tests.spec.support import errors_of

NOWHERE = Positions(("mvctl.yaml",), (0, 1, 1, 1, 1, {}, None))
GOOD = {
    "module": "nets.Net",
    "module_args": {"hidden": 8},
    "task": "regression",
    "distributed": {"nproc": 2},
    "threads": 2,
    "data": "train.npz",
    "device": "auto",
}


def errors(
    with_: dict[str, Any], params: dict[str, Any] | None = None
) -> list[tuple[str | None, str]]:
    step = {"name": "train", "uses": "torch", "with": with_, "params": params or {}}
    spec = ModelSpec.model_validate({"pipeline": [step]}, by_name=False)
    return [(error.field, error.what) for error in check_model("m", spec, NOWHERE)]


def test_a_complete_torch_step_is_accepted() -> None:
    assert (
        errors(
            GOOD,
            {
                "optimizer": "sgd",
                "lr": 0.1,
                "epochs": 3,
                "batch_size": 8,
                "seed": 1,
                "momentum": 0.9,
                "weight_decay": 0.0,
            },
        )
        == []
    )


@pytest.mark.parametrize(
    ("with_", "params", "field", "what"),
    [
        ({}, {}, "models.m.pipeline[0]", "the torch trainer needs 'with.module'"),
        (
            {"module": "Net"},
            {},
            "models.m.pipeline[0].with.module",
            "module 'Net' is not a dotted import path",
        ),
        ({**GOOD, "tsak": "regression"}, {}, "models.m.pipeline[0].with.tsak", "no setting 'tsak'"),
        (
            {**GOOD, "task": "ranking"},
            {},
            "models.m.pipeline[0].with.task",
            "neither classification nor regression",
        ),
        (
            {**GOOD, "module_args": [8]},
            {},
            "models.m.pipeline[0].with.module_args",
            "module_args must map",
        ),
        (
            {**GOOD, "distributed": {"nproc": 0}},
            {},
            "models.m.pipeline[0].with.distributed.nproc",
            "nproc 0 is not a whole number from 1 to 1024",
        ),
        (
            {**GOOD, "distributed": {"workers": True}},
            {},
            "models.m.pipeline[0].with.distributed.workers",
            "workers True is not a whole number",
        ),
        (
            {**GOOD, "distributed": {"workers": 2, "cpus_per_worker": "two"}},
            {},
            "models.m.pipeline[0].with.distributed.cpus_per_worker",
            "cpus_per_worker 'two' is not a number of cores",
        ),
        (
            {**GOOD, "distributed": {"nproc": 2, "gpus_per_worker": 1}},
            {},
            "models.m.pipeline[0].with.distributed.gpus_per_worker",
            "gpus_per_worker goes with workers",
        ),
        (
            {**GOOD, "distributed": {"gpus_per_worker": 1}},
            {},
            "models.m.pipeline[0].with.distributed",
            "{nproc: N}",
        ),
        (
            {**GOOD, "device": "cpu", "distributed": {"workers": 2, "gpus_per_worker": 1}},
            {},
            "models.m.pipeline[0].with.distributed.gpus_per_worker",
            "device is cpu, but each worker asks for 1 GPU(s)",
        ),
        (
            {**GOOD, "device": "cuda", "distributed": {"workers": 2}},
            {},
            "models.m.pipeline[0].with.device",
            "device is cuda, but the Ray Train workers ask for no GPU",
        ),
        ({**GOOD, "distributed": 2}, {}, "models.m.pipeline[0].with.distributed", "{nproc: N}"),
        (
            {**GOOD, "threads": "many"},
            {},
            "models.m.pipeline[0].with.threads",
            "not a whole number",
        ),
        (
            {**GOOD, "device": "gpu"},
            {},
            "models.m.pipeline[0].with.device",
            "device 'gpu' is not auto, cpu or cuda",
        ),
        (GOOD, {"epoch": 3}, "models.m.pipeline[0].params.epoch", "takes no param 'epoch'"),
        (
            GOOD,
            {"optimizer": "lbfgs"},
            "models.m.pipeline[0].params.optimizer",
            "neither adam nor sgd",
        ),
    ],
)
def test_each_mistake_names_its_field(
    with_: dict[str, Any], params: dict[str, Any], field: str, what: str
) -> None:
    found = errors(with_, params)
    assert len(found) == 1, found
    assert found[0][0] == field and what in found[0][1], found


def test_a_typo_gets_a_suggestion_with_its_line(tmp_path: Path) -> None:
    text = (
        "project: p\nmodels:\n  m:\n    pipeline:\n      - name: train\n        uses: torch\n"
        "        with: {module: nets.Net}\n        params: {epoch: 3}\n"
    )
    (error,) = errors_of(tmp_path, text)
    assert error.place is not None and error.place.line == 8
    assert "Did you mean 'epochs'?" in error.message


def test_a_ray_train_step_takes_its_resources_per_worker() -> None:
    step = {
        "name": "train",
        "uses": "torch",
        "with": {"module": "nets.Net", "distributed": {"workers": 2, "gpus_per_worker": 1}},
        "resources": {"cpus": 4},
    }
    spec = ModelSpec.model_validate({"pipeline": [step]}, by_name=False)
    found = [(e.field, e.what) for e in check_model("m", spec, NOWHERE)]
    assert found == [
        (
            "models.m.pipeline[0].resources.cpus",
            "the Ray Train workers of this step hold its cores; the step's own task holds none, "
            "so resources.cpus would do nothing",
        )
    ]
