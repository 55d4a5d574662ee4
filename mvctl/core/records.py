"""The values a state change sets: one frozen type per target kind, and its change-log JSON.

Every ``Change`` moves one target from one of these values to another (None: absent). The
change log keeps them as JSON; ``to_json`` gives exactly the object mvctl has always written
and ``from_json`` reads it back, refusing a value mvctl never wrote (a hand-edited or foreign
database) with a ``RecordShapeError`` that says which field is wrong. ``RECORD_TYPES`` is the
table from target kind to type; a test keeps it, the writer's table and ``TargetKind`` in step.

Nested free-form JSON (a version's spec, params and lineage, an evaluation's details, a gate
check) stays a mapping: mvctl writes it whole and reads single keys of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, Protocol, get_args

JSON = Any
TargetKind = Literal["model", "version", "alias", "pin", "evaluation", "gate", "policy"]
VersionStatus = Literal["trained", "failed", "archived"]
EvaluationStatus = Literal["ok", "error"]

TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)
VERSION_TRAINED: VersionStatus = "trained"
VERSION_FAILED: VersionStatus = "failed"
VERSION_ARCHIVED: VersionStatus = "archived"
VERSION_STATUSES: tuple[VersionStatus, ...] = get_args(VersionStatus)
POLICY_KEYS = ("admins", "protected_aliases", "owners")
AUTOMATIC_ROLLBACK = "automatic_rollback"


class RecordShapeError(ValueError):
    """A stored value is not one mvctl writes; the message says which field and why."""


class JSONShaped(Protocol):
    def to_json(self) -> dict[str, JSON]: ...


def value_json(value: JSONShaped | None) -> JSON:
    """A change's value (or a revert's) as the change log and JSON outputs hold it."""
    return None if value is None else value.to_json()


@dataclass(frozen=True, slots=True)
class ModelRecord:
    archived: bool
    created_at: str

    def to_json(self) -> dict[str, JSON]:
        return {"archived": self.archived, "created_at": self.created_at}

    @classmethod
    def from_json(cls, data: JSON) -> ModelRecord:
        value = _fields(data, "model", {"archived", "created_at"})
        return cls(_bool(value, "archived"), _text(value, "created_at"))


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A version as recorded: the one definition of its fields, which the ``versions`` table's
    columns and the change log's version values follow."""

    status: VersionStatus
    spec_hash: str
    metadata_hash: str
    artifact_digest: str | None
    spec: Mapping[str, JSON]
    """The resolved spec, recorded to explain a conflict later."""
    params: Mapping[str, JSON]
    lineage: Mapping[str, JSON]
    """How it was made: each step's key, outputs, log and time, and the artifact's source."""
    failure: Mapping[str, JSON] | None
    """Why training failed (the step, its exit code, its log); None unless it failed."""
    description: str | None
    tags: Mapping[str, JSON]
    created_by: str
    created_at: str
    apply_id: int | None

    def to_json(self) -> dict[str, JSON]:
        return {name: getattr(self, name) for name in VERSION_FIELDS}

    @classmethod
    def from_json(cls, data: JSON) -> VersionRecord:
        value = _fields(data, "version", set(VERSION_FIELDS))
        return VersionRecord(
            status=version_status(value["status"]),
            spec_hash=_text(value, "spec_hash"),
            metadata_hash=_text(value, "metadata_hash"),
            artifact_digest=_optional_text(value, "artifact_digest"),
            spec=_object(value, "spec"),
            params=_object(value, "params"),
            lineage=_object(value, "lineage"),
            failure=None if value["failure"] is None else _object(value, "failure"),
            description=_optional_text(value, "description"),
            tags=_object(value, "tags"),
            created_by=_text(value, "created_by"),
            created_at=_text(value, "created_at"),
            apply_id=_optional_int(value, "apply_id"),
        )

    def record(self) -> VersionRecord:
        """Just the record (a ``VersionDetail`` also names its model and label)."""
        if type(self) is VersionRecord:
            return self
        return VersionRecord(*(getattr(self, name) for name in VERSION_FIELDS))


VERSION_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(VersionRecord))


@dataclass(frozen=True, slots=True)
class AliasRecord:
    version: str

    def to_json(self) -> dict[str, JSON]:
        return {"version": self.version}

    @classmethod
    def from_json(cls, data: JSON) -> AliasRecord:
        return cls(_text(_fields(data, "alias", {"version"}), "version"))


@dataclass(frozen=True, slots=True)
class PinRecord:
    """Left by a revert: its alias stays at ``version`` until the config agrees or it is
    released."""

    version: str
    revert_apply_id: int

    def to_json(self) -> dict[str, JSON]:
        return {"version": self.version, "revert_apply_id": self.revert_apply_id}

    @classmethod
    def from_json(cls, data: JSON) -> PinRecord:
        value = _fields(data, "pin", {"version", "revert_apply_id"})
        return cls(_text(value, "version"), _int(value, "revert_apply_id"))


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """One version scored on one dataset: written once, never changed or reverted.

    ``metrics`` holds null where a value was NaN or infinite; ``metric_status`` says which.
    """

    spec_hash: str
    dataset_digest: str
    dataset: str
    evaluation_hash: str
    status: EvaluationStatus
    metrics: Mapping[str, float | None]
    metric_status: Mapping[str, str]
    details: Mapping[str, JSON]
    message: str | None
    """Why the evaluation could not be made (status 'error'); None when it was."""
    evaluator_version: str
    created_at: str

    def to_json(self) -> dict[str, JSON]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_json(cls, data: JSON) -> EvaluationResult:
        value = _fields(data, "evaluation", {field.name for field in fields(cls)})
        status = value["status"]
        if status not in get_args(EvaluationStatus):
            raise RecordShapeError(f"'status' is {status!r}, not 'ok' or 'error'")
        metrics = _object(value, "metrics")
        if not all(number is None or _is_number(number) for number in metrics.values()):
            raise RecordShapeError("'metrics' must map metric names to numbers or null")
        metric_status = _object(value, "metric_status")
        if not all(isinstance(word, str) for word in metric_status.values()):
            raise RecordShapeError("'metric_status' must map metric names to words")
        return cls(
            spec_hash=_text(value, "spec_hash"),
            dataset_digest=_text(value, "dataset_digest"),
            dataset=_text(value, "dataset"),
            evaluation_hash=_text(value, "evaluation_hash"),
            status=status,
            metrics=metrics,
            metric_status=metric_status,
            details=_object(value, "details"),
            message=_optional_text(value, "message"),
            evaluator_version=_text(value, "evaluator_version"),
            created_at=_text(value, "created_at"),
        )


@dataclass(frozen=True, slots=True)
class Rollback:
    """A promotion undone automatically: a failed health check, or `on_failure: rollback`."""

    reason: str
    restored: str | None
    """The version the aliases went back to (None: no version)."""

    def to_json(self) -> dict[str, JSON]:
        return {"automatic": True, "reason": self.reason, "restored": self.restored}

    @classmethod
    def from_json(cls, data: JSON) -> Rollback:
        value = _fields(data, "rollback", {"automatic", "reason", "restored"})
        if value["automatic"] is not True:
            raise RecordShapeError("'rollback.automatic' must be true")
        return cls(_text(value, "reason"), _optional_text(value, "restored"))


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether a promotion of one alias to ``version`` went ahead, with every gate decided
    (``checks``: gate, dataset, result, value, bound, reason). Kept in the change log alone.

    ``spec_hash``: the retrained version's spec, when it replaced a record aliases serve.
    ``rollback``: set when the promotion was undone. ``forced``: an alias restored by
    `revert --force` although its artifact failed verification.
    """

    version: str
    passed: bool
    checks: tuple[Mapping[str, JSON], ...]
    spec_hash: str | None = None
    rollback: Rollback | None = None
    forced: bool = False

    def to_json(self) -> dict[str, JSON]:
        value: dict[str, JSON] = {
            "version": self.version,
            "passed": self.passed,
            "checks": [dict(check) for check in self.checks],
        }
        if self.spec_hash is not None:
            value["spec_hash"] = self.spec_hash
        if self.rollback is not None:
            value["rollback"] = self.rollback.to_json()
        if self.forced:
            value["forced"] = True
        return value

    @classmethod
    def from_json(cls, data: JSON) -> GateDecision:
        value = _fields(
            data, "gate", {"version", "passed", "checks"}, {"spec_hash", "rollback", "forced"}
        )
        checks = value["checks"]
        if not isinstance(checks, list) or not all(isinstance(check, dict) for check in checks):
            raise RecordShapeError("'checks' must be a list of objects")
        if value.get("forced", True) is not True:
            raise RecordShapeError("'forced' must be true when present")
        return cls(
            version=_text(value, "version"),
            passed=_bool(value, "passed"),
            checks=tuple(checks),
            spec_hash=_text(value, "spec_hash") if "spec_hash" in value else None,
            rollback=Rollback.from_json(value["rollback"]) if "rollback" in value else None,
            forced="forced" in value,
        )


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """Who may do what (see ``core.policy``): admins, each protected alias's actors, each
    model's owners; names sorted and deduplicated. ``automatic_rollback`` (kept only when
    true, so older records read the same) lets a broken monitoring rule move a protected
    alias back."""

    admins: tuple[str, ...]
    protected_aliases: Mapping[str, tuple[str, ...]]
    owners: Mapping[str, tuple[str, ...]]
    automatic_rollback: bool = False

    def to_json(self) -> dict[str, JSON]:
        value: dict[str, JSON] = {
            "admins": list(self.admins),
            "protected_aliases": {
                alias: {"actors": list(actors)} for alias, actors in self.protected_aliases.items()
            },
            "owners": {model: list(names) for model, names in self.owners.items()},
        }
        if self.automatic_rollback:
            value[AUTOMATIC_ROLLBACK] = True
        return value

    @classmethod
    def from_json(cls, data: JSON) -> PolicyRecord:
        if not isinstance(data, dict) or not (
            set(POLICY_KEYS) <= set(data) <= {*POLICY_KEYS, AUTOMATIC_ROLLBACK}
        ):
            raise RecordShapeError(
                f"it must be an object with exactly the keys {', '.join(POLICY_KEYS)} "
                f"(and {AUTOMATIC_ROLLBACK}, when true)"
            )
        protected, owners = data["protected_aliases"], data["owners"]
        if not _names(data["admins"]):
            raise RecordShapeError("'admins' must be a list of names")
        if not isinstance(protected, dict) or not all(
            isinstance(rule, dict) and set(rule) == {"actors"} and _names(rule["actors"])
            for rule in protected.values()
        ):
            raise RecordShapeError("'protected_aliases' must map aliases to {actors: [names]}")
        if not isinstance(owners, dict) or not all(_names(names) for names in owners.values()):
            raise RecordShapeError("'owners' must map models to lists of names")
        if data.get(AUTOMATIC_ROLLBACK, True) is not True:
            raise RecordShapeError(f"'{AUTOMATIC_ROLLBACK}' must be true when present")
        return cls(
            tuple(data["admins"]),
            {alias: tuple(rule["actors"]) for alias, rule in protected.items()},
            {model: tuple(names) for model, names in owners.items()},
            AUTOMATIC_ROLLBACK in data,
        )


RecordValue = (
    ModelRecord
    | VersionRecord
    | AliasRecord
    | PinRecord
    | EvaluationResult
    | GateDecision
    | PolicyRecord
)
RECORD_TYPES: Mapping[TargetKind, type[RecordValue]] = {
    "model": ModelRecord,
    "version": VersionRecord,
    "alias": AliasRecord,
    "pin": PinRecord,
    "evaluation": EvaluationResult,
    "gate": GateDecision,
    "policy": PolicyRecord,
}
"""What value each target kind takes."""


def record_from_json(kind: TargetKind, data: JSON) -> RecordValue | None:
    """A change-log value of a ``kind`` target (None: absent); raises ``RecordShapeError``."""
    return None if data is None else RECORD_TYPES[kind].from_json(data)


def target_kind(word: JSON) -> TargetKind:
    """``word`` as a target kind; raises ``RecordShapeError`` for any other word."""
    for kind in TARGET_KINDS:
        if word == kind:
            return kind
    raise RecordShapeError(f"{word!r} is not a kind of target mvctl records")


def version_status(word: JSON) -> VersionStatus:
    """``word`` as a version status; raises ``RecordShapeError`` for any other word."""
    for status in VERSION_STATUSES:
        if word == status:
            return status
    raise RecordShapeError(f"'status' is {word!r}, not one of {', '.join(VERSION_STATUSES)}")


def _fields(
    data: JSON, kind: str, required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> Mapping[str, JSON]:
    if not isinstance(data, dict):
        raise RecordShapeError(f"the {kind} value must be an object, not {type(data).__name__}")
    missing = sorted(required - data.keys())
    if missing:
        raise RecordShapeError(f"the {kind} value has no {', '.join(repr(k) for k in missing)}")
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise RecordShapeError(
            f"the {kind} value has keys mvctl never writes: {', '.join(repr(k) for k in unknown)}"
        )
    return data


def _text(value: Mapping[str, JSON], key: str) -> str:
    found = value[key]
    if not isinstance(found, str):
        raise RecordShapeError(f"'{key}' must be text, not {type(found).__name__}")
    return found


def _optional_text(value: Mapping[str, JSON], key: str) -> str | None:
    return None if value[key] is None else _text(value, key)


def _int(value: Mapping[str, JSON], key: str) -> int:
    found = value[key]
    if not isinstance(found, int) or isinstance(found, bool):
        raise RecordShapeError(f"'{key}' must be a whole number, not {type(found).__name__}")
    return found


def _optional_int(value: Mapping[str, JSON], key: str) -> int | None:
    return None if value[key] is None else _int(value, key)


def _bool(value: Mapping[str, JSON], key: str) -> bool:
    found = value[key]
    if not isinstance(found, bool):
        raise RecordShapeError(f"'{key}' must be true or false, not {type(found).__name__}")
    return found


def _object(value: Mapping[str, JSON], key: str) -> Mapping[str, JSON]:
    found = value[key]
    if not isinstance(found, dict):
        raise RecordShapeError(f"'{key}' must be an object, not {type(found).__name__}")
    return found


def _names(item: JSON) -> bool:
    return isinstance(item, list) and all(isinstance(name, str) for name in item)


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def policy_shape_problem(value: Any) -> str | None:
    """Why a recorded policy value is not one mvctl wrote, or None when it is."""
    try:
        PolicyRecord.from_json(value)
    except RecordShapeError as problem:
        return str(problem)
    return None
