"""minors: persons under 14 met at intake, sensitive until their 14th birthday

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TOKEN = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'minors',
        sa.Column('person_token', TOKEN, nullable=False),
        sa.Column('adult_on', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('person_token', name=op.f('pk_minors')),
    )


def downgrade() -> None:
    op.drop_table('minors')
