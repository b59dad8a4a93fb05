"""federation summaries: members' artefact keys, and the peers an inquiry asked

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('federation_members') as batch:
        batch.add_column(sa.Column('artefact_keys', sa.JSON(), nullable=True))
    with op.batch_alter_table('inquiries') as batch:
        batch.add_column(sa.Column('federation', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inquiries') as batch:
        batch.drop_column('federation')
    with op.batch_alter_table('federation_members') as batch:
        batch.drop_column('artefact_keys')
