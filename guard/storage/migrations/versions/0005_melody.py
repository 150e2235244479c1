"""melody: a work's melody file and where its tune comes from; how a screening's melody was screened

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("work", sa.Column("melody_sha256", sa.String(length=64), nullable=False, server_default=""))
    op.add_column("work", sa.Column("melody_source", sa.String(length=512), nullable=False, server_default=""))
    op.add_column("work", sa.Column("melody_notes", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("screening", sa.Column("melody_source", sa.String(length=512), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("screening", "melody_source")
    op.drop_column("work", "melody_notes")
    op.drop_column("work", "melody_source")
    op.drop_column("work", "melody_sha256")
