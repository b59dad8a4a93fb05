"""scoring monitoring: a model's population and characteristic stability by month

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 18:50:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

KEY = sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'scoring_monitoring',
        sa.Column('id', KEY, nullable=False),
        sa.Column('model_version', KEY, nullable=False),
        sa.Column('month', sa.String(length=16), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('psi', sa.Float(), nullable=False),
        sa.Column('flag', sa.String(length=8), nullable=False),
        sa.Column('csi', sa.JSON(), nullable=False),
        sa.Column('mean_score', sa.Float(), nullable=False),
        sa.Column('data_sha256', sa.String(length=64), nullable=False),
        sa.Column('computed_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_monitoring')),
    )
    op.create_index('ix_scoring_monitoring_model', 'scoring_monitoring', ['model_version', 'month'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_scoring_monitoring_model', table_name='scoring_monitoring')
    op.drop_table('scoring_monitoring')
