"""What a Python training step imports to talk to mvctl, without knowing the protocol.

    from mvctl import step
    params = step.params()                       # this version's params for this step
    data = step.input("prepare", "train.npz")    # a file an upstream step wrote
    out = step.output("model.skops")             # where to write a declared output
    step.progress(0.4, loss=0.31)                # a progress bar in `mvctl apply`

mvctl runs each step as a subprocess in the project root and hands it these through
environment variables (MVCTL_PARAMS_FILE, MVCTL_INPUTS, MVCTL_OUTPUT_DIR); progress is a
JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError(f"{name} is not set: this script is meant to run as an mvctl step")
    return value


def params() -> dict[str, Any]:
    """The step's params after the version's overrides, read from MVCTL_PARAMS_FILE (large
    params are not in MVCTL_PARAMS)."""
    loaded: dict[str, Any] = json.loads(Path(_env("MVCTL_PARAMS_FILE")).read_text("utf-8"))
    return loaded


def settings() -> dict[str, Any]:
    """A built-in trainer's `with:` settings ({} when the step has none)."""
    path = os.environ.get("MVCTL_WITH_FILE")
    loaded: dict[str, Any] = json.loads(Path(path).read_text("utf-8")) if path else {}
    return loaded


def input(step: str, name: str) -> Path:
    """Path of a file written by an upstream step this step depends on."""
    inputs: dict[str, str] = json.loads(_env("MVCTL_INPUTS"))
    if step not in inputs:
        raise KeyError(f"step {step!r} is not an upstream of this step; add it to `deps`")
    return Path(inputs[step]) / name


def output(name: str) -> Path:
    """Where to write one of this step's declared outputs."""
    return Path(_env("MVCTL_OUTPUT_DIR")) / name


def progress(fraction: float, **fields: Any) -> None:
    """Report progress (0..1) and any metrics; shown live by `mvctl apply`."""
    line = json.dumps({"progress": max(0.0, min(1.0, float(fraction))), **fields})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
