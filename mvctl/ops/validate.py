"""mvctl validate: load the config with every check, and the files it names.

A config that does not load, or names a dependency or artifact that is not there, raises the
SpecError that says so (all problems found in one pass): an invalid config is an error,
reported as every command reports it.
"""

from __future__ import annotations

from pathlib import Path

from mvctl.results.validate import ValidateResult
from mvctl.workspace import load_workspace


def validate(config_path: Path | None) -> ValidateResult:
    workspace = load_workspace(config_path)
    workspace.check_deps_exist()
    workspace.check_registered_artifacts()
    models = workspace.config.models
    return ValidateResult(
        len(models),
        sum(len(model.versions) for model in models.values()),
        tuple(str(path) for path in workspace.loaded.files),
    )
