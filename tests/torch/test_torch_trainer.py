"""The `uses: torch` trainer: train -> save (safetensors) -> load -> predict, data-parallel
training on two CPU processes, the digits example end to end, and its refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mvctl.errors import UnsafeArtifactError
from tests.functional.projects import REPO, Project, base_env

pytestmark = pytest.mark.torch
pytest.importorskip(
    "torch", reason="the torch tests need `pip install -e '.[test]'` (torch, safetensors)"
)
pytest.importorskip("safetensors")

CONFIG = """\
project: blobs
models:
  blobs:
    task: binary-classification
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {seed: 3}
        outputs: [train.npz]
      - name: train
        uses: torch
        with: {module: nets.small.Classifier, module_args: {hidden: 8}, task: classification{extra}}
        params: {optimizer: adam, lr: 0.05, epochs: 6, batch_size: 16, seed: 1}
        deps: [prepare, nets/small.py]
    versions:
      "1.0.0": {}
"""

PREPARE = """\
import numpy as np
from mvctl import step
rng = np.random.default_rng(step.params()["seed"])
x = np.concatenate([rng.normal(-2, 0.5, (100, 2)), rng.normal(2, 0.5, (100, 2))]).astype("float32")
y = np.array([0] * 100 + [1] * 100)
order = rng.permutation(200)
np.savez(step.output("train.npz"), X_train=x[order][:160], y_train=y[order][:160],
         X_test=x[order][160:], y_test=y[order][160:])
"""

NET = """\
import torch


class Classifier(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)
"""


def make_blobs(root: Path, extra: str = "") -> Project:
    project = Project(root, base_env(None))
    project.write("mvctl.yaml", CONFIG.replace("{extra}", extra))
    project.write("steps/prepare.py", PREPARE)
    project.write("nets/__init__.py", "")
    project.write("nets/small.py", NET)
    return project


def stored_model(project: Project, target: str) -> Path:
    digest = json.loads(project.mvctl("show", target, "--json").out)["artifact_digest"][
        len("sha256:") :
    ]
    return project.root / ".mvctl" / "store" / "objects" / digest[:2] / digest[2:]


def separable_points() -> tuple[object, object]:
    import numpy as np

    x = np.array([[-2.0, -2.0], [-1.5, -2.5], [2.0, 2.0], [2.5, 1.5]], dtype="float32")
    return x, np.array([0, 0, 1, 1])


def test_train_save_load_predict(tmp_path: Path) -> None:
    from safetensors import safe_open

    from mvctl.apply.artifacts import check_safe_artifact
    from mvctl.apply.torch_model import load_torch_model, predict

    project = make_blobs(tmp_path / "proj")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    log = project.mvctl("logs", "blobs@1.0.0", "train").out
    epochs = [json.loads(line) for line in log.splitlines() if '"epoch"' in line]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6] and epochs[-1]["loss"] < epochs[0][
        "loss"
    ]
    model_file = stored_model(project, "blobs@1.0.0")
    assert check_safe_artifact(model_file, what="the model") == "safetensors"
    with safe_open(str(model_file), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["mvctl.module"] == "nets.small.Classifier"
    assert json.loads(metadata["mvctl.module_args"]) == {"hidden": 8}
    module = load_torch_model(
        model_file, expected_module="nets.small.Classifier", import_root=project.root
    )
    x, y = separable_points()
    assert list(predict(module, x)) == list(y)


def test_distributed_training_on_two_processes(tmp_path: Path) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict

    project = make_blobs(tmp_path / "proj", extra=", distributed: {nproc: 2}")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    log = project.mvctl("logs", "blobs@1.0.0", "train").out
    ranks = [json.loads(line) for line in log.splitlines() if '"world_size"' in line]
    assert sorted((r["rank"], r["world_size"], r["rows"]) for r in ranks) == [
        (0, 2, 80),
        (1, 2, 80),
    ]
    assert sum('"epoch"' in line for line in log.splitlines()) == 6  # rank 0 reports alone
    module = load_torch_model(
        stored_model(project, "blobs@1.0.0"),
        expected_module="nets.small.Classifier",
        import_root=project.root,
    )
    x, y = separable_points()
    assert list(predict(module, x)) == list(y)


NO_CUDA = {"CUDA_VISIBLE_DEVICES": ""}  # torch then finds no CUDA device, GPU machine or not


def test_device_auto_trains_on_the_cpu_where_torch_finds_no_cuda(tmp_path: Path) -> None:
    project = make_blobs(tmp_path / "proj", extra=", device: auto, distributed: {nproc: 2}")
    applied = project.mvctl("apply", "--auto-approve", extra_env=NO_CUDA)
    assert applied.code == 0, applied.text
    log = project.mvctl("logs", "blobs@1.0.0", "train").out
    ranks = [json.loads(line) for line in log.splitlines() if '"world_size"' in line]
    assert sorted((r["rank"], r["device"]) for r in ranks) == [(0, "cpu"), (1, "cpu")]


def test_device_cuda_without_cuda_fails_the_step_with_the_reason(tmp_path: Path) -> None:
    project = make_blobs(tmp_path / "proj", extra=", device: cuda")
    failed = project.mvctl("apply", "--auto-approve", extra_env=NO_CUDA)
    assert failed.code == 1 and "step train exited with code 1" in failed.out, failed.text
    shown = project.mvctl("show", "blobs@1.0.0").out
    assert "with.device is cuda but torch finds no CUDA device" in shown, shown
    assert "Traceback" not in shown and "Traceback" not in failed.text
    assert project.mvctl("show", "blobs@1.0.0", "--json").out.count('"artifact_digest": null') == 1


def test_digits_example_applies_end_to_end(tmp_path: Path) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict

    root = tmp_path / "digits"
    shutil.copytree(
        REPO / "examples" / "digits-torch", root, ignore=shutil.ignore_patterns(".mvctl")
    )
    project = Project(root, base_env(None))
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    from sklearn.datasets import load_digits

    digits = load_digits()
    module = load_torch_model(
        stored_model(project, "digits@1.1.0"),
        expected_module="digits_model.DigitsMLP",
        import_root=root,
    )
    accuracy = (predict(module, digits.data / 16.0) == digits.target).mean()
    assert accuracy > 0.9
    assert project.mvctl("plan", "--detailed-exitcode").code == 0


def _safetensors_with(path: Path, metadata: dict[str, str]) -> Path:
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(path), metadata=metadata)
    return path


def test_loader_refuses_what_is_not_the_expected_module(tmp_path: Path) -> None:
    from mvctl.apply.torch_model import load_torch_model

    recipe = {
        "mvctl.format": "1",
        "mvctl.module_args": '{"command": "echo owned"}',
        "mvctl.task": "classification",
    }
    not_a_module = _safetensors_with(
        tmp_path / "a.safetensors", {**recipe, "mvctl.module": "os.system"}
    )
    with pytest.raises(
        UnsafeArtifactError, match=r"'os\.system' is not a torch\.nn\.Module subclass"
    ):
        load_torch_model(not_a_module, expected_module="os.system")
    with pytest.raises(UnsafeArtifactError, match="the config names no torch module"):
        load_torch_model(not_a_module, expected_module=None)
    other = _safetensors_with(
        tmp_path / "b.safetensors", {**recipe, "mvctl.module": "torch.nn.Identity"}
    )
    with pytest.raises(
        UnsafeArtifactError, match=r"not the nets\.small\.Classifier the config names"
    ):
        load_torch_model(other, expected_module="nets.small.Classifier")
    bare = _safetensors_with(tmp_path / "c.safetensors", {})
    with pytest.raises(UnsafeArtifactError, match="does not say which torch module"):
        load_torch_model(bare, expected_module="nets.small.Classifier")


def test_a_bad_module_fails_the_step_with_its_reason(tmp_path: Path) -> None:
    project = make_blobs(tmp_path / "proj")
    project.edit_config("nets.small.Classifier", "nets.small.Missing")
    failed = project.mvctl("apply", "--auto-approve")
    assert failed.code == 1 and "step train exited with code 1" in failed.out, failed.text
    shown = project.mvctl("show", "blobs@1.0.0").out
    assert (
        "cannot import the torch module 'nets.small.Missing'" in shown and "Traceback" not in shown
    )


TEXT_LABELS = """\
    evaluation:
      datasets: [{name: held-out, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}]
      metrics: [accuracy, f1, roc_auc, average_precision, brier_score]
      pos_label: churn
      gates: ["f1 >= 0.9", "brier_score <= 0.1"]
    aliases: {production: "1.0.0"}
    versions:
"""


def test_text_labels_train_a_torch_classifier_whose_file_names_its_classes(tmp_path: Path) -> None:
    import numpy as np
    from safetensors import safe_open
    from sklearn import metrics as skm

    from mvctl.apply.torch_model import load_torch_model, predict, read_recipe

    project = make_blobs(tmp_path / "proj")
    project.write(
        "steps/prepare.py",
        PREPARE.replace(
            "y = np.array([0] * 100 + [1] * 100)", 'y = np.array(["stay"] * 100 + ["churn"] * 100)'
        ),
    )
    project.edit_config("    versions:\n", TEXT_LABELS)
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    model_file = stored_model(project, "blobs@1.0.0")
    with safe_open(str(model_file), framework="pt") as handle:
        assert json.loads(handle.metadata()["mvctl.classes"]) == ["churn", "stay"]
    module = load_torch_model(
        model_file, expected_module="nets.small.Classifier", import_root=project.root
    )
    classes = read_recipe(model_file).classes
    x, _ = separable_points()
    assert list(predict(module, x, classes=classes)) == ["stay", "stay", "churn", "churn"]
    shown = json.loads(project.mvctl("show", "blobs@1.0.0", "--json").out)
    (evaluation,) = shown["evaluations"]
    assert evaluation["details"]["scoring"] == {"average": "binary", "positive": "churn"}
    data = prepared_arrays(project)
    predicted = predict(module, data["X_test"], classes=classes)
    import torch

    with torch.no_grad():
        logits = module(torch.as_tensor(data["X_test"])).numpy()
    churn = np.exp(logits[:, 0]) / np.exp(logits).sum(axis=1)
    y = data["y_test"]
    metrics = evaluation["metrics"]
    assert metrics["accuracy"] == skm.accuracy_score(y, predicted)
    assert metrics["f1"] == skm.f1_score(y, predicted, pos_label="churn")
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "churn", churn))
    assert metrics["average_precision"] == pytest.approx(
        skm.average_precision_score(y, churn, pos_label="churn")
    )
    assert metrics["brier_score"] == pytest.approx(
        skm.brier_score_loss(y, churn, pos_label="churn")
    )
    assert shown["aliases"] == ["production"]  # both gates passed on the new metrics


def prepared_arrays(project: Project) -> dict[str, object]:
    import numpy as np

    detail = json.loads(project.mvctl("show", "blobs@1.0.0", "--json").out)
    key = detail["lineage"]["steps"]["prepare"]["outputs"]["train.npz"].removeprefix("sha256:")
    with np.load(project.root / ".mvctl" / "store" / "objects" / key[:2] / key[2:]) as data:
        return {name: data[name] for name in data.files}


def test_labels_beyond_the_outputs_are_refused_naming_the_classes(tmp_path: Path) -> None:
    project = make_blobs(tmp_path / "proj")
    project.write(
        "steps/prepare.py",
        PREPARE.replace("y = np.array([0] * 100 + [1] * 100)", "y = np.array([0, 1, 2, 3] * 50)"),
    )
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1
    log = project.mvctl("logs", "blobs@1.0.0", "train").out
    assert (
        "the module gives 2 outputs per row, but the training labels have 4 classes (0, 1, 2, 3)"
        in log
    )
