"""A torch (safetensors) version is evaluated in process through the torch trainer's loader:
the stored metrics are scikit-learn's on the module's own predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from mvctl.state.db import StateDB
from tests.functional.projects import REPO, Project, base_env

pytestmark = [pytest.mark.torch, pytest.mark.slow]
pytest.importorskip(
    "torch", reason="the torch tests need `pip install -e '.[test]'` (torch, safetensors)"
)
pytest.importorskip("safetensors")


def test_a_torch_version_is_scored_with_its_own_module(tmp_path: Path) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict, read_recipe

    root = tmp_path / "digits"
    shutil.copytree(
        REPO / "examples" / "digits-torch", root, ignore=shutil.ignore_patterns(".mvctl")
    )
    project = Project(root, base_env(None))  # the example declares its evaluation and gates
    applied = project.mvctl("apply", "--auto-approve", "--target", "digits@1.0.0")
    assert applied.code == 0, applied.text
    with StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=False) as db:
        (record,) = [r for r in db.evaluations_of("digits") if r.label == "1.0.0"]
        detail = db.version_detail("digits", "1.0.0")
        run = db.step_run(detail.lineage["steps"]["prepare"]["key"]) if detail else None
    assert detail is not None and run is not None and detail.artifact_digest
    store = root / ".mvctl" / "store" / "objects"
    with np.load(blob(store, run.outputs["train.npz"])) as data:
        x, y = data["X_test"], data["y_test"]
    model_file = tmp_path / "model.safetensors"
    shutil.copy(blob(store, detail.artifact_digest), model_file)
    module = load_torch_model(
        model_file, expected_module="digits_model.DigitsMLP", import_root=root
    )
    classes = read_recipe(model_file).classes
    assert classes == tuple(range(10))
    predicted = predict(module, x, classes=classes)
    import torch

    with torch.no_grad():
        proba = torch.softmax(module(torch.as_tensor(x, dtype=torch.float32)), dim=1).numpy()
    assert record.metrics["accuracy"] == skm.accuracy_score(y, predicted)
    assert record.metrics["balanced_accuracy"] == skm.balanced_accuracy_score(y, predicted)
    assert record.metrics["f1"] == skm.f1_score(y, predicted, average="macro")
    assert record.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert record.metrics["average_precision"] == pytest.approx(
        skm.average_precision_score(y, proba, average="macro")
    )
    assert record.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-5)
    assert record.details["scoring"] == {"average": "macro", "positive": None}
    status = project.mvctl("status", "--json").out
    assert '"alias": "production"' in status  # the example's gates passed


def blob(store: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return store / hex_digest[:2] / hex_digest[2:]
