"""federation pseudonyms: each person's OPRF pseudonym beside their token

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:45:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

TOKEN = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')
PSEUDONYM = sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'federation_pseudonyms',
        sa.Column('person_token', TOKEN, nullable=False),
        sa.Column('pseudonym', PSEUDONYM, nullable=False),
        sa.Column('derived_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('person_token', name=op.f('pk_federation_pseudonyms')),
    )
    op.create_index('ix_federation_pseudonyms_pseudonym', 'federation_pseudonyms', ['pseudonym'], unique=False,
                    postgresql_using='hash')


def downgrade() -> None:
    op.drop_index('ix_federation_pseudonyms_pseudonym', table_name='federation_pseudonyms')
    op.drop_table('federation_pseudonyms')
