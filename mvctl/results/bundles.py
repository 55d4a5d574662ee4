"""What `mvctl export` and `mvctl import` did, for the renderers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExportResult:
    model: str
    label: str
    out: Path
    files: int
    signer: str | None = None
    format: str = "bundle"
    """bundle: an mvctl bundle file; mlflow: an MLflow model directory."""


@dataclass(frozen=True)
class ImportResult:
    model: str
    label: str
    origin: str
    """project/model@label the bundle was exported from."""
    bundle: str
    """The bundle's path in the project, as the version block names it."""
    config_file: Path
    diff: str
    """The edit made to ``config_file``; empty when it already declared this bundle."""
    signer: str | None
    model_added: bool
