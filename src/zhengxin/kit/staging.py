"""Bulk writes of a Polars frame, the fastest way each backend offers.

PostgreSQL: COPY (psycopg 3) of the CSV Polars writes into a temporary table, then one
set-based INSERT ... SELECT ... ON CONFLICT. SQLite: executemany of the same upsert on the
raw driver (an in-process database gains nothing from a staging copy).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import polars as pl
from sqlalchemy import Connection

_counter = itertools.count()

_PG_TYPES = {
    pl.String: "TEXT",
    pl.Int8: "SMALLINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.UInt32: "BIGINT",
    pl.UInt64: "NUMERIC",
    pl.Float64: "DOUBLE PRECISION",
    pl.Float32: "DOUBLE PRECISION",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.Binary: "BYTEA",
    pl.Null: "TEXT",
}
_SQLITE_TYPES = {pl.String: "TEXT", pl.Float64: "REAL", pl.Float32: "REAL", pl.Binary: "BLOB", pl.Date: "DATE"}


def _sql_type(dtype: pl.DataType, postgres: bool) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if postgres else "DATETIME"
    base = dtype.base_type()
    if postgres:
        return _PG_TYPES[base]
    return _SQLITE_TYPES.get(base, "INTEGER")


def _sqlite_rows(frame: pl.DataFrame):
    """Rows as tuples in the text forms SQLAlchemy uses for SQLite dates and (naive UTC) datetimes."""
    frame = frame.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t == pl.Date]
    )
    return zip(*(s.to_list() for s in frame.get_columns()), strict=True)


def _copy_postgres(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    text = frame.with_columns(
        [
            pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime)
        ]
        + [(pl.lit("\\x") + pl.col(c).bin.encode("hex")).alias(c) for c, t in frame.schema.items() if t == pl.Binary]
    )
    payload = text.write_csv(include_header=False, null_value="")
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(payload)


def stage_frame(conn: Connection, name: str, frame: pl.DataFrame) -> str:
    """Create a temporary table holding `frame`; returns its name. The caller drops it."""
    postgres = conn.dialect.name == "postgresql"
    table = f"stage_{name}_{next(_counter)}"
    cols = ", ".join(f'"{c}" {_sql_type(t, postgres)}' for c, t in frame.schema.items())
    suffix = " ON COMMIT DROP" if postgres else ""
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} ({cols}){suffix}")
    if frame.height:
        if postgres:
            _copy_postgres(conn, table, frame)
        else:
            marks = ", ".join("?" for _ in frame.columns)
            conn.connection.driver_connection.executemany(f"INSERT INTO {table} VALUES ({marks})", _sqlite_rows(frame))
    return table


def insert_if_all_new(conn: Connection, table: str, frame: pl.DataFrame) -> bool:
    """Plain bulk INSERT (COPY on PostgreSQL) inside a savepoint; on any key conflict, roll
    back to the savepoint and return False, having written nothing.

    Most furnished rows are new (a new month, a new person), and a plain insert costs the
    server about half of staging plus INSERT ... SELECT ... ON CONFLICT.
    """
    import sqlite3

    import psycopg

    savepoint = conn.begin_nested()
    try:
        if conn.dialect.name == "postgresql":
            _copy_postgres(conn, table, frame)
        else:
            marks = ", ".join("?" for _ in frame.columns)
            conn.connection.driver_connection.executemany(
                f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})", _sqlite_rows(frame)
            )
    except (psycopg.errors.UniqueViolation, sqlite3.IntegrityError):
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def upsert_frame(
    conn: Connection,
    table: str,
    frame: pl.DataFrame,
    key: Sequence[str],
    *,
    update_where: str | None = None,
    casts: dict[str, str] | None = None,
) -> None:
    """INSERT every row of `frame` into `table`; on a key conflict update the other columns
    (only where `update_where`, written against `table` and `excluded`, holds); with no
    columns to update, keep the existing row."""
    if frame.height == 0:
        return
    columns = frame.columns
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    action = (
        f"DO UPDATE SET {updates}" + (f" WHERE {update_where}" if update_where else "") if updates else "DO NOTHING"
    )
    conflict = f"ON CONFLICT ({', '.join(key)}) {action}"
    if conn.dialect.name == "postgresql":
        if insert_if_all_new(conn, table, frame):
            return
        staged = stage_frame(conn, table, frame)
        casts = casts or {}
        selected = ", ".join(f"{c}::{casts[c]}" if c in casts else c for c in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) SELECT {selected} FROM {staged} WHERE true {conflict}")
        conn.exec_driver_sql(f"DROP TABLE {staged}")
    else:
        marks = ", ".join("?" for _ in columns)
        conn.connection.driver_connection.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", _sqlite_rows(frame)
        )
