"""federation PSI runs a member started, one per month and peer

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 22:10:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

KEY18 = sa.String(length=18).with_variant(sa.String(length=18, collation='C'), 'postgresql')
KEY40 = sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'federation_psi_sent',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('peer', KEY18, nullable=False),
        sa.Column('run_id', KEY40, nullable=False),
        sa.Column('sent_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('month', 'peer', name=op.f('pk_federation_psi_sent')),
    )


def downgrade() -> None:
    op.drop_table('federation_psi_sent')
