"""The recorded policy, and the actor on every change-log row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

``policy`` holds at most one row: the policy in force, as the last apply that changed it
recorded. ``changes.actor`` is filled for the rows already there from the apply each belongs
to (the apply record has always kept its actor), then made required.

Written out in full rather than from ``tables.metadata``, like 0001: this migration must keep
creating the schema as it was at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN_ACTOR = "unknown"
"""For a change-log row whose apply record is missing (only a hand-edited state has one)."""


def upgrade() -> None:
    op.create_table(
        "policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.String(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_policy_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_policy"),
    )
    op.add_column("changes", sa.Column("actor", sa.String(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE changes SET actor = coalesce("
            "(SELECT applies.actor FROM applies WHERE applies.id = changes.apply_id), :unknown)"
        ).bindparams(unknown=UNKNOWN_ACTOR)
    )
    # SQLite cannot make a column required in place: batch mode copies the table.
    with op.batch_alter_table("changes") as batch:
        batch.alter_column("actor", existing_type=sa.String(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("actor")
    op.drop_table("policy")
