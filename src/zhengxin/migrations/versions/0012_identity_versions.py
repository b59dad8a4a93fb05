"""each furnisher's version of a person's name and phone, kept side by side (identity integrity)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'identity_versions',
        sa.Column('person_token', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'),
                  nullable=False),
        sa.Column('furnisher_id', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'),
                  nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.Column('name_digest', sa.String(length=64), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('updated_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('person_token', 'furnisher_id', name=op.f('pk_identity_versions')),
    )
    op.create_index(op.f('ix_identity_versions_key_id'), 'identity_versions', ['key_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_identity_versions_key_id'), table_name='identity_versions')
    op.drop_table('identity_versions')
