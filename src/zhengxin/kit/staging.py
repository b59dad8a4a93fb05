"""Bulk-load a Polars frame into a temporary table, the fastest way each backend offers.

PostgreSQL gets COPY (psycopg 3) from the CSV Polars writes; SQLite gets executemany on
the raw driver. Set-based SQL then merges the staged rows into the real tables, so one
code path of INSERT ... SELECT ... ON CONFLICT serves both databases.
"""

from __future__ import annotations

import itertools

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
    pl.Float64: "DOUBLE PRECISION",
    pl.Float32: "DOUBLE PRECISION",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.Binary: "BYTEA",
}
_SQLITE_TYPES = {
    pl.String: "TEXT",
    pl.Float64: "REAL",
    pl.Float32: "REAL",
    pl.Binary: "BLOB",
    pl.Date: "DATE",
}


def _sql_type(dtype: pl.DataType, postgres: bool) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if postgres else "DATETIME"
    base = dtype.base_type() if hasattr(dtype, "base_type") else dtype
    if postgres:
        return _PG_TYPES[base]
    return _SQLITE_TYPES.get(base, "INTEGER")


def stage_frame(conn: Connection, name: str, frame: pl.DataFrame) -> str:
    """Create a temporary table holding `frame`; returns its name. The caller drops it."""
    postgres = conn.dialect.name == "postgresql"
    table = f"stage_{name}_{next(_counter)}"
    cols = ", ".join(f'"{c}" {_sql_type(t, postgres)}' for c, t in frame.schema.items())
    suffix = " ON COMMIT DROP" if postgres else ""
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} ({cols}){suffix}")
    if frame.height == 0:
        return table
    if postgres:
        _copy_postgres(conn, table, frame)
    else:
        _insert_sqlite(conn, table, frame)
    return table


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


def _insert_sqlite(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    # Same text forms SQLAlchemy uses for SQLite dates and (naive UTC) datetimes.
    text = frame.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t == pl.Date]
    )
    marks = ", ".join("?" for _ in frame.columns)
    conn.connection.driver_connection.executemany(f"INSERT INTO {table} VALUES ({marks})", text.iter_rows())
