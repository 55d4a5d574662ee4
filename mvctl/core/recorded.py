"""The recorded truth as plain values: what the planner and revert read.

``mvctl.state`` reads the database into a ``RecordedState`` snapshot and hands it to the pure
middle; nothing here knows SQL. ``Change`` is the other direction: the one shape in which
every state write is described, applied and logged (before and after, as the typed values of
``core.records``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mvctl.core.records import (
    JSON,
    RECORD_TYPES,
    VERSION_ARCHIVED,
    VERSION_FAILED,
    VERSION_STATUSES,
    VERSION_TRAINED,
    RecordShapeError,
    RecordValue,
    TargetKind,
    target_kind,
)

DEP_FILES = "dep_files"
"""Where a step's lineage and its cache entry's inputs record the dep files it kept:
{dep: {"kept": bool, "files": {path relative to the project root: digest}}}."""

__all__ = [
    "JSON",
    "VERSION_ARCHIVED",
    "VERSION_FAILED",
    "VERSION_STATUSES",
    "VERSION_TRAINED",
    "TargetKind",
]

RESULT_KINDS = frozenset({"evaluation", "gate"})
"""Targets that record a result (metrics, a gate decision) rather than move state: written
once, logged, never changed or undone by revert."""


@dataclass(frozen=True, slots=True)
class RecordedVersion:
    """A version row. ``spec_json`` is the resolved spec, parsed only to explain a conflict."""

    model: str
    label: str
    status: str
    spec_hash: str
    metadata_hash: str
    artifact_digest: str | None
    spec_json: str
    apply_id: int | None
    created_by: str
    created_at: str


@dataclass(frozen=True, slots=True)
class RecordedAlias:
    model: str
    name: str
    version: str
    apply_id: int | None


@dataclass(frozen=True, slots=True)
class RecordedPin:
    """Left by a revert: the alias stays at ``version`` until the config agrees or it is released."""

    model: str
    alias: str
    version: str
    revert_apply_id: int


@dataclass(frozen=True, slots=True)
class RecordedEvaluation:
    """The latest stored result of one version on one dataset under one evaluation hash.

    ``metrics_json`` maps metric names to numbers, or null where the value was NaN or
    infinite (``status_json`` then says which); parsed only when a gate or report needs it.
    """

    model: str
    label: str
    dataset_digest: str
    evaluation_hash: str
    dataset: str
    status: str
    """'ok', or 'error' when the evaluation could not be made (``message`` says why)."""
    metrics_json: str
    status_json: str
    message: str | None
    created_at: str
    apply_id: int | None

    def metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = json.loads(self.metrics_json)
        return metrics

    def metric(self, name: str) -> Any:
        """A metric's stored value, with NaN and ±inf restored from the status (None: missing)."""
        value = self.metrics().get(name)
        if value is None:
            problem = json.loads(self.status_json).get(name)
            return NON_FINITE.get(problem) if problem else None
        return value


@dataclass(frozen=True, slots=True)
class RecordedPolicy:
    """The policy in force: what the last apply that changed it recorded.

    ``value`` is the recorded JSON: {"admins": [...], "protected_aliases": {alias: {"actors":
    [...]}}, "owners": {model: [...]}} (see ``core.policy``).
    """

    value: Mapping[str, Any]
    apply_id: int | None


NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
"""How a metric that is not a finite number is stored: null, plus this word as its status."""


@dataclass(frozen=True)
class RecordedState:
    """A read-only snapshot of the state database at one serial."""

    serial: int = 0
    models: frozenset[str] = frozenset()
    versions: Mapping[tuple[str, str], RecordedVersion] = field(default_factory=dict)
    aliases: Mapping[tuple[str, str], RecordedAlias] = field(default_factory=dict)
    pins: Mapping[tuple[str, str], RecordedPin] = field(default_factory=dict)
    step_keys: frozenset[str] = frozenset()
    last_step_inputs: Mapping[tuple[str, str], str] = field(default_factory=dict)
    logged_aliases: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    """For drift: what the change log says each alias points at (None: removed, or never
    logged: an alias row without one was written outside mvctl)."""
    evaluations: Mapping[tuple[str, str, str, str], RecordedEvaluation] = field(
        default_factory=dict
    )
    """(model, label, dataset digest, evaluation hash) -> the latest result for the version
    as it is trained now (results of an overwritten spec are left out)."""
    policy: RecordedPolicy | None = None
    """The policy in force; None until an apply first records one (then nothing is enforced)."""


@dataclass(frozen=True)
class RecordedOverview:
    """What `mvctl status` shows of the state, no more: read without the step runs, the
    evaluations and the change log a planner's snapshot carries."""

    serial: int = 0
    models: frozenset[str] = frozenset()
    versions: tuple[tuple[str, str, str, str], ...] = ()
    """(model, label, status, created_at), in no particular order."""
    aliases: tuple[tuple[str, str, str, int | None], ...] = ()
    """(model, alias, version, the revert that pinned it or None), in no particular order."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a change touches: a model, a version (name=label), an alias or a pin (name=alias),
    or the project's policy (``POLICY_TARGET``: no model, no name)."""

    kind: TargetKind
    model: str
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "model":
            return self.model
        if self.kind == "version":
            return f"{self.model}@{self.name}"
        if self.kind == "alias":
            return f"{self.model}:{self.name}"
        if self.kind == "evaluation":
            return f"{self.model}@{self.name} (evaluation)"
        if self.kind == "gate":
            return f"{self.model}:{self.name} (gate)"
        if self.kind == "policy":
            return "policy"
        return f"{self.model}:{self.name} (pin)"


POLICY_TARGET = Target("policy", "")


@dataclass(frozen=True, slots=True)
class Change:
    """One state change: the target's value before and after (None: absent), each of the
    type its kind takes (``records.RECORD_TYPES``)."""

    target: Target
    before: RecordValue | None
    after: RecordValue | None

    def __post_init__(self) -> None:
        expected = RECORD_TYPES[self.target.kind]
        for value in (self.before, self.after):
            if value is not None and not isinstance(value, expected):
                raise TypeError(
                    f"a change to {self.target} takes {expected.__name__} values, "
                    f"not {type(value).__name__}"
                )


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """A change-log row as read back for revert and history."""

    apply_id: int
    seq: int
    change: Change
    actor: str | None = None
    """Who made it (the apply's actor); None in rows built without the log."""


@dataclass(frozen=True, slots=True)
class StepRun:
    """A finished step whose outputs are in the store, found again by its cache key."""

    cache_key: str
    model: str
    step: str
    outputs: Mapping[str, str]
    """Output file name -> blob digest."""
    inputs_json: str
    log_digest: str | None
    duration_s: float
    apply_id: int | None


@dataclass(frozen=True, slots=True)
class LogRow:
    """A change-log row as stored: its values JSON whatever their shape, its kind perhaps one
    mvctl does not record (a hand edit). What the check replays; revert reads typed changes."""

    apply_id: int
    seq: int
    kind: str
    model: str
    name: str
    before: JSON
    after: JSON
    actor: str | None = None

    @property
    def target(self) -> Target | None:
        """What the row changed; None for a kind mvctl does not record."""
        try:
            return Target(target_kind(self.kind), self.model, self.name)
        except RecordShapeError:
            return None


TriggerKind = Literal["schedule", "on_change", "when"]


@dataclass(frozen=True, slots=True)
class Firing:
    """A recorded firing: what fired when, on which occasion, and the label it wrote."""

    id: int
    model: str
    trigger: str
    kind: TriggerKind
    occasion: str
    period: str | None
    """A schedule's period start (UTC stamp); None for on_change."""
    digests: Mapping[str, str]
    """on_change: the watched paths' digests the firing saw; empty for a schedule."""
    label: str
    source: str
    """The version the new one copied."""
    file: str
    fired_at: str
    actor: str
