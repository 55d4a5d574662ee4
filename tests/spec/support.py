"""Helpers for the configuration loader's tests: write a project, load it, list its errors."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from mvctl.errors import SpecError, SpecErrors
from mvctl.spec.loader import LoadedConfig, load_config

VALID = textwrap.dedent(
    """\
    project: demo
    models:
      churn:
        owners: [risk-team]
        task: binary-classification
        pipeline:
          - name: prepare
            run: python steps/prepare.py
            deps: [data/customers.csv, steps/prepare.py]
            params: {test_size: 0.2, seed: 7}
            outputs: [train.npz]
          - name: train
            uses: sklearn
            with: {estimator: sklearn.ensemble.RandomForestClassifier}
            params: {n_estimators: 100, random_state: 7}
            deps: [prepare]
        evaluation:
          dataset: data/holdout.csv
          label: churned
          metrics: [accuracy, f1, roc_auc]
          gates: ["f1 >= 0.80", "roc_auc >= baseline(production) - 0.01"]
        versions:
          "1.0.0": {}
          "1.1.0": {params: {train: {n_estimators: 300}}}
        aliases: {production: "1.0.0", staging: "1.1.0"}
        health_check: python steps/smoke.py
    notifications:
      - {webhook: "http://127.0.0.1:9000/hook", events: [apply_failed, rollback, gate_failed]}
    policy:
      protected_aliases: {production: {actors: [release-bot, alice]}}
    """
)


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``folder``; return mvctl.yaml."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder / "mvctl.yaml"


def load_text(folder: Path, text: str | bytes, **more: str | bytes) -> LoadedConfig:
    return load_config(write(folder, {"mvctl.yaml": text, **more}))


def errors_of(folder: Path, text: str | bytes, **more: str | bytes) -> list[SpecError]:
    """The errors loading ``text`` gives; fails the test when it loads."""
    try:
        load_text(folder, text, **more)
    except SpecErrors as errors:
        return list(errors.errors)
    raise AssertionError("the configuration loaded, but errors were expected")


def load_bytes_anywhere(data: bytes) -> None:
    """Load ``data`` as mvctl.yaml in a fresh temporary folder (for hypothesis tests)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mvctl.yaml"
        path.write_bytes(data)
        load_config(path)


def describe(errors: list[SpecError]) -> str:
    return "\n".join(
        f"{error.place.line if error.place else '?'}:{error.place.column if error.place else '?'} "
        f"{error.message}"
        for error in errors
    )
