"""the last change to keys and parties, so a server process may keep who holds a key between
requests and know at once when to forget it (parties.keycache)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# One statement-level trigger per table: a revocation, a deactivation, an erasure or a TRUNCATE
# records its transaction's id, whichever code path made it, in the same transaction. The
# table is named in the trigger's own schema, so deployments sharing a database (a schema
# each) count apart.
FUNCTION = """
CREATE OR REPLACE FUNCTION zx_key_holders_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %I.key_holder_changes (id, n) VALUES (1, txid_current()) '
                 'ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n', TG_TABLE_SCHEMA);
  RETURN NULL;
END $$
"""
TABLES = ("api_keys", "parties")


def upgrade() -> None:
    op.create_table(
        'key_holder_changes',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: no server process keeps key holders
    op.execute(FUNCTION)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION zx_key_holders_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS zx_key_holders_changed()")
    op.drop_table('key_holder_changes')
