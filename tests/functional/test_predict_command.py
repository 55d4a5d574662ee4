"""A model mvctl cannot load itself, scored through its `predict:` command (a regression task):
the metrics are scikit-learn's on what the command predicted, and NaN predictions are refused
with a clear error while the alias stays put."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from mvctl.state.db import StateDB
from tests.functional.projects import Project, make_tiny

# The tiny project's model is one float32 weight w = lr * rows in a safetensors file.
PREDICT = """\
import csv, json, os, struct
with open(os.environ["MVCTL_MODEL_FILE"], "rb") as f:
    (size,) = struct.unpack("<Q", f.read(8))
    f.read(size)
    (w,) = struct.unpack("<f", f.read(4))
with open(os.environ["MVCTL_PREDICT_INPUT"]) as f:
    rows = list(csv.DictReader(f))
with open(os.environ["MVCTL_PREDICT_OUTPUT"], "w") as f:
    f.write("prediction\\n")
    for row in rows:
        f.write(("nan" if os.environ.get("PREDICT_NAN") else repr(w * float(row["x"]))) + "\\n")
"""

EVALUATION = """\
    task: regression
    evaluation:
      dataset: data/holdout.csv
      label: target
      predict: python steps/predict.py
      metrics: [mse, mae, r2]
      gates: ["r2 >= -100", "mse <= baseline(production) + 100"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/predict.py", PREDICT)
    xs = np.linspace(-2, 2, 21)
    project.write(
        "data/holdout.csv", "x,target\n" + "".join(f"{x:.2f},{1.5 * x:.4f}\n" for x in xs)
    )
    project.edit_config("    owners: [tester]\n", "    owners: [tester]\n" + EVALUATION)
    return project


def test_the_predict_command_scores_the_model(project: Project) -> None:
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    table = np.loadtxt(project.root / "data" / "holdout.csv", delimiter=",", skiprows=1)
    x, y = table[:, 0], table[:, 1]
    with StateDB.open(f"sqlite:///{project.root / '.mvctl' / 'state.db'}", create=False) as db:
        stored = {r.label: r.metrics for r in db.evaluations_of("churn")}
    for label, weight in (("1.0.0", 1.0), ("1.1.0", 2.0)):  # lr * rows: 0.1 * 10 and 0.2 * 10
        predicted = np.float32(weight) * x
        assert stored[label]["mse"] == pytest.approx(skm.mean_squared_error(y, predicted), rel=1e-6)
        assert stored[label]["r2"] == pytest.approx(skm.r2_score(y, predicted), rel=1e-6)
    assert project.mvctl("plan", "--detailed-exitcode").code == 0


def test_nan_predictions_fail_clearly_and_promote_nothing(project: Project) -> None:
    assert project.mvctl("apply", "--auto-approve").code == 0
    project.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}',
    )
    project.edit_config('staging: "1.1.0"', 'staging: "1.2.0"')
    applied = project.mvctl("apply", "--auto-approve", extra_env={"PREDICT_NAN": "1"})
    assert applied.code == 1, applied.text
    assert (
        "churn@1.2.0, dataset 'data/holdout.csv': the model of churn@1.2.0 predicted NaN"
        in applied.out
    )
    assert "'models.churn.evaluation.dataset'" in applied.out
    status = json.loads(project.mvctl("status", "--json").out)
    assert {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}["staging"] == "1.1.0"
    planned = project.mvctl("plan")
    assert "evaluate churn@1.2.0" in planned.out and "the last evaluation failed" in planned.out
