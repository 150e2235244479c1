"""disputes: cases, their append-only events, strikes, retroactive scans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "dispute_case",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("regime", sa.String(length=8), nullable=False),
        sa.Column("work_id", sa.String(length=128), nullable=False),
        sa.Column("claimant", sa.String(length=256), nullable=False),
        sa.Column("track_id", sa.String(length=64), nullable=False),
        sa.Column("uploader", sa.String(length=256), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_action", sa.String(length=32), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("dispute_case", schema=None) as batch_op:
        for column in ("state", "work_id", "claimant", "track_id", "due_on"):
            batch_op.create_index(batch_op.f(f"ix_dispute_case_{column}"), [column], unique=False)
    op.create_table(
        "dispute_event",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "sequence"),
        sa.UniqueConstraint("log_index"),
    )
    op.create_table(
        "strike",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("uploader", sa.String(length=256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("strike", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strike_uploader"), ["uploader"], unique=False)
    op.create_table(
        "retroactive_scan",
        sa.Column("work_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("cases_opened", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("work_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER dispute_event_append_only BEFORE UPDATE OR DELETE ON dispute_event "
                   "FOR EACH ROW EXECUTE FUNCTION guard_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER dispute_event_no_{action.lower()} BEFORE {action} ON dispute_event "
                       "BEGIN SELECT RAISE(ABORT, 'dispute_event is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER dispute_event_append_only ON dispute_event")
    op.drop_table("retroactive_scan")
    with op.batch_alter_table("strike", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strike_uploader"))
    op.drop_table("strike")
    op.drop_table("dispute_event")
    with op.batch_alter_table("dispute_case", schema=None) as batch_op:
        for column in ("state", "work_id", "claimant", "track_id", "due_on"):
            batch_op.drop_index(batch_op.f(f"ix_dispute_case_{column}"))
    op.drop_table("dispute_case")
