"""A small, fast project whose versions are evaluated and gated, for end-to-end tests.

Its prepare step makes a linearly separable-ish binary problem with numpy alone (no
scikit-learn import), the built-in sklearn trainer fits a logistic regression, and two
datasets score it: a CSV hold-out written beside the config and the prepare step's own test
split. Everything trains in a few seconds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tests.functional.projects import Project, base_env

PREPARE = """\
import numpy as np
from mvctl import step
p = step.params()
rng = np.random.default_rng(p["seed"])
w = np.array([1.5, -2.0, 0.5, 1.0])
x = rng.normal(size=(400, 4))
y = (x @ w + rng.normal(scale=1.0, size=400) > 0).astype(int)
np.savez(step.output("train.npz"), X_train=x[:300], y_train=y[:300], X_test=x[300:], y_test=y[300:])
"""

CONFIG = """\
project: scored
models:
  churn:
    task: binary-classification
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {seed: 1}
        outputs: [train.npz]
      - name: train
        uses: sklearn
        with: {estimator: sklearn.linear_model.LogisticRegression}
        params: {C: 1.0}
        deps: [prepare]
    evaluation:
      datasets:
        - {path: data/holdout.csv, label: churned}
        - {name: split, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}
      metrics: [accuracy, precision, recall, f1, roc_auc, log_loss, latency_p50_ms, qps]
      speed: {batch_size: 16, repetitions: 6, warmup: 2}
      gates: ["accuracy >= 0.7", "roc_auc >= baseline(production) - 0.05"]
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {C: 0.05}}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
"""


def write_holdout(path: Path, *, seed: int = 99, rows: int = 120, label: str = "churned") -> None:
    rng = np.random.default_rng(seed)
    w = np.array([1.5, -2.0, 0.5, 1.0])
    x = rng.normal(size=(rows, 4))
    y = (x @ w + rng.normal(scale=1.0, size=rows) > 0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["f0", "f1", "f2", "f3", label])
        for features, target in zip(x, y, strict=True):
            writer.writerow([*(f"{v:.6f}" for v in features), int(target)])


def make_scored(root: Path, state_url: str | None = None) -> Project:
    project = Project(root, base_env(state_url))
    project.write("mvctl.yaml", CONFIG)
    project.write("steps/prepare.py", PREPARE)
    write_holdout(root / "data" / "holdout.csv")
    return project
