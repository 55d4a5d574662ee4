"""A binary task whose labels are text, scored on the class the config names: the numbers are
scikit-learn's for that class, every view says which class and averaging it used, gates on the
new metrics (lower-is-better brier_score included) decide, and a pos_label that is no class
fails cleanly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from skops.io import get_untrusted_types, load

from tests.functional.projects import Project, base_env

pytestmark = pytest.mark.slow

PREPARE = """\
import numpy as np
from mvctl import step
rng = np.random.default_rng(3)
x = rng.normal(size=(400, 3))
y = np.where(x @ np.array([1.0, -1.5, 0.5]) + rng.normal(size=400) > 1.0, "churn", "stay")
np.savez(step.output("train.npz"), X_train=x, y_train=y)
"""

CONFIG = """\
project: churners
models:
  churn:
    task: binary-classification
    pipeline:
      - {name: prepare, run: python steps/prepare.py, deps: [steps/prepare.py], outputs: [train.npz]}
      - name: train
        uses: sklearn
        with: {estimator: sklearn.linear_model.LogisticRegression}
        params: {C: 1.0}
        deps: [prepare]
    evaluation:
      dataset: data/holdout.csv
      label: left
      metrics: [accuracy, f1, roc_auc, average_precision, brier_score, balanced_accuracy, matthews_corrcoef]
      pos_label: churn
      gates: ["brier_score <= 0.25", "matthews_corrcoef >= 0.2"]
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {C: 0.01}}}
    aliases: {production: "1.0.0"}
"""


def make_project(root: Path) -> Project:
    project = Project(root, base_env(None))
    project.write("mvctl.yaml", CONFIG)
    project.write("steps/prepare.py", PREPARE)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 3))
    y = np.where(x @ np.array([1.0, -1.5, 0.5]) + rng.normal(size=200) > 1.0, "churn", "stay")
    (root / "data").mkdir(parents=True)
    with (root / "data" / "holdout.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", "left"])
        writer.writerows(
            [*(f"{v:.6f}" for v in row), label] for row, label in zip(x, y, strict=True)
        )
    return project


def holdout(project: Project) -> tuple[np.ndarray, np.ndarray]:
    with (project.root / "data" / "holdout.csv").open() as handle:
        rows = list(csv.reader(handle))[1:]
    return np.array([[float(v) for v in r[:3]] for r in rows]), np.array([r[3] for r in rows])


def stored_model(project: Project, label: str) -> object:
    shown = json.loads(project.mvctl("show", f"churn@{label}", "--json").out)
    digest = shown["artifact_digest"].removeprefix("sha256:")
    path = project.root / ".mvctl" / "store" / "objects" / digest[:2] / digest[2:]
    return load(path, trusted=get_untrusted_types(file=path))


def test_text_labels_are_scored_on_the_declared_positive_class(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    model = stored_model(project, "1.0.0")
    x, y = holdout(project)
    assert list(model.classes_) == ["churn", "stay"]  # type: ignore[attr-defined]
    predicted = model.predict(x)  # type: ignore[attr-defined]
    churn = model.predict_proba(x)[:, 0]  # type: ignore[attr-defined]
    shown = json.loads(project.mvctl("show", "churn@1.0.0", "--json").out)
    (evaluation,) = shown["evaluations"]
    assert evaluation["metrics"] == {
        "accuracy": skm.accuracy_score(y, predicted),
        "f1": skm.f1_score(y, predicted, pos_label="churn"),
        "roc_auc": skm.roc_auc_score(y == "churn", churn),
        "average_precision": skm.average_precision_score(y, churn, pos_label="churn"),
        "brier_score": skm.brier_score_loss(y, churn, pos_label="churn"),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
        "matthews_corrcoef": skm.matthews_corrcoef(y, predicted),
    }
    # scikit-learn's default positive class here would be "stay": a different number.
    assert evaluation["metrics"]["f1"] != skm.f1_score(y, predicted, pos_label="stay")
    assert evaluation["details"]["scoring"] == {"average": "binary", "positive": "churn"}
    text = project.mvctl("show", "churn@1.0.0").out
    assert "f1 (binary, positive=churn)" in text
    assert "average_precision (positive=churn)" in text and "brier_score (positive=churn)" in text
    compared = project.mvctl("compare", "churn@1.0.0", "churn@1.1.0")
    assert compared.code == 0, compared.text
    assert "f1 (binary, positive=churn)" in compared.out
    rows = json.loads(project.mvctl("compare", "churn@1.0.0", "churn@1.1.0", "--json").out)
    labels = {r["metric"]: r["label"] for r in rows["datasets"][0]["metrics"]}
    assert labels["f1"] == "f1 (binary, positive=churn)" and labels["accuracy"] == "accuracy"
    brier = next(r for r in rows["datasets"][0]["metrics"] if r["metric"] == "brier_score")
    assert brier["verdict"] == ("better" if brier["b"] < brier["a"] else "worse")


def test_a_gate_on_brier_score_treats_lower_as_better(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    project.edit_config('"brier_score <= 0.25"', '"brier_score <= baseline(production) - 0.05"')
    project.edit_config(
        'aliases: {production: "1.0.0"}', 'aliases: {production: "1.0.0", staging: "1.0.0"}'
    )
    assert project.mvctl("apply", "--auto-approve").code == 0
    project.edit_config('staging: "1.0.0"', 'staging: "1.1.0"')
    applied = project.mvctl("apply", "--auto-approve")
    shown = json.loads(project.mvctl("show", "churn@1.1.0", "--json").out)
    (evaluation,) = shown["evaluations"]
    base = json.loads(project.mvctl("show", "churn@1.0.0", "--json").out)["evaluations"][0]
    # The heavily regularised 1.1.0 is less calibrated: a higher (worse) Brier score.
    assert evaluation["metrics"]["brier_score"] > base["metrics"]["brier_score"] - 0.05
    assert applied.code == 4, applied.text
    assert "staging stays at 1.0.0: gate 'brier_score <= baseline(production) - 0.05' fail" in (
        applied.out
    )


def test_a_pos_label_that_is_no_class_fails_the_evaluation_naming_the_field(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    project.edit_config("pos_label: churn", "pos_label: chrun")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert (
        "'models.churn.evaluation.pos_label': pos_label 'chrun' is not one of the classes "
        "('churn', 'stay')" in applied.text
    )
    assert "Traceback" not in applied.text
    status = json.loads(project.mvctl("status", "--json").out)
    assert status["models"][0]["aliases"] == []  # production never moved to an unscored version
