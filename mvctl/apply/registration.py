"""Registered model files (`artifact:`), checked before any plan is made.

`mvctl validate`, `plan` and `apply` run the checks of registration (``check_safe_artifact``
with ``registered=True``) on every version's `artifact:` file, so a hostile file is an error
at its place in the config before anything reads the state or the store.

Checking a skops archive imports scikit-learn, which takes seconds. A file that passed is
remembered by its digest together with everything the verdict depends on (the model's
`trusted_types` and torch module, the skops, scikit-learn and mvctl versions, the rules'
revision), so the next plan does not pay again. Remembered verdicts only spare these early
checks: registration in apply checks its own copy of the file (skipping the audit only when
the state's `artifact_checks` holds a pass for the same bytes under the same rules, as
promotions do), and every load checks the file in full.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

from mvctl.apply.artifacts import check_safe_artifact
from mvctl.apply.served import checker_versions
from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.resolve import torch_module
from mvctl.errors import SpecError, UnsafeArtifactError
from mvctl.spec.loader import LoadedConfig

CACHE_FORMAT = 1
RULES_REVISION = 1
"""Bump when what a registered file may hold changes, so remembered verdicts are redone."""


def check_registered_artifacts(
    loaded: LoadedConfig, digest_of: Callable[[str], str], cache_file: Path
) -> list[SpecError]:
    """An error for each `artifact:` file that registration would refuse, placed at its key."""
    declared = list(_declared(loaded))
    if not declared:
        return []
    passed = _read(cache_file)
    still_passed: set[str] = set()
    errors: list[SpecError] = []
    # Versions registered from one file under one model's rules share a key: hashed once.
    keys: dict[tuple[str, tuple[str, ...], str | None], str] = {}
    for model_name, label, trusted, module, artifact in declared:
        rules = (artifact, tuple(trusted), module)
        key = keys.get(rules)
        if key is None:
            key = keys[rules] = verdict_key(digest_of(artifact), trusted, module)
        if key in passed:
            still_passed.add(key)
            continue
        try:
            check_safe_artifact(
                loaded.root / artifact,
                trusted,
                what=f"the artifact of {model_name}@{label}",
                registered=True,
                torch_module=module,
                shown=Path(artifact),
            )
        except UnsafeArtifactError as error:
            place = loaded.positions.place(("models", model_name, "versions", label, "artifact"))
            errors.append(SpecError(error.what, place=place, fix=error.fix))
            continue
        still_passed.add(key)
    if still_passed != passed:
        _write(cache_file, still_passed)
    return errors


def _declared(loaded: LoadedConfig) -> Iterator[tuple[str, str, list[str], str | None, str]]:
    for model_name, model in loaded.config.models.items():
        module = torch_module(model)
        for label, version in model.versions.items():
            if version.artifact is not None:
                yield model_name, label, model.trusted_types, module, version.artifact


def verdict_key(digest: str, trusted_types: Sequence[str], torch_module: str | None) -> str:
    """What a remembered verdict on a registered file stands for: its bytes, the model's
    `trusted_types` and torch module, and the checking code's versions."""
    return sha256_hex(
        canonical_json(
            {
                "digest": digest,
                "trusted_types": sorted(trusted_types),
                "torch_module": torch_module,
                "environment": _environment(),
            }
        )
    )


@cache
def _environment() -> dict[str, str | int]:
    mvctl_version, skops, scikit_learn = checker_versions()
    return {
        "mvctl": mvctl_version,
        "rules": RULES_REVISION,
        "skops": skops,
        "scikit-learn": scikit_learn,
    }


def _read(cache_file: Path) -> set[str]:
    try:
        data = json.loads(cache_file.read_text("utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return set()
    passed = data.get("passed")
    return {key for key in passed if isinstance(key, str)} if isinstance(passed, list) else set()


def _write(cache_file: Path, passed: set[str]) -> None:
    """Failing to write costs only a check next time."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps({"format": CACHE_FORMAT, "passed": sorted(passed)}), "utf-8")
        os.replace(temp, cache_file)
    except OSError:
        return
