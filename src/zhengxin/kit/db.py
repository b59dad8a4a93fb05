"""One SQLAlchemy metadata and engine setup that run unchanged on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Index, MetaData, String, create_engine, event, make_url, select
from sqlalchemy.types import TypeDecorator

from zhengxin.kit.errors import Problem

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


def make_engine(url: str, *, busy_seconds: float = 30.0, read_only: bool = False) -> Engine:
    """The engine of a deployment's database. On SQLite, `read_only` gives the engine of its
    readers: in WAL mode they read a snapshot and never wait for the writer, nor it for them,
    and `query_only` makes sure nothing is ever written through them."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _private_database_file(make_url(url).database)
        # Pooled connections for a worker's concurrent requests: past the pool (SQLAlchemy's
        # default is 5), each request opened a connection, ran the pragmas below and closed it.
        # (An in-memory database keeps SQLAlchemy's one connection per thread.)
        in_memory = make_url(url).database in (None, "", ":memory:")
        pool = {} if in_memory else {"pool_size": 10, "max_overflow": 30}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_seconds}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk intake touches big indexes
            if read_only:
                cur.execute("PRAGMA query_only=ON")
            cur.close()
            # Let SQLAlchemy, not pysqlite, issue BEGIN so a transaction covers every statement.
            dbapi_conn.isolation_level = None

        # A writer takes the lock at BEGIN (IMMEDIATE): upgrading a read snapshot to a write
        # later fails at once, without waiting, whenever another writer committed meanwhile.
        # A reader's BEGIN is deferred: it takes a snapshot and no lock.
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql(begin)

        return engine
    # Enough pooled connections for a worker's concurrent requests: a connection opened for
    # overflow and closed on return costs a PostgreSQL backend start each time. No ping per
    # checkout (two round trips per request); a connection found dead is discarded instead.
    return create_engine(url, pool_size=20, max_overflow=10, pool_recycle=3600)


def _private_database_file(path: str | None) -> None:
    """The database file readable by its owner only, like secrets.env: SQLite gives its -wal
    and -shm files the database file's permissions."""
    if not path or path == ":memory:":
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except FileNotFoundError:  # its directory does not exist (yet): SQLite will say so
        return
    if os.stat(path).st_mode & 0o077 and os.stat(path).st_uid == os.getuid():
        os.chmod(path, 0o600)


def unavailable(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, code, detail) when an error means "not now" rather than "wrong": SQLite's
    writer lock still held after the busy timeout, a PostgreSQL server restarting or out of
    connections, the disk full. None for every other error. Takes SQLAlchemy's wrapped errors
    and the drivers' own (bulk writes use the driver directly)."""
    import errno
    import sqlite3

    import psycopg
    from sqlalchemy.exc import DBAPIError, TimeoutError

    if isinstance(exc, TimeoutError):  # no pooled connection came free in time
        return 503, "database_busy", "the database has no free connection; try again shortly"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return 507, "storage_full", "the disk is full; nothing was stored"
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    message = str(orig).lower()
    if isinstance(orig, sqlite3.OperationalError):
        if "database or disk is full" in message:
            return 507, "storage_full", "the database's disk is full; nothing was stored"
        if "database is locked" in message or "database is busy" in message:
            return 503, "database_busy", "another write holds the database; nothing was stored, try again shortly"
    if invalidated or isinstance(orig, psycopg.OperationalError):
        return 503, "database_unavailable", "the database is not reachable; nothing was stored, try again shortly"
    return None


# The errors `unavailable` may turn into 503 or 507 (the app's handlers listen for these).
def unavailable_error_types() -> tuple[type[BaseException], ...]:
    import sqlite3

    import psycopg
    from sqlalchemy.exc import DBAPIError, TimeoutError

    return DBAPIError, TimeoutError, sqlite3.OperationalError, psycopg.OperationalError, OSError


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """The unit of work: everything inside commits together or not at all. A RecordedRefusal
    ends it: the work rolls back, the refusal's own record commits on its own, and its answer is
    raised in its place. Every unit of work behaves so, so no caller can lose a refusal's record
    by choosing the wrong kind of transaction."""
    try:
        with engine.begin() as conn:
            yield conn
    except RecordedRefusal as refusal:
        with engine.begin() as conn:
            refusal.record(conn)
        raise refusal.answer() from None


@contextmanager
def pipelined(conn: Connection) -> Iterator[Connection]:
    """Writes that need no answer, sent to PostgreSQL together (psycopg's pipeline mode): one
    round trip for the lot instead of one each. A failing statement fails the block, and so the
    whole unit of work, at the latest when it ends. On SQLite, in process, there is nothing to save."""
    if conn.dialect.name != "postgresql":
        yield conn
        return
    import psycopg
    from sqlalchemy.exc import DBAPIError

    try:
        with conn.connection.driver_connection.pipeline():
            yield conn
    except psycopg.Error as e:  # raised when the pipeline syncs: as SQLAlchemy would have raised it
        raise DBAPIError.instance(None, None, e, psycopg.Error) from e


@dataclass(frozen=True)
class Read:
    """One query: a statement built once, its parameters, and how its rows (tuples in the
    statement's column order) become the answer. `read_all` sends several together."""

    statement: Any  # a Select
    params: Mapping[str, Any]
    shape: Callable[[Sequence[Sequence]], Any] = list


def read(conn: Connection, query: Read) -> Any:
    return read_all(conn, query)[0]


def read_all(conn: Connection, *queries: Read) -> list:
    """The answers to `queries`, in order. On PostgreSQL they go in one round trip (psycopg's
    pipeline mode), each compiled once per process and prepared by psycopg on its connection,
    and the rows skip SQLAlchemy's result machinery: on a report's dozen small reads, that
    machinery and the round trips cost more than PostgreSQL's work. On SQLite, in process, they
    run one after another."""
    compiled = [_compiled(q.statement, conn.dialect) for q in queries]  # checked alike on both backends
    if conn.dialect.name != "postgresql":
        return [q.shape(conn.execute(q.statement, q.params).all()) for q in queries]
    import psycopg
    from sqlalchemy.exc import DBAPIError

    driver = conn.connection.driver_connection
    try:
        cursors = []
        with driver.pipeline():
            for c, q in zip(compiled, queries, strict=True):
                cursor = driver.cursor()
                cursor.execute(c.sql, c.bind(q.params))
                cursors.append(cursor)
        return [q.shape(c.rows(cursor)) for c, q, cursor in zip(compiled, queries, cursors, strict=True)]
    except psycopg.Error as e:  # as SQLAlchemy would have raised it
        raise DBAPIError.instance(None, None, e, psycopg.Error) from e


def read_named(conn: Connection, **queries: Read | None) -> dict[str, Any]:
    """`read_all` by name, leaving out the queries given as None (facts not asked for)."""
    wanted = {name: query for name, query in queries.items() if query is not None}
    return dict(zip(wanted, read_all(conn, *wanted.values()), strict=True))


def write(conn: Connection, statement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Run a write that needs no answer (an INSERT, UPDATE or DELETE without RETURNING, on one
    row or, given a list, on many). On PostgreSQL it goes straight to psycopg, compiled once per
    statement and set of columns, so inside `pipelined` it only joins the queue: on an inquiry's
    seven writes SQLAlchemy's execution machinery cost more than sending them. On SQLite it is
    `conn.execute`."""
    rows = [params] if isinstance(params, Mapping) else list(params)
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(statement, params)
        return
    import psycopg
    from sqlalchemy.exc import DBAPIError

    compiled = _compiled(statement, conn.dialect, tuple(sorted(rows[0])))
    cursor = conn.connection.driver_connection.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(compiled.sql, compiled.bind(rows[0]))
        else:
            cursor.executemany(compiled.sql, [compiled.bind(r) for r in rows])
    except psycopg.Error as e:  # as SQLAlchemy would have raised it
        raise DBAPIError.instance(None, None, e, psycopg.Error) from e


class _Compiled:
    """A statement's SQL for psycopg with the bind and result conversions its column types ask
    for (SQLAlchemy's own, taken from the types: the rows come out as `conn.execute` gives them)."""

    def __init__(self, statement, dialect, column_keys: tuple[str, ...] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql, self.dialect, self.defaults = compiled.string, dialect, compiled.params
        self.binds, self.required = {}, [name for name, bind in compiled.binds.items() if bind.required]
        for name, bind in compiled.binds.items():
            if bind.expanding:
                raise ValueError(f"{name}: a Read takes no IN list (expanded per execution); "
                                 "compare with or_() or an array")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds[name] = process
        self.columns = list(statement.selected_columns) if hasattr(statement, "selected_columns") else []
        self.processors: list | None = None  # known from the first answer's type codes

    def bind(self, params: Mapping[str, Any]) -> dict:
        missing = [name for name in self.required if name not in params]
        if missing:
            raise KeyError(f"a value is required for the bound parameters {missing}")
        values = {**self.defaults, **params}
        for name, process in self.binds.items():
            values[name] = process(values[name])
        return values

    def rows(self, cursor) -> list:
        rows = cursor.fetchall()
        if self.processors is None:
            self.processors = [
                (i, p) for i, (column, described) in enumerate(zip(self.columns, cursor.description, strict=True))
                if (p := column.type.dialect_impl(self.dialect).result_processor(self.dialect, described.type_code))
            ]  # fmt: skip
        if not self.processors:
            return rows
        out = []
        for row in rows:
            row = list(row)
            for i, process in self.processors:
                row[i] = process(row[i])
            out.append(tuple(row))
        return out


@lru_cache(maxsize=512)
def _compiled(statement, dialect, column_keys: tuple[str, ...] | None = None) -> _Compiled:
    return _Compiled(statement, dialect, column_keys)


def as_dicts(statement) -> Callable[[Sequence[Sequence]], list[dict]]:
    """A Read's shape: each row as a dict keyed like `conn.execute(...).mappings()`."""
    keys = list(statement.selected_columns.keys())
    return lambda rows: [dict(zip(keys, row, strict=True)) for row in rows]


def fetch_or_404(conn: Connection, table, row_id: str, code: str, detail: str, *, lock: bool = False) -> dict:
    """The row of `table` with this `id`, or 404 `code`. With `lock`, held until the transaction
    ends (FOR UPDATE on PostgreSQL; on SQLite the one writer already holds the database)."""
    query = select(table).where(table.c.id == row_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise Problem(404, code, detail)
    return dict(row)


class RecordedRefusal(Exception):
    """A refusal that must leave a trace although the work it refuses leaves none (a policy
    deny: decisions.Denied)."""

    def record(self, conn: Connection) -> None:
        raise NotImplementedError

    def answer(self) -> Exception:
        raise NotImplementedError


def key(length: int):
    """An opaque identifier column type: compared bytewise (COLLATE "C" on PostgreSQL), never
    by locale rules, which also makes its index inserts cheaper."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def person_index(name: str, column) -> Index:
    """Lookup by person token is equality only: a hash index on PostgreSQL (cheaper to
    maintain at intake than a B-tree), an ordinary one elsewhere."""
    return Index(name, column, postgresql_using="hash")
