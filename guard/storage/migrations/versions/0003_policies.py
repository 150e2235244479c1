"""policies: rights-holder flags on works, activated bundles, stored decisions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("work", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "policy_bundle",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("bundle_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "policy_decision",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("screening_id", sa.String(length=64), nullable=False),
        sa.Column("bundle_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("bundle_digest", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("effect", sa.String(length=16), nullable=False),
        sa.Column("determining_rules", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
        sa.UniqueConstraint("screening_id"),
    )
    with op.batch_alter_table("policy_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_decision_evaluated_at"), ["evaluated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_decision_evaluated_at"))
    op.drop_table("policy_decision")
    op.drop_table("policy_bundle")
    with op.batch_alter_table("work", schema=None) as batch_op:
        batch_op.drop_column("flags")
