"""What proves the lock's holder alive: its process, its heartbeat and lease, its session.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-06

Every column is nullable: a lock taken by hand (`mvctl state lock`) or by an older mvctl has
none of them, and nothing can prove such a holder dead, so only `state unlock` frees it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("process", sa.String()),
    ("heartbeat_at", sa.String()),
    ("lease_s", sa.Float()),
    ("session", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("lock") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lock") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
