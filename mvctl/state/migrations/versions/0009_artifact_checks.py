"""Model files that passed the safe-format check, so revert and promotion skip a second audit.

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-08

Written out in full rather than from ``tables.metadata``: this migration must keep creating
the table as it was at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact_checks",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("checked_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_artifact_checks"),
    )


def downgrade() -> None:
    op.drop_table("artifact_checks")
