"""Canonical hashes: one function per hash, over sorted keys and normalised values.

A step's cache key covers what decides its outputs; a version's spec hash covers its steps;
its metadata hash covers what may change without retraining (description, tags). Keeping
them apart is what lets a description edit never retrain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
"""One encoder for every call: `json.dumps` with these options builds a new one each time,
about a fifth of the cost of a call (a 10,000-version plan makes 40,000)."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return _CANONICAL_ENCODER.encode(value)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def step_cache_key(resolved_step: Mapping[str, Any]) -> str:
    """Key of a step's outputs: its resolved definition without its name.

    The name is left out so identical steps share results, across versions and models.
    """
    body = {key: value for key, value in resolved_step.items() if key != "name"}
    return sha256_hex(canonical_json(body))


def version_spec_hash(resolved_steps: Sequence[Mapping[str, Any]]) -> str:
    """What forces retraining: the ordered steps and each one's cache key."""
    return sha256_hex(canonical_json([[step["name"], step["key"]] for step in resolved_steps]))


def bundle_spec_hash(bundle_digest: str) -> str:
    """An imported bundle version is decided by the bundle's bytes, which export writes the
    same for the same version: another bundle under a recorded label is a conflict."""
    return sha256_hex(canonical_json({"bundle": bundle_digest}))


def artifact_spec_hash(artifact_digest: str) -> str:
    """An imported artifact version is decided by its file's content alone."""
    return sha256_hex(canonical_json({"artifact": artifact_digest}))


def metadata_hash(description: str | None, tags: Mapping[str, str]) -> str:
    if description is None and not tags:
        return _NO_METADATA_HASH
    return sha256_hex(canonical_json({"description": description, "tags": dict(tags)}))


_NO_METADATA_HASH = sha256_hex(canonical_json({"description": None, "tags": {}}))
"""Most versions say neither: hashed once, not once per version of a large plan."""
