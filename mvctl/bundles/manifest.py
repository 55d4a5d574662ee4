"""The bundle's manifest: its members' names and the shape of ``manifest.json``.

Pure: no file is read here. ``reading`` hands the decoded JSON to ``parse_manifest``, which
refuses anything mvctl would not have written, so what a bundle claims is checked before any
of it is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORMAT = "mvctl-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ARTIFACT_FOLDER = "artifact"
STEPS_FOLDER = "steps"

MEMBER_PATTERN = re.compile(r"^(artifact|steps)(/[A-Za-z0-9_][A-Za-z0-9_.+=-]*)+$")
"""Names a bundle may hold besides the manifest and its signature: plain words under
``artifact/`` or ``steps/``; never absolute, never '.' or '..', no backslash or control
character."""

REQUIRED: dict[str, type] = {
    "format": str,
    "format_version": int,
    "project": str,
    "model": str,
    "label": str,
    "task": str,
    "trusted_types": list,
    "spec": dict,
    "spec_hash": str,
    "params": dict,
    "lineage": dict,
    "metrics": list,
    "gates": list,
    "artifact": str,
    "steps": list,
    "files": dict,
}
OPTIONAL: dict[str, tuple[type, ...]] = {
    "torch_module": (str, type(None)),
    "mvctl_version": (str,),
    "description": (str, type(None)),
}


class ManifestError(ValueError):
    """The manifest is not one mvctl wrote; the message says which field."""


@dataclass(frozen=True)
class Manifest:
    """What a bundle says about its version, checked for shape."""

    data: Mapping[str, Any]

    @property
    def model(self) -> str:
        return str(self.data["model"])

    @property
    def label(self) -> str:
        return str(self.data["label"])

    @property
    def origin(self) -> str:
        return f"{self.data['project']}/{self.model}@{self.label}"

    @property
    def artifact(self) -> str:
        return str(self.data["artifact"])

    @property
    def files(self) -> Mapping[str, str]:
        files: Mapping[str, str] = self.data["files"]
        return files


def parse_manifest(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError("it is not a JSON object")
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise ManifestError(
            f"its format is {data.get('format')!r} version {data.get('format_version')!r}, "
            f"not {FORMAT!r} version {FORMAT_VERSION}"
        )
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise ManifestError(f"'{key}' is missing or not a {kind.__name__}")
    for key, kinds in OPTIONAL.items():
        if key in data and not isinstance(data[key], kinds):
            raise ManifestError(f"'{key}' has the wrong type")
    unknown = set(data) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise ManifestError(f"it holds unknown fields {sorted(unknown)}")
    for name, digest in data["files"].items():
        if not MEMBER_PATTERN.match(name) or not _is_digest(digest):
            raise ManifestError(f"files entry {name!r} is not a member name and its sha256")
    if data["artifact"] not in data["files"] or not data["artifact"].startswith("artifact/"):
        raise ManifestError("'artifact' does not name a listed file under artifact/")
    for step in data["steps"]:
        _check_step(step, data["files"])
    return Manifest(data)


def _check_step(step: Any, files: Mapping[str, str]) -> None:
    if not isinstance(step, dict) or set(step) != {"cache_key", "step", "outputs", "inputs_json"}:
        raise ManifestError("a 'steps' entry is not {cache_key, step, outputs, inputs_json}")
    key = step["cache_key"]
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ManifestError("a 'steps' entry has no valid cache_key")
    if not isinstance(step["step"], str):
        raise ManifestError("a 'steps' entry has no valid step name")
    if not isinstance(step["inputs_json"], str) or not isinstance(step["outputs"], dict):
        raise ManifestError("a 'steps' entry has no valid inputs_json or outputs")
    for member in step["outputs"].values():
        if member not in files or not str(member).startswith("steps/"):
            raise ManifestError(f"step output {member!r} is not a listed file under steps/")


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", value) is not None
