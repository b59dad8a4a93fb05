"""portal sessions kept on the server: signing out or expiry ends every copy of the cookie

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_sessions',
        sa.Column('id_sha256', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=24), nullable=False),
        sa.Column('created_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['key_id'], ['api_keys.id']),
        sa.PrimaryKeyConstraint('id_sha256'),
    )
    op.create_index(op.f('ix_portal_sessions_key_id'), 'portal_sessions', ['key_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_portal_sessions_key_id'), table_name='portal_sessions')
    op.drop_table('portal_sessions')
