"""Reading evaluation data: CSV and NPZ into features and labels, and every bad input as an
error naming the version, the dataset and the config field to fix."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mvctl.apply.datasets import load_dataset
from mvctl.core.plan import DatasetRef
from mvctl.errors import EvaluationError

CSV = DatasetRef(
    "holdout.csv",
    "sha256:d",
    "csv",
    "sha256:c",
    path="holdout.csv",
    label="churned",
    field="models.churn.evaluation.dataset",
)
NPZ = DatasetRef(
    "prepare/train.npz",
    "sha256:d",
    "npz",
    "key",
    step="prepare",
    file="train.npz",
    x="X_test",
    y="y_test",
    field="models.churn.evaluation.datasets[1]",
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holdout.csv"
    path.write_text(text, "utf-8")
    return path


def error_of(ref: DatasetRef, path: Path) -> EvaluationError:
    with pytest.raises(EvaluationError) as caught:
        load_dataset(ref, path, "churn@1.1.0")
    return caught.value


def test_csv_features_are_every_column_but_the_label(tmp_path: Path) -> None:
    data = load_dataset(CSV, write(tmp_path, "age,churned,spend\n30,1,2.5\n41,0,\n"), "churn@1.1.0")
    assert data.features == ("age", "spend")
    assert data.y.tolist() == [1, 0]
    assert data.x[0].tolist() == [30.0, 2.5] and np.isnan(data.x[1, 1])


def test_declared_features_pick_and_order_the_columns(tmp_path: Path) -> None:
    ref = replace(CSV, features=("spend", "age"))
    data = load_dataset(ref, write(tmp_path, "age,churned,spend,id\n30,yes,2.5,a\n"), "churn@1.1.0")
    assert data.x.tolist() == [[2.5, 30.0]] and data.y.tolist() == ["yes"]


def test_a_missing_label_column_names_model_dataset_and_field(tmp_path: Path) -> None:
    error = error_of(CSV, write(tmp_path, "age,spend\n30,2.5\n"))
    assert error.field == "models.churn.evaluation.label"
    assert "churn@1.1.0" in error.message and "'holdout.csv'" in error.message
    assert "no label column 'churned'" in error.message and "age, spend" in error.message


def test_an_empty_dataset_is_refused(tmp_path: Path) -> None:
    assert "no rows" in error_of(CSV, write(tmp_path, "age,churned\n")).message
    assert "empty" in error_of(CSV, write(tmp_path, "")).message


def test_a_non_numeric_feature_is_refused_naming_it(tmp_path: Path) -> None:
    error = error_of(CSV, write(tmp_path, "city,churned\nParis,1\n"))
    assert "feature 'city' holds 'Paris' (row 1)" in error.message


def test_a_ragged_csv_row_is_refused(tmp_path: Path) -> None:
    assert (
        "line 3 has 3 fields" in error_of(CSV, write(tmp_path, "a,churned\n1,0\n1,0,9\n")).message
    )


def test_npz_arrays_are_read_by_name(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    np.savez(path, X_test=np.ones((4, 3)), y_test=np.array([0, 1, 0, 1]))
    data = load_dataset(NPZ, path, "churn@1.1.0")
    assert data.x.shape == (4, 3) and data.y.tolist() == [0, 1, 0, 1]


def test_npz_problems_name_the_array_field(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    np.savez(path, X_test=np.ones((4, 3)), y=np.array([0, 1, 0, 1]))
    error = error_of(NPZ, path)
    assert (
        error.field == "models.churn.evaluation.datasets[1].y_array"
        and "no array 'y_test'" in error.message
    )
    np.savez(path, X_test=np.ones((4, 3)), y_test=np.array([0, 1]))
    assert "'X_test' has 4 rows but 'y_test' has 2" in error_of(NPZ, path).message
    np.savez(path, X_test=np.ones((0, 3)), y_test=np.array([]))
    assert "no rows" in error_of(NPZ, path).message


def test_pickled_npz_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    np.savez(path, X_test=np.array([{"a": 1}], dtype=object), y_test=np.array([1]))
    assert "cannot read the NPZ file" in error_of(NPZ, path).message


def test_parquet_without_pyarrow_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a),
    )
    path = tmp_path / "holdout.parquet"
    path.write_bytes(b"PAR1")
    error = error_of(replace(CSV, format="parquet", name="holdout.parquet"), path)
    assert "needs pyarrow" in error.message and "pip install pyarrow" in error.message


def test_parquet_is_read_when_pyarrow_is_there(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "holdout.parquet"
    pq.write_table(pa.table({"age": [30, 41], "churned": [1, 0]}), path)
    data = load_dataset(replace(CSV, format="parquet"), path, "churn@1.1.0")
    assert data.x.tolist() == [[30.0], [41.0]] and data.y.tolist() == [1, 0]
