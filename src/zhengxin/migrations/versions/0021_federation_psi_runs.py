"""federation PSI runs: the regulator's national view, persons with open loans at two members

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

KEY18 = sa.String(length=18).with_variant(sa.String(length=18, collation='C'), 'postgresql')
KEY40 = sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'federation_psi_runs',
        sa.Column('run_id', KEY40, nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('initiator', KEY18, nullable=False),
        sa.Column('responder', KEY18, nullable=False),
        sa.Column('pending', sa.LargeBinary(), nullable=True),
        sa.Column('pending_role', sa.String(length=10), nullable=True),
        sa.Column('initiator_persons', sa.Integer(), nullable=True),
        sa.Column('responder_persons', sa.Integer(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=True),
        sa.Column('started_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('counted_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_federation_psi_runs')),
    )
    op.create_index('ix_federation_psi_runs_month', 'federation_psi_runs', ['month'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_federation_psi_runs_month', table_name='federation_psi_runs')
    op.drop_table('federation_psi_runs')
