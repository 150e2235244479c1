"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('screening',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('audio_sha256', sa.String(length=64), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=False),
    sa.Column('model_id', sa.String(), nullable=False),
    sa.Column('model_version', sa.String(), nullable=False),
    sa.Column('consent_reference', sa.String(), nullable=False),
    sa.Column('pipeline_id', sa.String(), nullable=False),
    sa.Column('prompt_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('matches', sa.JSON(), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('screened_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_table('work',
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('rights_holder', sa.String(), nullable=False),
    sa.Column('isrc', sa.String(), nullable=False),
    sa.Column('iswc', sa.String(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('recording_sha256', sa.String(length=64), nullable=False),
    sa.Column('recording_seconds', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('number'),
    sa.UniqueConstraint('work_id')
    )
    with op.batch_alter_table('work', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_state'), ['state'], unique=False)

    op.create_table('screening_fingerprint',
    sa.Column('screening_id', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=32), nullable=False),
    sa.Column('codes', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['screening_id'], ['screening.id'], ),
    sa.PrimaryKeyConstraint('screening_id', 'algorithm')
    )
    op.create_table('work_fingerprint',
    sa.Column('work_number', sa.Integer(), nullable=False),
    sa.Column('algorithm', sa.String(length=32), nullable=False),
    sa.Column('codes', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['work_number'], ['work.number'], ),
    sa.PrimaryKeyConstraint('work_number', 'algorithm')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('work_fingerprint')
    op.drop_table('screening_fingerprint')
    with op.batch_alter_table('work', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_state'))

    op.drop_table('work')
    op.drop_table('screening')
