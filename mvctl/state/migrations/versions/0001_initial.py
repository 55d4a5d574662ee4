"""The first state schema: models, versions, aliases, pins, applies, the change log, step runs,
the lock, and the serial.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Written out in full rather than from ``tables.metadata``: a migration must keep creating the
schema as it was at this revision, whatever ``tables.py`` says later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.bulk_insert(meta, [{"key": "serial", "value": "0"}])

    op.create_table(
        "models",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_models"),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("spec_hash", sa.String(), nullable=False),
        sa.Column("metadata_hash", sa.String(), nullable=False),
        sa.Column("artifact_digest", sa.String(), nullable=True),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("lineage_json", sa.Text(), nullable=False),
        sa.Column("failure_json", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.UniqueConstraint("model", "label", name="uq_versions_model_label"),
    )
    op.create_table(
        "aliases",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("model", "name", name="pk_aliases"),
    )
    op.create_table(
        "pins",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("revert_apply_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("model", "alias", name="pk_pins"),
    )
    op.create_table(
        "applies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("started_at", sa.String(), nullable=False),
        sa.Column("finished_at", sa.String(), nullable=True),
        sa.Column("plan_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("serial_before", sa.Integer(), nullable=False),
        sa.Column("serial_after", sa.Integer(), nullable=True),
        sa.Column("reverts_apply_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_applies"),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("before_json", sa.Text(), nullable=True),
        sa.Column("after_json", sa.Text(), nullable=True),
        sa.Column("at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
        sa.UniqueConstraint("apply_id", "seq", name="uq_changes_apply_id_seq"),
    )
    op.create_index("ix_changes_target", "changes", ["target_kind", "model", "name"])
    op.create_table(
        "step_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("outputs_json", sa.Text(), nullable=False),
        sa.Column("inputs_json", sa.Text(), nullable=False),
        sa.Column("log_digest", sa.String(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_runs"),
        sa.UniqueConstraint("cache_key", name="uq_step_runs_cache_key"),
    )
    op.create_index("ix_step_runs_model_step", "step_runs", ["model", "step"])
    op.create_table(
        "lock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lock_id", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.String(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_lock_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_lock"),
    )


def downgrade() -> None:
    for table in (
        "lock",
        "step_runs",
        "changes",
        "applies",
        "pins",
        "aliases",
        "versions",
        "models",
        "meta",
    ):
        op.drop_table(table)
