"""`mvctl export --format mlflow` of a real trained torch version: the real MLflow loads the
directory in its own interpreter, with no mvctl importable, and predicts what mvctl's own
torch loading predicts; the directory holds no pickle, and a module source mvctl may not read
is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mvctl.state.db import StateDB
from tests.functional.projects import REPO, Project, base_env
from tests.torch.test_torch_evaluation import blob

pytestmark = [pytest.mark.torch, pytest.mark.slow]
pytest.importorskip(
    "torch", reason="the torch tests need `pip install -e '.[test]'` (torch, safetensors)"
)
pytest.importorskip("safetensors")

LOAD_WITH_MLFLOW = """\
import json, sys
import numpy as np
sys.modules["mvctl"] = None  # any import of mvctl fails: the directory must stand alone
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps({"predictions": model.predict(x).tolist(),
                  "metadata": model.metadata.metadata}))
"""


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("torch-mlflow") / "digits"
    shutil.copytree(
        REPO / "examples" / "digits-torch", root, ignore=shutil.ignore_patterns(".mvctl")
    )
    project = Project(root, base_env(None))
    applied = project.mvctl("apply", "--auto-approve", "--target", "digits@1.0.0")
    assert applied.code == 0, applied.text
    return project


def _holdout(root: Path) -> np.ndarray:
    with StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=False) as db:
        detail = db.version_detail("digits", "1.0.0")
        assert detail is not None
        run = db.step_run(detail.lineage["steps"]["prepare"]["key"])
    assert run is not None
    with np.load(blob(root / ".mvctl" / "store" / "objects", run.outputs["train.npz"])) as data:
        return np.asarray(data["X_test"])


def test_mlflow_loads_a_torch_export_and_predicts_as_mvctl_does(
    digits: Project, tmp_path: Path
) -> None:
    from mvctl.apply.torch_model import load_torch_model, predict, read_recipe

    out = tmp_path / "digits-mlflow"
    exported = digits.mvctl("export", "digits@1.0.0", "--format", "mlflow", "-o", str(out))
    assert exported.code == 0, exported.text
    shown = json.loads(digits.mvctl("show", "digits@1.0.0", "--json").out)
    from mvctl.store.blobs import hash_file

    assert hash_file(out / "model.safetensors") == shown["artifact_digest"]
    assert (out / "code" / "digits_model.py").read_bytes() == (
        digits.root / "digits_model.py"
    ).read_bytes()
    assert not [p for p in out.rglob("*") if p.suffix in (".pkl", ".pickle", ".pt", ".pth")]
    x = _holdout(digits.root)
    features = tmp_path / "x.npy"
    np.save(features, x)
    # A fresh interpreter in a folder of its own, with mvctl blocked and the project off its path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", LOAD_WITH_MLFLOW, str(out), str(features)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    from_mlflow = json.loads(loaded.stdout.strip().splitlines()[-1])
    model_file = out / "model.safetensors"
    module = load_torch_model(
        model_file, expected_module="digits_model.DigitsMLP", import_root=digits.root
    )
    recipe = read_recipe(model_file)
    expected = predict(module, x, recipe.task, recipe.classes).tolist()
    assert from_mlflow["predictions"] == expected
    assert len(set(expected)) == 10  # every digit: equal predictions are not a constant
    assert from_mlflow["metadata"]["mvctl"]["label"] == "1.0.0"
    accuracy = from_mlflow["metadata"]["metrics"][0]["accuracy"]
    assert accuracy == shown["evaluations"][0]["metrics"]["accuracy"]


def test_a_module_source_that_is_a_symlink_out_of_the_project_is_refused(
    digits: Project, tmp_path: Path
) -> None:
    source = digits.root / "digits_model.py"
    outside = tmp_path / "digits_model.py"
    shutil.copyfile(source, outside)
    moved = tmp_path / "kept.py"
    source.rename(moved)
    source.symlink_to(outside)
    try:
        out = tmp_path / "refused"
        refused = digits.mvctl("export", "digits@1.0.0", "--format", "mlflow", "-o", str(out))
    finally:
        source.unlink()
        moved.rename(source)
    assert refused.code == 1, refused.text
    assert "digits_model.DigitsMLP" in refused.err and "not a regular file" in refused.err
    assert "Traceback" not in refused.text
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
