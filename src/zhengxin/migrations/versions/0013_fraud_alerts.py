"""fraud alerts: placed by a person or by the agency on a verified identity-theft report

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 10:10:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

KEY = sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql')
TOKEN = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'fraud_alerts',
        sa.Column('id', KEY, nullable=False),
        sa.Column('person_token', TOKEN, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('placed_by', sa.String(length=40), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=True),
        sa.Column('statement_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('placed_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('lifted_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_alerts')),
    )
    op.create_index('ix_fraud_alerts_person', 'fraud_alerts', ['person_token'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_fraud_alerts_person', table_name='fraud_alerts')
    op.drop_table('fraud_alerts')
