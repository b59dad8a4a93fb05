"""The migrations build exactly the schema the tables declare, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from zhengxin.schema import metadata


def test_migrated_schema_matches_the_tables(runtime):
    with runtime.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
