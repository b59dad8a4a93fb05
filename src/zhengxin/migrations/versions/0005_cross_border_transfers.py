"""cross-border transfers

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import zhengxin.kit.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _key(length: int):
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('transfers',
    sa.Column('id', _key(40), nullable=False),
    sa.Column('requester_id', sa.String(length=40), nullable=False),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('record_types', sa.JSON(), nullable=False),
    sa.Column('data_grade', sa.String(length=16), nullable=False),
    sa.Column('persons', sa.BigInteger(), nullable=False),
    sa.Column('sensitive_persons', sa.BigInteger(), nullable=False),
    sa.Column('cumulative_persons', sa.BigInteger(), nullable=False),
    sa.Column('cumulative_sensitive', sa.BigInteger(), nullable=False),
    sa.Column('credit_data', sa.Boolean(), nullable=False),
    sa.Column('separate_consent', sa.Boolean(), nullable=False),
    sa.Column('foreign_authority', sa.Boolean(), nullable=False),
    sa.Column('route', sa.String(length=24), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_id', _key(40), nullable=False),
    sa.Column('created_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=40), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['requester_id'], ['parties.id'], name=op.f('fk_transfers_requester_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_requester', ['requester_id', 'created_at'], unique=False)
        batch_op.create_index('ix_transfers_status', ['status', 'created_at'], unique=False)

    op.create_table('transfer_exports',
    sa.Column('transfer_id', _key(40), nullable=False),
    sa.Column('persons', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('decision_id', _key(40), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_transfer_exports_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('transfer_id', name=op.f('pk_transfer_exports'))
    )


def downgrade() -> None:
    op.drop_table('transfer_exports')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_transfers_status')
        batch_op.drop_index('ix_transfers_requester')

    op.drop_table('transfers')
