"""Read an evaluation dataset into a features matrix and a labels vector.

CSV files are read with the standard library (no pandas dependency), Parquet through pyarrow
when it is installed, NPZ through numpy with pickles refused. Every problem is an
``EvaluationError`` naming the version, the dataset and the config field to fix: a missing
label column, no rows, non-numeric features, arrays of different lengths.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.core.plan import DatasetRef
from mvctl.errors import EvaluationError


@dataclass(frozen=True)
class LoadedData:
    x: Any
    """2-D float array, one row per example."""
    y: Any
    """1-D array of true labels (ints, floats or strings)."""
    features: tuple[str, ...]
    """Column names, where the format has them."""

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])


class DataProblem:
    """Builds errors that name the version, the dataset and the config field."""

    def __init__(self, ref: DatasetRef, target: str) -> None:
        self.ref = ref
        self.target = target

    def __call__(self, what: str, fix: str, key: str = "") -> EvaluationError:
        return EvaluationError(
            f"{self.target}, dataset '{self.ref.name}': {what}", field=self.field(key), fix=fix
        )

    def field(self, key: str) -> str:
        """The config field to fix: the dataset's ``key``; the ``dataset:`` shorthand has only
        a ``label`` beside it."""
        declared = self.ref.field
        if not key:
            return declared
        if declared.endswith("]"):
            return f"{declared}.{key}"
        return declared.rsplit(".", 1)[0] + ".label" if key == "label" else declared

    def evaluation_field(self, key: str) -> str:
        """The config field ``key`` of the evaluation this dataset belongs to (``pos_label``)."""
        model, found, _ = self.ref.field.rpartition(".evaluation.")
        return f"{model}.evaluation.{key}" if found else key


def load_dataset(ref: DatasetRef, path: Path, target: str, *, labelled: bool = True) -> LoadedData:
    """The data of ``ref``, read from ``path`` (the file, or the step output fetched from the
    store); without ``labelled`` only the features are read (``y`` is None): a live batch
    whose ground truth has not arrived yet."""
    problem = DataProblem(ref, target)
    if ref.format == "npz":
        data = _read_npz(ref, path, problem, labelled)
    else:
        header, columns = (
            _read_csv(path, problem) if ref.format == "csv" else _read_parquet(path, problem)
        )
        data = _from_columns(ref, header, columns, problem, labelled)
    if data.rows == 0:
        raise problem(
            "the data has no rows", "Point the evaluation at a file with at least one labelled row."
        )
    return data


def _read_csv(path: Path, problem: DataProblem) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise problem(
            f"cannot read the CSV file: {error}", "Write it as UTF-8 CSV with a header row."
        ) from error
    if not rows:
        raise problem(
            "the CSV file is empty", "Write a header row naming the columns, then the data."
        )
    header, body = rows[0], [row for row in rows[1:] if row]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise problem(
                f"line {number} has {len(row)} fields but the header names {len(header)}",
                "Make every row as long as the header.",
            )
    columns = [[row[i] for row in body] for i in range(len(header))]
    return header, columns


def _read_parquet(path: Path, problem: DataProblem) -> tuple[list[str], list[list[Any]]]:
    if importlib.util.find_spec("pyarrow") is None:
        raise problem(
            "reading Parquet needs pyarrow, which is not installed",
            "Run `pip install pyarrow`, or give the data as CSV or NPZ.",
        )
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own error types for a damaged file
        raise problem(
            f"cannot read the Parquet file: {error}", "Write it again with pyarrow or pandas."
        ) from error
    return list(table.column_names), [table.column(name).to_pylist() for name in table.column_names]


def _from_columns(
    ref: DatasetRef,
    header: list[str],
    columns: list[list[Any]],
    problem: DataProblem,
    labelled: bool,
) -> LoadedData:
    import numpy as np

    index = {name: i for i, name in enumerate(header)}
    if labelled and ref.label not in index:
        raise problem(
            f"there is no label column '{ref.label}'; the columns are {', '.join(header)}",
            "Set 'label' to the column holding the true labels.",
            "label",
        )
    names = list(ref.features) or [name for name in header if name != ref.label]
    missing = [name for name in names if name not in index]
    if missing:
        raise problem(
            f"feature column(s) {', '.join(missing)} are not in the data",
            f"The columns are {', '.join(header)}.",
            "features",
        )
    if not names:
        raise problem(
            "the data has a label column and no feature columns", "Add the features.", "features"
        )
    x = np.empty((len(columns[0]) if columns else 0, len(names)), dtype=float)
    for j, name in enumerate(names):
        for i, cell in enumerate(columns[index[name]]):
            try:
                x[i, j] = float(cell) if cell not in ("", None) else np.nan
            except (TypeError, ValueError):
                raise problem(
                    f"feature '{name}' holds {cell!r} (row {i + 1}), which is not a number",
                    "Encode features as numbers, or list the numeric ones under 'features'.",
                    "features",
                ) from None
    if not labelled:
        return LoadedData(x, None, tuple(names))
    labels = columns[index[ref.label or ""]]
    if any(cell in ("", None) for cell in labels):
        raise problem(
            "some rows have no label", "Fill in every label, or drop those rows.", "label"
        )
    return LoadedData(x, parse_labels(labels), tuple(names))


def parse_labels(cells: list[Any]) -> Any:
    """Labels as ints where they all are, else floats, else text (class names)."""
    import numpy as np

    for kind in (int, float):
        try:
            return np.asarray([kind(cell) for cell in cells])
        except (TypeError, ValueError):
            continue
    return np.asarray([str(cell) for cell in cells])


def _read_npz(ref: DatasetRef, path: Path, problem: DataProblem, labelled: bool) -> LoadedData:
    import numpy as np

    fix = "Save plain numeric arrays with numpy.savez (object arrays are refused)."
    try:
        # numpy leaves a file it opened itself open when the archive is damaged: open it here.
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise problem("it holds one .npy array, not an NPZ archive of named arrays", fix)
            with loaded as archive:
                arrays = {name: archive[name] for name in archive.files}
    except EvaluationError:
        raise
    except Exception as error:
        # A damaged archive fails in zipfile, zlib or numpy's reader, each with errors of its
        # own (BadZipFile, EOFError, an encrypted or unsupported member, a header that lies).
        raise problem(f"cannot read the NPZ file: {error}", fix) from error
    wanted = ((ref.x, "x_array"), (ref.y, "y_array")) if labelled else ((ref.x, "x_array"),)
    for key, field in wanted:
        if key not in arrays:
            raise problem(
                f"there is no array '{key}'; the file holds {', '.join(sorted(arrays)) or 'none'}",
                f"Set '{field}' to one of the file's arrays.",
                field,
            )
    x = arrays[ref.x]
    y = arrays[ref.y] if labelled else np.zeros(x.shape[:1])
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or y.ndim != 1:
        raise problem(
            f"'{ref.x}' must be a 2-D array and '{ref.y}' a 1-D one "
            f"(they have shapes {x.shape} and {y.shape})",
            "Save one row per example.",
            "x_array",
        )
    if x.shape[0] != y.shape[0]:
        raise problem(
            f"'{ref.x}' has {x.shape[0]} rows but '{ref.y}' has {y.shape[0]}",
            "Save features and labels of the same examples.",
            "y_array",
        )
    if not np.issubdtype(x.dtype, np.number):
        raise problem(
            f"'{ref.x}' holds {x.dtype} values, not numbers",
            "Encode the features as numbers.",
            "x_array",
        )
    return LoadedData(x.astype(float, copy=False), y if labelled else None, ())
