"""The state database's tables, declared once as sqlmodel classes.

These classes describe the schema; ``migrations/`` creates it (a test checks the two agree).
The writer uses the Core ``Table`` objects below rather than ORM instances; reads are plain
SQL over the same names (``reader.py``), because a snapshot of 10,000 versions must cost
milliseconds and a no-op plan must not import this module at all. JSON is stored as TEXT
holding canonical JSON and times as ISO-8601 UTC text ending in 'Z', so SQLite and PostgreSQL
store, compare and sort them identically.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import CheckConstraint, Index, MetaData, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# Deterministic constraint names, so a later migration can name what it alters or drops on
# both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StateTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of the state tables: its own registry keeps them out of SQLModel's global one."""


class MetaRow(StateTable, table=True):
    """Key/value facts about the state itself; 'serial' counts committed changes."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, sa_type=String)
    value: str = Field(sa_type=Text)


class ModelRow(StateTable, table=True):
    __tablename__ = "models"

    name: str = Field(primary_key=True, sa_type=String)
    created_at: str = Field(sa_type=String)
    apply_id: int | None = None
    archived: bool = False


class VersionRow(StateTable, table=True):
    """One version of a model, trained, failed or archived; never silently rewritten."""

    __tablename__ = "versions"
    # The unique (model, label) index also serves every lookup by model alone, so no
    # separate index on model is kept.
    __table_args__ = (UniqueConstraint("model", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(sa_type=String)
    label: str = Field(sa_type=String)
    status: str = Field(sa_type=String)
    spec_hash: str = Field(sa_type=String)
    metadata_hash: str = Field(sa_type=String)
    artifact_digest: str | None = Field(default=None, sa_type=String)
    spec_json: str = Field(sa_type=Text)
    params_json: str = Field(sa_type=Text)
    lineage_json: str = Field(sa_type=Text)
    failure_json: str | None = Field(default=None, sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)
    tags_json: str = Field(sa_type=Text)
    created_by: str = Field(sa_type=String)
    created_at: str = Field(sa_type=String)
    apply_id: int | None = None


class AliasRow(StateTable, table=True):
    __tablename__ = "aliases"

    model: str = Field(primary_key=True, sa_type=String)
    name: str = Field(primary_key=True, sa_type=String)
    version: str = Field(sa_type=String)
    apply_id: int | None = None
    updated_at: str = Field(sa_type=String)


class PinRow(StateTable, table=True):
    """Left by a revert so the next plan reports the config/state disagreement."""

    __tablename__ = "pins"

    model: str = Field(primary_key=True, sa_type=String)
    alias: str = Field(primary_key=True, sa_type=String)
    version: str = Field(sa_type=String)
    revert_apply_id: int


class ApplyRow(StateTable, table=True):
    """One apply or revert transaction: who, when, against which plan, how it ended."""

    __tablename__ = "applies"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String)
    actor: str = Field(sa_type=String)
    started_at: str = Field(sa_type=String)
    finished_at: str | None = Field(default=None, sa_type=String)
    plan_hash: str = Field(sa_type=String)
    status: str = Field(sa_type=String)
    message: str | None = Field(default=None, sa_type=Text)
    serial_before: int
    serial_after: int | None = None
    reverts_apply_id: int | None = None


class ChangeRow(StateTable, table=True):
    """The append-only change log: one row per state change, before and after as JSON."""

    __tablename__ = "changes"
    __table_args__ = (
        UniqueConstraint("apply_id", "seq"),
        Index("ix_changes_target", "target_kind", "model", "name"),
        # `history MODEL`: the applies that changed one model, without scanning the log.
        Index("ix_changes_model_apply_id", "model", "apply_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    apply_id: int
    seq: int
    target_kind: str = Field(sa_type=String)
    model: str = Field(sa_type=String)
    name: str = Field(sa_type=String)
    before_json: str | None = Field(default=None, sa_type=Text)
    after_json: str | None = Field(default=None, sa_type=Text)
    at: str = Field(sa_type=String)
    actor: str = Field(sa_type=String)
    """Who made the change: the actor of its apply, kept on the row itself."""


class StepRunRow(StateTable, table=True):
    """A finished step whose outputs are in the store, found again by its cache key.

    The surrogate ``id`` records insertion order: several runs of one step often finish
    within the same second, and "the latest run" must still be well defined.
    """

    __tablename__ = "step_runs"
    __table_args__ = (
        UniqueConstraint("cache_key"),
        Index("ix_step_runs_model_step", "model", "step"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cache_key: str = Field(sa_type=String)
    model: str = Field(sa_type=String)
    step: str = Field(sa_type=String)
    outputs_json: str = Field(sa_type=Text)
    inputs_json: str = Field(sa_type=Text)
    log_digest: str | None = Field(default=None, sa_type=String)
    duration_s: float
    apply_id: int | None = None
    created_at: str = Field(sa_type=String)


class EvaluationRow(StateTable, table=True):
    """One evaluation of a version on one dataset, written once and never rewritten.

    Metrics are strict JSON: a value that is NaN or infinite is stored as null, with its
    status ('nan', 'inf', '-inf') in ``status_json``. ``details_json`` keeps what reports draw
    (row count, the ROC curve's points, the timing settings); ``message`` says why a failed
    evaluation (status 'error') failed.
    """

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_model_label", "model", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(sa_type=String)
    label: str = Field(sa_type=String)
    spec_hash: str = Field(sa_type=String)
    dataset_digest: str = Field(sa_type=String)
    dataset: str = Field(sa_type=String)
    evaluation_hash: str = Field(sa_type=String)
    status: str = Field(sa_type=String)
    metrics_json: str = Field(sa_type=Text)
    status_json: str = Field(sa_type=Text)
    details_json: str = Field(sa_type=Text)
    message: str | None = Field(default=None, sa_type=Text)
    evaluator_version: str = Field(sa_type=String)
    created_at: str = Field(sa_type=String)
    apply_id: int | None = None


class PolicyRow(StateTable, table=True):
    """The policy in force (at most one row, id 1): admins, protected aliases and model owners
    as the last apply that changed them recorded, as canonical JSON; absent until then."""

    __tablename__ = "policy"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    value_json: str = Field(sa_type=Text)
    apply_id: int | None = None
    updated_at: str = Field(sa_type=String)


class LockRow(StateTable, table=True):
    """At most one row (id 1): inserting it is taking the lock, so the database arbitrates.

    ``process``, ``heartbeat_at``, ``lease_s`` and ``session`` are what proves the holder dead
    (``state/liveness.py``); a lock taken by hand has none of them.
    """

    __tablename__ = "lock"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    lock_id: str = Field(sa_type=String)
    actor: str = Field(sa_type=String)
    operation: str = Field(sa_type=String)
    pid: int
    host: str = Field(sa_type=String)
    acquired_at: str = Field(sa_type=String)
    process: str | None = Field(default=None, sa_type=String)
    heartbeat_at: str | None = Field(default=None, sa_type=String)
    lease_s: float | None = None
    session: int | None = None


class TriggerFiringRow(StateTable, table=True):
    """One firing of a trigger: the version block it wrote, and the occasion it fired on.

    The unique (model, trigger, occasion) is what makes a trigger fire at most once per cron
    period or per change of its watched files, however many runs race for it: the second
    insert finds the first and writes nothing.
    """

    __tablename__ = "trigger_firings"
    __table_args__ = (UniqueConstraint("model", "trigger", "occasion"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(sa_type=String)
    trigger: str = Field(sa_type=String)
    kind: str = Field(sa_type=String)
    occasion: str = Field(sa_type=String)
    period: str | None = Field(default=None, sa_type=String)
    digests_json: str = Field(sa_type=Text)
    label: str = Field(sa_type=String)
    source: str = Field(sa_type=String)
    file: str = Field(sa_type=Text)
    fired_at: str = Field(sa_type=String)
    actor: str = Field(sa_type=String)


class MonitorSampleRow(StateTable, table=True):
    """One `mvctl monitor` run: the served version scored (labelled batch) or compared with its
    evaluation data (drift), at ``taken_at``; appended, never rewritten, never reverted.

    Metrics are strict JSON as in ``evaluations`` (null plus a status for NaN or infinite
    values); ``drift_json`` holds each feature's and the predictions' drift and the drift
    statistics rules read. Rules are decided again from these whenever they are read.
    """

    __tablename__ = "monitor_samples"
    __table_args__ = (Index("ix_monitor_samples_model_alias", "model", "alias", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(sa_type=String)
    alias: str = Field(sa_type=String)
    version: str = Field(sa_type=String)
    spec_hash: str = Field(sa_type=String)
    taken_at: str = Field(sa_type=String)
    recorded_at: str = Field(sa_type=String)
    actor: str = Field(sa_type=String)
    dataset: str = Field(sa_type=Text)
    dataset_digest: str = Field(sa_type=String)
    rows: int
    labelled: bool
    metrics_json: str = Field(sa_type=Text)
    status_json: str = Field(sa_type=Text)
    drift_json: str = Field(sa_type=Text)


def _table(row: type[StateTable]) -> Table:
    return cast(Table, row.__table__)  # type: ignore[attr-defined]


meta = _table(MetaRow)
models = _table(ModelRow)
versions = _table(VersionRow)
aliases = _table(AliasRow)
pins = _table(PinRow)
applies = _table(ApplyRow)
changes = _table(ChangeRow)
step_runs = _table(StepRunRow)
lock = _table(LockRow)
evaluations = _table(EvaluationRow)
policy = _table(PolicyRow)
trigger_firings = _table(TriggerFiringRow)
monitor_samples = _table(MonitorSampleRow)


class ArtifactCheckRow(StateTable, table=True):
    """A model file that passed the safe-format check, keyed by its digest and the rules it
    was checked under (``apply/promotion.py``), so revert and promotion need not audit the same
    bytes again. A cache, not recorded state: writing it moves no serial and logs no change."""

    __tablename__ = "artifact_checks"

    key: str = Field(primary_key=True, sa_type=String)
    digest: str = Field(sa_type=String)
    format: str = Field(sa_type=String)
    checked_at: str = Field(sa_type=String)
