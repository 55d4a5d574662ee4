"""Real models still load under the exact trusted list: common estimators trained by the
built-in sklearn trainer, and registered files (a scaler + logistic regression pipeline, a
forest and nearest neighbours, their index types listed in `trusted_types`), are all
evaluated by apply and compared with `mvctl compare --data`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skops.io import dump

from mvctl.state.db import StateDB
from tests.functional.projects import Project, base_env
from tests.functional.scored_project import PREPARE, write_holdout

pytestmark = pytest.mark.slow

EVALUATION = """\
    evaluation:
      datasets: [{path: data/holdout.csv, label: churned}]
      metrics: [accuracy, roc_auc]
"""
TRAINED = {
    "forest": "sklearn.ensemble.RandomForestClassifier",
    "boosted": "sklearn.ensemble.GradientBoostingClassifier",
    "histogram": "sklearn.ensemble.HistGradientBoostingClassifier",
    "neighbours": "sklearn.neighbors.KNeighborsClassifier",
}
PARAMS = {
    "forest": "{n_estimators: 10, random_state: 0}",
    "boosted": "{n_estimators: 10, random_state: 0}",
    "histogram": "{max_iter: 10}",
    "neighbours": "{n_neighbors: 5}",
}
REGISTERED = """\
  registered:
    task: binary-classification
    trusted_types:
      - sklearn.tree._tree.Tree
      - sklearn.neighbors._kd_tree.KDTree
      - sklearn.metrics._dist_metrics.EuclideanDistance64
{evaluation}    versions:
      pipeline: {{artifact: models/pipeline.skops}}
      forest: {{artifact: models/forest.skops}}
      neighbours: {{artifact: models/neighbours.skops}}
"""


def trained_model(name: str) -> str:
    return f"""\
  {name}:
    task: binary-classification
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {{seed: 1}}
        outputs: [train.npz]
      - name: train
        uses: sklearn
        with: {{estimator: {TRAINED[name]}}}
        params: {PARAMS[name]}
        deps: [prepare]
{EVALUATION}    versions:
      "1.0.0": {{}}
"""


def write_registered_models(folder: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = (x @ np.array([1.5, -2.0, 0.5, 1.0]) > 0).astype(int)
    folder.mkdir()
    dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), folder / "pipeline.skops")
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    dump(forest, folder / "forest.skops")
    dump(KNeighborsClassifier().fit(x, y), folder / "neighbours.skops")


def test_common_estimators_train_register_evaluate_and_compare(tmp_path: Path) -> None:
    project = Project(tmp_path / "proj", base_env(None))
    models = "".join(trained_model(name) for name in TRAINED)
    project.write(
        "mvctl.yaml",
        "project: estimators\nmodels:\n" + models + REGISTERED.format(evaluation=EVALUATION),
    )
    project.write("steps/prepare.py", PREPARE)
    write_holdout(project.root / "data" / "holdout.csv")
    write_holdout(project.root / "data" / "fresh.csv", seed=5)
    write_registered_models(project.root / "models")
    assert project.mvctl("validate").code == 0
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    with StateDB.open(f"sqlite:///{project.root / '.mvctl' / 'state.db'}", create=False) as db:
        scored = {
            (record.model, record.label): record.metrics["accuracy"]
            for model in [*TRAINED, "registered"]
            for record in db.evaluations_of(model)
        }
    expected = {(name, "1.0.0") for name in TRAINED} | {
        ("registered", label) for label in ("pipeline", "forest", "neighbours")
    }
    assert set(scored) == expected
    assert all(accuracy > 0.7 for accuracy in scored.values()), scored
    compared = project.mvctl(
        "compare",
        "registered@pipeline",
        "registered@forest",
        "--data",
        "data/fresh.csv",
        "--label",
        "churned",
        "--json",
    )
    assert compared.code == 0, compared.text
    (fresh,) = json.loads(compared.out)["datasets"]
    assert fresh["sources"] == {"a": "computed", "b": "computed"}  # both loaded from the store
