"""Monitor samples: one row per `mvctl monitor` run, appended, never rewritten.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-13

Written out in full rather than from ``tables.metadata``: this migration must keep creating
the table as it was at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("spec_hash", sa.String(), nullable=False),
        sa.Column("taken_at", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("dataset_digest", sa.String(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Boolean(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("status_json", sa.Text(), nullable=False),
        sa.Column("drift_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_samples"),
    )
    op.create_index(
        "ix_monitor_samples_model_alias", "monitor_samples", ["model", "alias", "taken_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_monitor_samples_model_alias", table_name="monitor_samples")
    op.drop_table("monitor_samples")
