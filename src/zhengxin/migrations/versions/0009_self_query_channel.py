"""self-queries carry their channel: online (free, FEE-1) or counter (CR-17's free two, then the fee)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('self_queries') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=8), nullable=False, server_default='online'))


def downgrade() -> None:
    with op.batch_alter_table('self_queries') as batch:
        batch.drop_column('channel')
