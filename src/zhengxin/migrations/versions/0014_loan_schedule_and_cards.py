"""loans: the scheduled monthly payment and term; credit cards' minimum due and statement date

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

COLUMNS = ('scheduled_payment_fen', 'term_months', 'minimum_due_fen', 'statement_date')


def upgrade() -> None:
    with op.batch_alter_table('account_snapshots') as batch:
        batch.add_column(sa.Column('scheduled_payment_fen', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('term_months', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('minimum_due_fen', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('statement_date', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('account_snapshots') as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
