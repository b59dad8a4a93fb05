"""supervision analytics runs

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supervision_runs',
    sa.Column('id', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('backend', sa.String(length=16), nullable=False),
    sa.Column('started_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('lake_dir', sa.String(length=500), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_runs'))
    )
    with op.batch_alter_table('supervision_runs', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_runs_finished', ['finished_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('supervision_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_runs_finished')

    op.drop_table('supervision_runs')
