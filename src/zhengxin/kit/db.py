"""One SQLAlchemy metadata and engine setup that run unchanged on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Engine, Index, MetaData, String, create_engine, event
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """An instant, always UTC and timezone-aware, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants are UTC and timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk intake touches big indexes
            cur.close()

        # Let SQLAlchemy, not pysqlite, issue BEGIN so a transaction covers every statement.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_autobegin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # Enough pooled connections for a worker's concurrent requests: a connection opened for
    # overflow and closed on return costs a PostgreSQL backend start each time. No ping per
    # checkout (two round trips per request); a connection found dead is discarded instead.
    return create_engine(url, pool_size=20, max_overflow=10, pool_recycle=3600)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """The unit of work: everything inside commits together or not at all."""
    with engine.begin() as conn:
        yield conn


def key(length: int):
    """An opaque identifier column type: compared bytewise (COLLATE "C" on PostgreSQL), never
    by locale rules, which also makes its index inserts cheaper."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def person_index(name: str, column) -> Index:
    """Lookup by person token is equality only: a hash index on PostgreSQL (cheaper to
    maintain at intake than a B-tree), an ordinary one elsewhere."""
    return Index(name, column, postgresql_using="hash")
