"""times in BIGINT milliseconds (a live session longer than 24.8 days overflowed INTEGER);
recordings.recorded_at (when a re-scanned recording was broadcast, from a scan manifest);
webhook_deliveries.subject/subject_seq (per-subject event order for receivers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TIMED = ("transcript_segments", "findings", "flags")


def upgrade() -> None:
    # a scan-only database made by this version's scanner (stamped 0001) has the column already
    if "recorded_at" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("recordings")}:
        op.add_column("recordings", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("subject", sa.String(length=64), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("subject_seq", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_webhook_deliveries_subject"), "webhook_deliveries", ["subject"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite stores every INTEGER in up to 8 bytes already
    for table in TIMED:
        for column in ("t0_ms", "t1_ms"):
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_subject"), table_name="webhook_deliveries")
    op.drop_column("webhook_deliveries", "subject_seq")
    op.drop_column("webhook_deliveries", "subject")
    op.drop_column("recordings", "recorded_at")
    if op.get_bind().dialect.name == "sqlite":
        return
    for table in TIMED:
        for column in ("t0_ms", "t1_ms"):
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
