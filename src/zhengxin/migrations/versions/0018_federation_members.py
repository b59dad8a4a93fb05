"""federation: the member list and the nonces of signed requests received

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:40:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

USCC = sa.String(length=18).with_variant(sa.String(length=18, collation='C'), 'postgresql')
NONCE = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'federation_members',
        sa.Column('uscc', USCC, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('base_url', sa.String(length=300), nullable=False),
        sa.Column('signing_key', sa.String(length=64), nullable=False),
        sa.Column('admitted_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('removed_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('uscc', name=op.f('pk_federation_members')),
    )
    op.create_table(
        'federation_nonces',
        sa.Column('key_id', USCC, nullable=False),
        sa.Column('nonce', NONCE, nullable=False),
        sa.Column('seen_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key_id', 'nonce', name=op.f('pk_federation_nonces')),
    )
    op.create_index('ix_federation_nonces_seen', 'federation_nonces', ['seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_federation_nonces_seen', table_name='federation_nonces')
    op.drop_table('federation_nonces')
    op.drop_table('federation_members')
