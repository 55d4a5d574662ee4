"""Every load checks the file again: `mvctl compare --data` refuses a hostile model that is
already in the state and the store (as an older mvctl could have recorded it), and a training
step whose output is hostile fails its version without running anything.

The hostile versions are written straight into a trained project's state and store, the way an
apply once did; compare must refuse them with one line, exit 1, run nothing and write nothing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvctl.state.db import StateDB
from mvctl.store.blobs import LocalStore
from tests.functional.inprocess import run_cli
from tests.functional.projects import Project
from tests.functional.scored_project import make_scored
from tests.hostile.corpus import (
    EVIL_MODULE,
    module_injection,
    skops_eval,
    skops_forest,
    skops_function_node,
    skops_numpy_load,
    write_evil_module,
)
from tests.state.state_helpers import apply, version_change, version_value

pytestmark = pytest.mark.slow

TRAINED = {"steps": {"train": {"key": "k", "cached": False}}, "artifact": {"step": "train"}}
REGISTERED = {"artifact": {"source": "elsewhere.skops"}}


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_scored(tmp_path_factory.mktemp("hostile-load") / "proj")
    result = project.mvctl("apply", "--auto-approve", "--target", "churn@1.0.0")
    assert result.code == 0, result.text
    return project


@pytest.fixture
def project(applied: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "proj"
    shutil.copytree(applied.root, root)
    write_evil_module(root, root / "CANARY")
    monkeypatch.syspath_prepend(str(root))
    for name in ("MVCTL_STATE", "MVCTL_STORE"):
        monkeypatch.delenv(name, raising=False)
    yield Project(root, applied.env)
    sys.modules.pop(EVIL_MODULE, None)


def state(root: Path) -> StateDB:
    return StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=False)


def record_version(root: Path, label: str, file: Path, lineage: dict[str, Any]) -> None:
    digest = LocalStore(root / ".mvctl" / "store").put_file(file)
    file.unlink()
    with state(root) as db:
        value = version_value(artifact_digest=digest, lineage=lineage, apply_id=None)
        apply(db, [version_change("churn", label, value)])


def compare(project: Project, label: str) -> tuple[int, str]:
    result = run_cli(
        "-c",
        str(project.root / "mvctl.yaml"),
        "compare",
        "churn@1.0.0",
        f"churn@{label}",
        "--data",
        str(project.root / "data" / "holdout.csv"),
        "--label",
        "churned",
    )
    assert "Traceback" not in result.text and "Internal error" not in result.text
    return result.code, result.err


@pytest.mark.parametrize(
    ("build", "lineage", "refusal"),
    [
        (skops_eval, REGISTERED, "builtins.eval"),
        (skops_numpy_load, TRAINED, "numpy.load"),
        (skops_function_node, TRAINED, "builtins.exec (a function)"),
        (skops_forest, REGISTERED, "builds sklearn.tree._tree.Tree"),
        (module_injection, TRAINED, f"names the torch module '{EVIL_MODULE}.Model'"),
    ],
    ids=["eval", "numpy.load", "function node", "unlisted Tree", "module injection"],
)
def test_compare_refuses_a_hostile_recorded_model(
    build: Callable[[Path, Path], Path], lineage: dict[str, Any], refusal: str, project: Project
) -> None:
    record_version(project.root, "6.6.6", build(project.root, project.root / "CANARY"), lineage)
    with state(project.root) as db:
        before = db.inventory()
    code, err = compare(project, "6.6.6")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("Error: the model of churn@6.6.6 (") and refusal in line, line
    assert not (project.root / "CANARY").exists() and EVIL_MODULE not in sys.modules
    with state(project.root) as db:
        assert db.inventory() == before


def test_compare_loads_a_forest_mvctl_trained(project: Project) -> None:
    """A forest whose registration needs its Tree listed loads unlisted as mvctl's own work."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from skops.io import dump

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, x[:, 0] > 0)
    dump(forest, project.root / "forest.skops")
    record_version(project.root, "6.6.7", project.root / "forest.skops", TRAINED)
    code, err = compare(project, "6.6.7")
    assert (code, err) == (0, "")
    record_version(
        project.root, "6.6.8", skops_forest(project.root, project.root / "C"), REGISTERED
    )
    assert compare(project, "6.6.8")[0] == 1


STEP = """\
from pathlib import Path
from mvctl import step
from tests.hostile.corpus import skops_eval
made = skops_eval(Path.cwd() / "made", Path.cwd() / "CANARY")
made.replace(step.output("model.skops"))
"""


def test_a_training_step_that_writes_a_hostile_model_fails_its_version(tmp_path: Path) -> None:
    project = make_scored(tmp_path / "proj")
    (project.root / "made").mkdir()
    project.write("steps/rogue.py", STEP)
    project.edit_config(
        "        uses: sklearn\n"
        "        with: {estimator: sklearn.linear_model.LogisticRegression}\n"
        "        params: {C: 1.0}\n        deps: [prepare]\n",
        "        run: python steps/rogue.py\n"
        "        params: {C: 1.0}\n        deps: [prepare, steps/rogue.py]\n"
        "        outputs: [model.skops]\n",
    )
    result = project.mvctl("apply", "--auto-approve", "--target", "churn@1.0.0")
    assert result.code == 1 and "Traceback" not in result.text
    assert "builtins.eval" in result.text
    assert not (project.root / "CANARY").exists()
    with state(project.root) as db:
        detail = db.version_detail("churn", "1.0.0")
    assert detail is not None and detail.status == "failed"
    assert "builtins.eval" in str(detail.failure)
