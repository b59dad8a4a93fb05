"""account reassignments: a furnisher's correction of whom an account belongs to

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:00:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

KEY = sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql')
ACCOUNT = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'account_reassignments',
        sa.Column('id', KEY, nullable=False),
        sa.Column('furnisher_id', KEY, nullable=False),
        sa.Column('account_id', ACCOUNT, nullable=False),
        sa.Column('from_token', ACCOUNT, nullable=False),
        sa.Column('to_token', ACCOUNT, nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('reassigned_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_reassignments')),
    )
    op.create_index('ix_reassignments_from', 'account_reassignments', ['from_token'], unique=False,
                    postgresql_using='hash')
    op.create_index('ix_reassignments_to', 'account_reassignments', ['to_token'], unique=False,
                    postgresql_using='hash')


def downgrade() -> None:
    op.drop_index('ix_reassignments_to', table_name='account_reassignments')
    op.drop_index('ix_reassignments_from', table_name='account_reassignments')
    op.drop_table('account_reassignments')
