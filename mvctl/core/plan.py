"""The Plan value: what apply will do, why, and what stands in its way.

A plan is an ordered tuple of small typed actions plus conflicts and drift, made against one
state serial with the options it was asked for. It is frozen, hashes itself canonically, and
round-trips through JSON without loss, so `plan --out` and `apply PLANFILE` carry exactly what
was reviewed. Apply and every renderer read the same actions. A saved plan is a promise, not a
set of instructions: apply recomputes it from its options and runs only the recomputed actions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

from mvctl.core.bundle_source import BundleSource
from mvctl.core.hashing import canonical_json, sha256_hex

PLAN_FORMAT = 4
"""The plan's ``format_version``. 2: plans record the options they were made with, so apply
can recompute them; 3: the field is named ``format_version``, as in every JSON mvctl writes;
4: plans note the trained versions kept as recorded although their inputs changed."""
SIGNATURE_PREFIX = "hmac-sha256:"

JSONValue = Any


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What a plan was asked for; a saved plan records them, so apply recomputes the same one."""

    targets: tuple[str, ...] = ()
    """`model` or `model@version`; empty means everything."""
    on_conflict: str | None = None
    """'overwrite' retrains every changed version under its label; None follows each version."""
    retry_failed: bool = False
    refresh_only: bool = False
    """Accept the recorded state (aliases changed outside mvctl) instead of applying the config."""
    actor: str | None = field(default=None, compare=False)
    """Who will apply the plan; the policy in force decides what they may do. None: an unnamed
    actor, whom no rule names (the ops resolve the real one: --actor, env, CI, login). Never
    saved, nor compared: a saved plan is recomputed for whoever applies it."""

    def saved(self) -> dict[str, Any]:
        """The options a plan file records: everything but the actor."""
        return {
            "targets": list(self.targets),
            "on_conflict": self.on_conflict,
            "retry_failed": self.retry_failed,
            "refresh_only": self.refresh_only,
        }

    @classmethod
    def from_json(cls, data: Any) -> PlanOptions:
        """The options of a saved plan; raises ValueError on anything mvctl would not write."""
        if not isinstance(data, dict) or set(data) != set(EVERYTHING_SAVED):
            raise ValueError("its options are not targets, on_conflict, retry_failed, refresh_only")
        targets = data["targets"]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError("its options.targets is not a list of strings")
        if data["on_conflict"] not in (None, "overwrite"):
            raise ValueError("its options.on_conflict is neither null nor 'overwrite'")
        if not isinstance(data["retry_failed"], bool) or not isinstance(data["refresh_only"], bool):
            raise ValueError("its options.retry_failed and options.refresh_only are not booleans")
        return cls(tuple(targets), data["on_conflict"], data["retry_failed"], data["refresh_only"])


EVERYTHING = PlanOptions()
"""The default options: plan every model and version, as the config says."""
EVERYTHING_SAVED = EVERYTHING.saved()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: dotted path, recorded value, declared value."""

    path: str
    before: JSONValue
    after: JSONValue


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step of a version to train: run it, or restore its outputs from the store."""

    name: str
    cache_key: str
    status: Literal["run", "cached"]
    reason: str


@dataclass(frozen=True, slots=True)
class CreateModel:
    """Record a model declared for the first time."""

    kind: ClassVar[str] = "create_model"
    model: str


@dataclass(frozen=True, slots=True)
class TrainVersion:
    """Train a version from its pipeline; ``steps`` lists every step, run or cached."""

    kind: ClassVar[str] = "train_version"
    model: str
    label: str
    spec_hash: str
    metadata_hash: str
    reason: str
    steps: tuple[StepPlan, ...]
    replaces: str | None = None
    """Spec hash of a trained version being overwritten under the same label, if any."""

    @property
    def steps_to_run(self) -> tuple[StepPlan, ...]:
        return tuple(step for step in self.steps if step.status == "run")


@dataclass(frozen=True, slots=True)
class RegisterArtifact:
    """Verify a model file produced elsewhere and copy it into the store as a version; with
    ``bundle``, ``path`` and ``digest`` are the bundle's, and its metrics, lineage and step
    outputs are registered too."""

    kind: ClassVar[str] = "register_artifact"
    model: str
    label: str
    path: str
    digest: str
    spec_hash: str
    metadata_hash: str
    replaces: str | None = None
    bundle: BundleSource | None = None


@dataclass(frozen=True, slots=True)
class UpdateMetadata:
    """Description or tags changed: update the record, never retrain."""

    kind: ClassVar[str] = "update_metadata"
    model: str
    label: str
    metadata_hash: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class RestoreVersion:
    """An archived version declared again with the same spec: make it live, no training."""

    kind: ClassVar[str] = "restore_version"
    model: str
    label: str


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """One dataset a version is scored on: its identity and everything needed to load it.

    ``digest`` covers the data's content (a file's sha256, or the cache key of the step that
    writes it) and how it is read (label, features, arrays); results are stored under it,
    so numbers from different data are never compared.
    """

    name: str
    digest: str
    format: Literal["csv", "parquet", "npz"]
    content: str
    path: str | None = None
    step: str | None = None
    file: str | None = None
    label: str | None = None
    features: tuple[str, ...] = ()
    """Feature columns in order; empty: every column but the label."""
    x: str = "X"
    y: str = "y"
    field: str = ""
    """Where the dataset is declared in the config, for error messages."""


@dataclass(frozen=True, slots=True)
class EvaluateVersion:
    """Score a version on its evaluation data and store the metrics (never retrains)."""

    kind: ClassVar[str] = "evaluate_version"
    model: str
    label: str
    evaluation_hash: str
    datasets: tuple[DatasetRef, ...]
    reason: str
    baseline_for: tuple[str, ...] = ()
    """Versions whose baseline gates compare with this one (it keeps them in a targeted plan)."""


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One gate on one dataset, as an alias move will check it; decided now where the numbers
    are known ('pending' until apply evaluates what it trains)."""

    gate: str
    dataset: str
    dataset_digest: str
    evaluation_hash: str
    when_no_baseline: Literal["pass", "fail"]
    baseline_version: str | None
    """The version the gate's baseline alias holds as the plan is made (None: none, or an
    absolute gate)."""
    result: Literal["pass", "fail", "inconclusive", "pending"]
    value: float | None = None
    bound: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MoveAlias:
    """Point an alias at a version (a promotion); ``from_version`` None creates the alias.

    ``gates`` must all pass before it moves; a failed or inconclusive one leaves it put."""

    kind: ClassVar[str] = "move_alias"
    model: str
    alias: str
    from_version: str | None
    to_version: str
    gates: tuple[GateCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplaceServedVersion:
    """A version that aliases point at is trained again under its label: a promotion.

    The new record replaces the one ``aliases`` serve only once the new artifact is verified
    and passes the gates (checked on the new artifact's own evaluation); until then, and if
    it fails, the old record keeps serving. A failed health check puts the old record back."""

    kind: ClassVar[str] = "replace_served_version"
    model: str
    label: str
    replaces: str
    """Spec hash of the record the aliases serve now."""
    spec_hash: str
    """Spec hash of the record that replaces it."""
    aliases: tuple[str, ...]
    """Every alias that points at the version as the plan is made."""
    gates: tuple[GateCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class RemoveAlias:
    """An alias gone from the config (or its model gone): it stops pointing anywhere."""

    kind: ClassVar[str] = "remove_alias"
    model: str
    alias: str
    from_version: str


@dataclass(frozen=True, slots=True)
class ArchiveVersion:
    """A version removed from the config: archived, its artifacts kept until a prune."""

    kind: ClassVar[str] = "archive_version"
    model: str
    label: str


@dataclass(frozen=True, slots=True)
class ReleasePin:
    """The config now agrees with a pin left by a revert, so the pin goes."""

    kind: ClassVar[str] = "release_pin"
    model: str
    alias: str
    version: str


@dataclass(frozen=True, slots=True)
class RefreshAlias:
    """Accept an alias changed outside mvctl (`--refresh-only`): log the value it has now, so
    mvctl's record agrees with the state; nothing moves."""

    kind: ClassVar[str] = "refresh_alias"
    model: str
    alias: str
    logged: str | None
    """What mvctl last set it to (None: removed)."""
    current: str | None
    """What it points at now (None: nothing)."""


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """Record the config's policy (admins, protected aliases, model owners) as the one in force.

    It differs from the recorded one and is enforced from the next apply on: this plan was
    checked against the policy in force, so a change cannot grant rights to the apply making it.
    """

    kind: ClassVar[str] = "record_policy"
    model: ClassVar[str] = ""
    """The policy belongs to no model, so a plan limited by --target leaves it out."""
    policy: JSONValue
    """The policy to record, in the state's shape (``core.policy.declared_policy``)."""
    changes: tuple[FieldChange, ...]
    """What differs from the policy in force."""


Action = Union[  # noqa: UP007 - a runtime union: typing.get_args lists the action types
    CreateModel,
    TrainVersion,
    RegisterArtifact,
    UpdateMetadata,
    RestoreVersion,
    EvaluateVersion,
    MoveAlias,
    ReplaceServedVersion,
    RemoveAlias,
    ArchiveVersion,
    ReleasePin,
    RefreshAlias,
    RecordPolicy,
]
ACTION_TYPES: tuple[Any, ...] = typing.get_args(Action)
ACTIONS_BY_KIND: dict[str, Any] = {cls.kind: cls for cls in ACTION_TYPES}

ConflictKind = Literal[
    "version_changed",
    "alias_unknown_version",
    "alias_failed_version",
    "pinned",
    "not_allowed",
]


@dataclass(frozen=True, slots=True)
class Conflict:
    """A declared change that cannot be applied as written, with the ways out."""

    kind: ConflictKind
    target: str
    message: str
    changes: tuple[FieldChange, ...] = ()
    resolutions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Drift:
    """The state differs from what mvctl last recorded, or from the config, without a plan."""

    kind: Literal["alias_changed_outside", "failed_not_retried", "artifact_missing"]
    target: str
    message: str


@dataclass(frozen=True, slots=True)
class LineageNote:
    """Trained versions of one model kept as recorded although files or environment values
    their steps depend on changed since: history, not a conflict; new versions train with the
    new ones."""

    model: str
    versions: tuple[str, ...]
    inputs: tuple[str, ...]
    """What changed: file deps by path, environment variables as $NAME."""


@dataclass(frozen=True)
class Plan:
    project: str
    serial: int
    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    drift: tuple[Drift, ...] = ()
    options: PlanOptions = PlanOptions()
    lineage: tuple[LineageNote, ...] = ()
    format_version: int = PLAN_FORMAT
    _hash: str = field(default="", compare=False, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def has_conflicts(self) -> bool:
        return bool(self.conflicts)

    @property
    def hash(self) -> str:
        if not self._hash:
            object.__setattr__(self, "_hash", sha256_hex(canonical_json(self._body())))
        return self._hash

    def summary(self) -> dict[str, int]:
        counts = {kind: 0 for kind in ACTIONS_BY_KIND}
        steps_run = steps_cached = 0
        for action in self.actions:
            counts[action.kind] += 1
            if isinstance(action, TrainVersion):
                run = len(action.steps_to_run)
                steps_run += run
                steps_cached += len(action.steps) - run
        counts["steps_run"] = steps_run
        counts["steps_cached"] = steps_cached
        counts["conflicts"] = len(self.conflicts)
        counts["drift"] = len(self.drift)
        return counts

    def _body(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "project": self.project,
            "serial": self.serial,
            "options": self.options.saved(),
            "actions": [action_to_dict(action) for action in self.actions],
            "conflicts": [_to_json(conflict) for conflict in self.conflicts],
            "drift": [_to_json(drift) for drift in self.drift],
            "lineage": [_to_json(note) for note in self.lineage],
        }

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape described by schemas/plan.schema.json."""
        return {**self._body(), "hash": self.hash, "summary": self.summary()}

    def signature(self, key: bytes) -> str:
        """HMAC-SHA256 of the plan's canonical body under ``key`` (`MVCTL_PLAN_KEY`)."""
        return body_signature(self._body(), key)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Rebuild a plan saved by ``to_dict``; raises ValueError on a malformed or altered one."""
        if data.get("format_version") != PLAN_FORMAT:
            raise ValueError(
                f"plan format_version {data.get('format_version')!r} is not {PLAN_FORMAT}"
            )
        plan = cls(
            project=data["project"],
            serial=int(data["serial"]),
            options=PlanOptions.from_json(data["options"]),
            actions=tuple(action_from_dict(item) for item in data["actions"]),
            conflicts=tuple(_from_json(Conflict, item) for item in data["conflicts"]),
            drift=tuple(_from_json(Drift, item) for item in data["drift"]),
            lineage=tuple(_from_json(LineageNote, item) for item in data["lineage"]),
        )
        if data.get("hash") != plan.hash:
            raise ValueError("the plan's content does not match its hash (was it edited?)")
        return plan


BODY_KEYS = (
    "format_version",
    "project",
    "serial",
    "options",
    "actions",
    "conflicts",
    "drift",
    "lineage",
)
"""The keys of a plan's JSON that its hash and signature cover."""


def body_signature(body: dict[str, Any], key: bytes) -> str:
    """The signature of a plan body (the ``BODY_KEYS`` of its JSON) under ``key``."""
    text = canonical_json({name: body[name] for name in BODY_KEYS}).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, text, hashlib.sha256).hexdigest()


def action_to_dict(action: Action) -> dict[str, Any]:
    return {"kind": action.kind, **_to_json(action)}


def action_from_dict(data: dict[str, Any]) -> Action:
    kind = data.get("kind")
    cls = ACTIONS_BY_KIND.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown action kind {kind!r}")
    body = {key: value for key, value in data.items() if key != "kind"}
    action: Action = _from_json(cls, body)
    return action


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_json(item) for item in value]
    return value


_HINTS_CACHE: dict[type, dict[str, Any]] = {}


def _from_json(cls: type, data: dict[str, Any]) -> Any:
    hints = _HINTS_CACHE.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS_CACHE[cls] = hints
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unexpected fields {sorted(unknown)} in {cls.__name__}")
    kwargs = {name: _convert(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(_convert(item_hint, item) for item in value)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            if (
                isinstance(option, type)
                and dataclasses.is_dataclass(option)
                and isinstance(value, dict)
            ):
                return _from_json(option, value)
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _from_json(hint, value)
    return value
