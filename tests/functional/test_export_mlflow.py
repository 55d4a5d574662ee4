"""`mvctl export --format mlflow`: a real version, loaded by the real MLflow (pinned in the
test extra) in its own interpreter, predicts what mvctl's own loading predicts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mvctl.apply.predictors import open_predictor
from mvctl.store.blobs import hash_file
from tests.functional.projects import Project
from tests.functional.scored_project import make_scored

pytestmark = pytest.mark.slow

LOAD_WITH_MLFLOW = """\
import json, sys
import numpy as np
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
x = np.array(json.loads(sys.argv[2]), dtype=np.float64)
print(json.dumps({"predictions": model.predict(x).tolist(),
                  "signature": model.metadata.signature.to_dict(),
                  "metadata": model.metadata.metadata}))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_scored(tmp_path_factory.mktemp("mlflow") / "proj")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    return project


def _holdout(project: Project) -> list[list[float]]:
    with (project.root / "data" / "holdout.csv").open() as handle:
        rows = list(csv.reader(handle))
    return [[float(cell) for cell in row[:-1]] for row in rows[1:]]


def test_mlflow_loads_the_export_and_predicts_as_mvctl_does(
    trained: Project, tmp_path: Path
) -> None:
    out = tmp_path / "churn-mlflow"
    exported = trained.mvctl("export", "churn:production", "--format", "mlflow", "-o", str(out))
    assert exported.code == 0, exported.text
    shown = json.loads(trained.mvctl("show", "churn@1.0.0", "--json").out)
    assert hash_file(out / "model.skops") == shown["artifact_digest"]
    x = _holdout(trained)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_WITH_MLFLOW, str(out), json.dumps(x)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    from_mlflow = json.loads(loaded.stdout.strip().splitlines()[-1])
    import numpy as np

    own = open_predictor(
        out / "model.skops", [], what="the export", registered=False, torch_module=None
    )
    expected = own.predictions(np.array(x), (), want_scores=False).labels.tolist()
    assert from_mlflow["predictions"] == expected
    assert len(set(expected)) == 2  # both classes: equal predictions are not a constant
    inputs = json.loads(from_mlflow["signature"]["inputs"])
    assert inputs[0]["tensor-spec"]["shape"] == [-1, len(x[0])]
    metadata = from_mlflow["metadata"]
    assert (metadata["mvctl"]["label"], metadata["mvctl"]["project"]) == ("1.0.0", "scored")
    holdout = next(m for m in metadata["metrics"] if m["dataset"] == "data/holdout.csv")
    recorded = next(e for e in shown["evaluations"] if e["dataset"] == "data/holdout.csv")
    assert holdout["accuracy"] == recorded["metrics"]["accuracy"]


def test_mlflow_export_refuses_a_folder_that_is_not_empty(trained: Project, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = trained.mvctl("export", "churn@1.0.0", "--format", "mlflow", "-o", str(out))
    assert refused.code == 1
    assert "not an empty folder" in refused.err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".taken*"))


def test_mlflow_export_refuses_a_symlink(trained: Project, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    refused = trained.mvctl("export", "churn@1.0.0", "--format", "mlflow", "-o", str(link))
    assert refused.code == 1
    assert "is a symlink" in refused.err
    assert link.is_symlink() and not list(target.iterdir())
