"""Field-by-field differences between two JSON values, as (dotted path, before, after)."""

from __future__ import annotations

from typing import Any

from mvctl.core.plan import FieldChange

MISSING = None


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {dotted.path: leaf}; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key in sorted(value):
            flat.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value} if prefix else {}


def diff_values(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Every leaf that differs, sorted by path; absent leaves appear as None."""
    flat_before = flatten(before)
    flat_after = flatten(after)
    paths = sorted(set(flat_before) | set(flat_after))
    return tuple(
        FieldChange(path, flat_before.get(path, MISSING), flat_after.get(path, MISSING))
        for path in paths
        if flat_before.get(path, MISSING) != flat_after.get(path, MISSING)
    )
