"""The built-in `uses: sklearn` trainer, run as a step subprocess like any other.

It imports the estimator named by `with.estimator`, fits it on the upstream step's NPZ data
(`X_train`/`y_train`, or `X`/`y`; `with.data` names the file, default `train.npz`) with the
step's params as keyword arguments, and saves it with skops (never pickle). When the data
also holds `X_test`/`y_test` it reports the held-out score in its log.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from mvctl import step


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


def main() -> None:
    import numpy as np
    from skops.io import dump

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
    dump(estimator, step.output("model.skops"))
    step.progress(1.0)


if __name__ == "__main__":
    main()
