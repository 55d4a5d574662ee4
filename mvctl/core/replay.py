"""Replay the change log and compare it with the tables: the heart of `mvctl state check`.

Every state write commits with its change-log row, so folding each target's ``after`` values
in log order must give exactly what the tables hold. A difference means a row was written
without mvctl (an alias moved by another tool, a hand edit) or a write was half-done — the
thing a killed apply must never leave. Pure: rows and log come in as values.

Only the targets the log keeps as state (models, versions, aliases, pins, the policy) are
compared; results written once (evaluations, gate decisions) have no table row to replay into.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mvctl.core.diff import diff_values
from mvctl.core.plan import FieldChange
from mvctl.core.recorded import LogRow, Target

STATE_KINDS = frozenset({"model", "version", "alias", "pin", "policy"})


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A target whose table row is not what the log says: ``logged`` vs ``stored`` (None: absent)."""

    target: Target
    logged: Any
    stored: Any
    changes: tuple[FieldChange, ...]
    """Field by field, before = logged, after = stored; empty when a whole row is missing."""


def replay(log: Iterable[LogRow]) -> dict[Target, Any]:
    """Each state target's value after the last change to it (None where it was removed)."""
    values: dict[Target, Any] = {}
    for entry in log:
        target = entry.target
        if target is not None and target.kind in STATE_KINDS:
            values[target] = entry.after
    return values


def compare(replayed: Mapping[Target, Any], stored: Mapping[Target, Any]) -> list[Mismatch]:
    """Targets where the replayed log and the stored rows disagree, in a stable order.

    A logged value is compared on its own keys: a table may keep more (a later column) than
    an older log row knew of.
    """
    mismatches = []
    for target in sorted(set(replayed) | set(stored), key=_order):
        logged, row = replayed.get(target), stored.get(target)
        if logged is None and row is None:
            continue
        if logged is None or row is None:
            mismatches.append(Mismatch(target, logged, row, ()))
            continue
        seen = (
            {key: row.get(key) for key in logged}
            if isinstance(logged, dict) and isinstance(row, dict)
            else row
        )
        changes = diff_values(logged, seen)
        if changes:
            mismatches.append(Mismatch(target, logged, row, changes))
    return mismatches


def _order(target: Target) -> tuple[str, str, str]:
    return (target.model, target.kind, target.name)
