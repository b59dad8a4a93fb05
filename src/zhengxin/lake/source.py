"""One consistent, read-only view of the store for the length of an export, read in chunks.

The export reads on the raw driver connection: rows come as plain tuples (SQLite's text
dates and times are parsed column-wise by Polars, not row by row), large scans stream
(a server-side cursor on PostgreSQL), and the snapshot is one transaction — REPEATABLE READ
READ ONLY on PostgreSQL, a deferred BEGIN on SQLite, which in WAL mode reads a snapshot
without taking the write lock (the engine's own transactions start with BEGIN IMMEDIATE,
which would hold intake off for the whole export).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.sql import Select

_POLARS = {
    "str": pl.String,
    "int32": pl.Int32,
    "int64": pl.Int64,
    "float64": pl.Float64,
    "bool": pl.Boolean,
    "date": pl.Date,
    "ts": pl.Datetime("us", "UTC"),
    "strlist": pl.List(pl.String),
}
_SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S%.f"  # how SQLAlchemy stores a DateTime in SQLite (UTC, naive)
_names = itertools.count()


class StoreSnapshot:
    """`with StoreSnapshot(engine) as store:` — every query inside sees the same committed state."""

    def __init__(self, engine: Engine, chunk_rows: int):
        self.engine = engine
        self.dialect = engine.dialect
        self.postgres = self.dialect.name == "postgresql"
        self.chunk_rows = chunk_rows

    def __enter__(self) -> StoreSnapshot:
        # Our own connection, out of the pool: its transaction settings never leak to other users.
        self._proxy = self.engine.raw_connection()
        self.dbapi = self._proxy.driver_connection
        self._proxy.detach()
        if self.postgres:
            import psycopg

            self.dbapi.rollback()
            self.dbapi.autocommit = False
            self.dbapi.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self.dbapi.read_only = True
        else:
            # GROUP BY sorts (SQLite has no hash aggregate): let the sorter spill to a file beyond
            # the page cache instead of holding a whole table's keys in memory (temp_store=MEMORY).
            self.dbapi.execute("PRAGMA temp_store=FILE")
            self.dbapi.execute("BEGIN")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.dbapi.rollback()
        finally:
            self._proxy.close()

    # Queries ----------------------------------------------------------------------------

    def _compile(self, query: Select) -> tuple[str, Sequence | dict]:
        compiled = query.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.params
        if self.postgres:
            return compiled.string, params
        return compiled.string, [params[name] for name in compiled.positiontup or []]

    def all(self, query: Select) -> list[tuple]:
        sql, params = self._compile(query)
        cursor = self.dbapi.cursor()
        try:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def frames(self, query: Select, columns: Sequence[tuple[str, str]]) -> Iterator[pl.DataFrame]:
        """The query's rows as typed frames of `chunk_rows` rows: one chunk of driver rows in
        memory at a time (each is dropped before the next is fetched)."""
        sql, params = self._compile(query)
        # A named (server-side) cursor on PostgreSQL; SQLite's cursor steps through rows lazily anyway.
        cursor = self.dbapi.cursor(name=f"lake_{next(_names)}") if self.postgres else self.dbapi.cursor()
        try:
            if self.postgres:
                cursor.itersize = self.chunk_rows
            cursor.execute(sql, params)
            while True:
                rows = cursor.fetchmany(self.chunk_rows)
                if not rows:
                    return
                frame = self.frame(rows, columns)
                del rows
                yield frame
        finally:
            cursor.close()

    def instant(self, value: datetime):
        """An instant as a query parameter, in the form the backend stores."""
        if self.postgres:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def frame(self, rows: Sequence[tuple], columns: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """Rows as a typed frame; `columns` are (name, kind) pairs in the select's order."""
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pl.DataFrame(
            [self._series(name, kind, vals) for (name, kind), vals in zip(columns, values, strict=True)]
        )

    def _series(self, name: str, kind: str, values: Sequence) -> pl.Series:
        text = not self.postgres
        if kind == "date" and text:
            return pl.Series(name, values, dtype=pl.String).str.to_date("%Y-%m-%d")
        if kind == "ts" and text:
            strings = pl.Series(name, values, dtype=pl.String)
            return strings.str.to_datetime(_SQLITE_INSTANT, time_unit="us", time_zone="UTC")
        if kind == "strlist":
            values = [json.loads(v) if isinstance(v, str | bytes) else v for v in values]
        elif kind == "bool":
            values = [None if v is None else bool(v) for v in values]
        return pl.Series(name, values, dtype=_POLARS[kind])
