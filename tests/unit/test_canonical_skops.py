"""The sklearn trainer's skops file is the same bytes for the same fit, and still loads."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mvctl.apply.artifacts import check_safe_artifact
from mvctl.apply.sklearn_trainer import FIXED_TIME, canonical_skops
from mvctl.apply.skops_trust import load_skops

FIT_AND_DUMP = """
import sys
from skops.io import dumps
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from mvctl.apply.sklearn_trainer import canonical_skops
x, y = load_iris(return_X_y=True)
model = RandomForestClassifier(n_estimators=5, random_state=3).fit(x, y)
raw = dumps(model)
open(sys.argv[1], "wb").write(raw)
open(sys.argv[2], "wb").write(canonical_skops(raw))
"""


def fit_in_a_process(folder: Path) -> None:
    """raw.skops (skops' own bytes) and model.skops (canonical) of one fit in a fresh
    interpreter, in ``folder``."""
    folder.mkdir()
    raw, canonical = folder / "raw.skops", folder / "model.skops"
    subprocess.run(
        [sys.executable, "-c", FIT_AND_DUMP, str(raw), str(canonical)], check=True, timeout=120
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding two fits of the same model, each made in its own process."""
    folder = tmp_path_factory.mktemp("fits")
    fit_in_a_process(folder / "a")
    fit_in_a_process(folder / "b")
    return folder


def test_two_processes_fitting_the_same_model_write_the_same_bytes(fitted: Path) -> None:
    raw_a, canonical_a = (fitted / "a" / name for name in ("raw.skops", "model.skops"))
    raw_b, canonical_b = (fitted / "b" / name for name in ("raw.skops", "model.skops"))
    assert raw_a.read_bytes() != raw_b.read_bytes()  # skops names entries by memory address
    assert canonical_a.read_bytes() == canonical_b.read_bytes()
    with zipfile.ZipFile(canonical_a) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {FIXED_TIME}
    assert canonical_skops(canonical_a.read_bytes()) == canonical_a.read_bytes()


def test_the_canonical_file_passes_the_load_checks_and_predicts_the_same(fitted: Path) -> None:
    from sklearn.datasets import load_iris

    raw, canonical = fitted / "a" / "raw.skops", fitted / "a" / "model.skops"
    assert check_safe_artifact(canonical, (), what="the model") == "skops"
    x, _ = load_iris(return_X_y=True)
    original = load_skops(raw, (), registered=False, what="the model")
    rewritten = load_skops(canonical, (), registered=False, what="the model")
    assert (original.predict_proba(x) == rewritten.predict_proba(x)).all()


AUDIT_THEN_WALK = """
import json, sys
from pathlib import Path
from mvctl.apply.skops_trust import audit_skops, load_skops, trusted_names
path = Path(sys.argv[1])
audit_skops(path, (), registered=False, what="the model", shown=path)
load_skops(path, (), registered=False, what="the model")
trusted = set(trusted_names((), registered=False))
torch_while_auditing = "torch" in sys.modules
from sklearn.utils import all_estimators
listed = {f"{cls.__module__}.{cls.__name__}" for _, cls in all_estimators()}
print(json.dumps({
    "torch_while_auditing": torch_while_auditing,
    "torch_after_a_plain_walk": "torch" in sys.modules,
    "estimators_not_trusted": sorted(listed - trusted),
}))
"""


def test_auditing_and_loading_a_skops_file_does_not_import_torch(fitted: Path) -> None:
    """sklearn's estimator walk imports its torch adapter (and so torch) unless mvctl holds
    it back; the estimators trusted must still be every one a plain walk lists."""
    done = subprocess.run(
        [sys.executable, "-c", AUDIT_THEN_WALK, str(fitted / "a" / "model.skops")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seen = json.loads(done.stdout)
    assert seen["torch_after_a_plain_walk"], "the walk no longer imports torch: drop the guard"
    assert not seen["torch_while_auditing"]
    assert seen["estimators_not_trusted"] == []
