"""supervision: app reviews, orders, shareholders

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import zhengxin.kit.db  # noqa: F401

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _key(length):
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('supervision_app_reviews',
    sa.Column('id', _key(40), nullable=False),
    sa.Column('app', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=48), nullable=False),
    sa.Column('necessary', sa.JSON(), nullable=False),
    sa.Column('collected', sa.JSON(), nullable=False),
    sa.Column('excessive', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('rectify_by', sa.Date(), nullable=True),
    sa.Column('rectified_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rectified_late', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['parties.id'], name=op.f('fk_supervision_app_reviews_created_by_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_app_reviews'))
    )
    with op.batch_alter_table('supervision_app_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_app_reviews_status', ['status', 'rectify_by'], unique=False)

    op.create_table('supervision_app_rectifications',
    sa.Column('review_id', _key(40), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('collected', sa.JSON(), nullable=False),
    sa.Column('excessive', sa.JSON(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['parties.id'], name=op.f('fk_supervision_app_rectifications_recorded_by_parties')),
    sa.ForeignKeyConstraint(['review_id'], ['supervision_app_reviews.id'], name=op.f('fk_supervision_app_rectifications_review_id_supervision_app_reviews')),
    sa.PrimaryKeyConstraint('review_id', 'seq', name=op.f('pk_supervision_app_rectifications'))
    )

    op.create_table('supervision_orders',
    sa.Column('id', _key(40), nullable=False),
    sa.Column('furnisher_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('rule', sa.String(length=16), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('responded_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('responded_late', sa.Boolean(), nullable=True),
    sa.Column('accepted', sa.Boolean(), nullable=True),
    sa.Column('closed_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['parties.id'], name=op.f('fk_supervision_orders_created_by_parties')),
    sa.ForeignKeyConstraint(['furnisher_id'], ['parties.id'], name=op.f('fk_supervision_orders_furnisher_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_orders'))
    )
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_orders_due', ['status', 'due_on'], unique=False)
        batch_op.create_index('ix_supervision_orders_furnisher', ['furnisher_id', 'status'], unique=False)

    op.create_table('supervision_order_steps',
    sa.Column('order_id', _key(40), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=True),
    sa.Column('text_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['supervision_orders.id'], name=op.f('fk_supervision_order_steps_order_id_supervision_orders')),
    sa.PrimaryKeyConstraint('order_id', 'seq', name=op.f('pk_supervision_order_steps'))
    )

    op.create_table('agency_shareholders',
    sa.Column('id', _key(40), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=True),
    sa.Column('stake_bp', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', zhengxin.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_agency_shareholders_party_id_parties')),
    sa.ForeignKeyConstraint(['recorded_by'], ['parties.id'], name=op.f('fk_agency_shareholders_recorded_by_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_shareholders'))
    )
    with op.batch_alter_table('agency_shareholders', schema=None) as batch_op:
        batch_op.create_index('ix_agency_shareholders_party', ['party_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('agency_shareholders', schema=None) as batch_op:
        batch_op.drop_index('ix_agency_shareholders_party')
    op.drop_table('agency_shareholders')
    op.drop_table('supervision_order_steps')
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_orders_furnisher')
        batch_op.drop_index('ix_supervision_orders_due')
    op.drop_table('supervision_orders')
    op.drop_table('supervision_app_rectifications')
    with op.batch_alter_table('supervision_app_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_app_reviews_status')
    op.drop_table('supervision_app_reviews')
