"""The firings of update triggers, one per trigger and occasion.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-10

``occasion`` names a schedule's period or one change of the watched files; the unique
(model, trigger, occasion) lets a trigger fire once per occasion whoever races for it.
Written out in full rather than from ``tables.metadata``, like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trigger_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("occasion", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=True),
        sa.Column("digests_json", sa.Text(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("fired_at", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_firings"),
        sa.UniqueConstraint(
            "model", "trigger", "occasion", name="uq_trigger_firings_model_trigger_occasion"
        ),
    )


def downgrade() -> None:
    op.drop_table("trigger_firings")
