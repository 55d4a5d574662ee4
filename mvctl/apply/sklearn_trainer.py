"""The built-in `uses: sklearn` trainer, run as a step subprocess like any other.

It imports the estimator named by `with.estimator`, fits it on the upstream step's NPZ data
(`X_train`/`y_train`, or `X`/`y`; `with.data` names the file, default `train.npz`) with the
step's params as keyword arguments, and saves it with skops (never pickle). When the data
also holds `X_test`/`y_test` it reports the held-out score in its log.

The file is written byte for byte the same whenever the same estimator is fitted the same way,
so `mvctl reproduce` can compare digests: skops names its entries by ``id()`` (a memory
address) or a random uuid and stamps each with the time, so the archive is rewritten with
those names numbered in the order the schema meets them and a fixed timestamp.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from mvctl import step
from mvctl.apply.skops_import import skops_io


def _load_estimator(path: str, params: dict[str, Any]) -> Any:
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise SystemExit(
            f"mvctl sklearn trainer: cannot import estimator {path!r}: {error}"
        ) from error
    try:
        return cls(**params)
    except TypeError as error:
        raise SystemExit(f"mvctl sklearn trainer: bad params for {path}: {error}") from error


def _find_data(name: str) -> Path:
    inputs: dict[str, str] = json.loads(os.environ.get("MVCTL_INPUTS", "{}"))
    candidates = [Path(folder) / name for folder in inputs.values()]
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        where = ", ".join(sorted(inputs)) or "no upstream steps"
        raise SystemExit(
            f"mvctl sklearn trainer: expected exactly one upstream output named {name!r} "
            f"(upstream: {where}); name the file with `with: {{data: ...}}`"
        )
    return found[0]


SCHEMA_NAME = "schema.json"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip entry can carry: every entry gets it."""


def canonical_skops(archive: bytes) -> bytes:
    """The same skops archive with names and times that do not depend on the process."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        names = set(source.namelist()) - {SCHEMA_NAME}
        schema = json.loads(source.read(SCHEMA_NAME))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}
        _renumber(schema, ids, files, names)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for old, new in files.items():
                target.writestr(_entry(new), source.read(old))
            target.writestr(_entry(SCHEMA_NAME), json.dumps(schema, indent=2))
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str], names: set[str]) -> None:
    """Number every object id and file name in the order first met; shared ones stay shared."""
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files, names)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "__id__" and type(value) is int:
            node[key] = ids.setdefault(value, len(ids) + 1)
        elif key == "file" and isinstance(value, str) and value in names:
            node[key] = files.setdefault(value, f"{len(files) + 1}{Path(value).suffix}")
        else:
            _renumber(value, ids, files, names)


def _entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    entry.external_attr = 0o644 << 16
    return entry


def main() -> None:
    import numpy as np

    dumps = skops_io().dumps

    settings = step.settings()
    estimator = _load_estimator(str(settings.get("estimator", "")), step.params())
    with np.load(_find_data(str(settings.get("data", "train.npz")))) as data:
        keys = set(data.files)
        x_key, y_key = ("X_train", "y_train") if "X_train" in keys else ("X", "y")
        if x_key not in keys or y_key not in keys:
            raise SystemExit(
                f"mvctl sklearn trainer: the data needs arrays X_train/y_train or X/y, has {sorted(keys)}"
            )
        x_train, y_train = data[x_key], data[y_key]
        held_out = (data["X_test"], data["y_test"]) if {"X_test", "y_test"} <= keys else None
    step.progress(0.05, stage="fit", rows=len(x_train))
    estimator.fit(x_train, y_train)
    step.progress(0.9, stage="save")
    if held_out is not None:
        print(json.dumps({"held_out_score": float(estimator.score(*held_out))}))
    step.output("model.skops").write_bytes(canonical_skops(dumps(estimator)))
    step.progress(1.0)


if __name__ == "__main__":
    main()
