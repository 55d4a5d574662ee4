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

EVALUATION = """\
    evaluation:
      datasets: [{name: digits-test, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}]
      metrics: [accuracy, f1, roc_auc, log_loss]
      gates: ["accuracy >= 0.5"]
    versions:
"""


def test_a_torch_version_is_scored_with_its_own_module(tmp_path: Path) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict

    root = tmp_path / "digits"
    shutil.copytree(
        REPO / "examples" / "digits-torch", root, ignore=shutil.ignore_patterns(".mvctl")
    )
    project = Project(root, base_env(None))
    project.edit_config("    versions:\n", EVALUATION)
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
    predicted = predict(module, x)
    assert record.metrics["accuracy"] == skm.accuracy_score(y, predicted)
    assert record.metrics["f1"] == skm.f1_score(y, predicted, average="macro")
    assert 0.5 < record.metrics["roc_auc"] <= 1.0 and record.metrics["log_loss"] > 0


def blob(store: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return store / hex_digest[:2] / hex_digest[2:]
