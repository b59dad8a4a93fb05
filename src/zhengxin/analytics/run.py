"""Running the supervision views over a lake, on DuckDB (embedded, the default) or PySpark.

The backend is the only thing that differs between the two: `connect` builds it, `load` reads
the lake's Parquet tables through it, and the views of `views.py` run unchanged on either.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from zhengxin.analytics import views
from zhengxin.config import RuleParameters
from zhengxin.kit.errors import Problem
from zhengxin.lake.layout import TABLES

BACKENDS = ("duckdb", "pyspark")
LAKE_MARKER = "_lake.json"


def spark_session():
    """A local Spark for one machine: every core, one shuffle partition per core (the default
    200 makes small lakes slow), no web UI, UTC so instants become the same dates as on DuckDB.
    On a cluster, build the session there and pass it to `connect`."""
    from pyspark.sql import SparkSession

    cores = str(max(2, os.cpu_count() or 2))
    session = (
        SparkSession.builder.master("local[*]")
        .appName("zhengxin-supervision")
        .config("spark.sql.shuffle.partitions", cores)
        .config("spark.default.parallelism", cores)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")  # month stays a string
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")  # results come back through Arrow
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(backend: str = "duckdb", session=None):
    """An Ibis connection: in-memory DuckDB, or PySpark in local mode (or on `session`)."""
    if backend == "duckdb":
        return ibis.duckdb.connect()  # Ibis sets its session time zone to UTC
    if backend == "pyspark":
        try:
            session = session or spark_session()
        except ImportError:
            raise Problem(
                422, "backend_unavailable", "the pyspark backend needs the spark extra: pip install 'zhengxin[spark]'"
            ) from None
        # whoever built the session: instants become UTC dates, and `month=2026-05` is not a date
        session.conf.set("spark.sql.session.timeZone", "UTC")
        session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        return ibis.pyspark.connect(session)
    raise Problem(422, "unknown_backend", f"the analytics backend is one of {', '.join(BACKENDS)}, not {backend!r}")


def load(con, lake_dir: Path | str) -> dict[str, ir.Table]:
    """The lake's tables as Ibis tables (the month partition comes from the directory names).
    A table the lake has no file for yet reads as empty, with the lake's columns."""
    lake_dir = Path(lake_dir)
    if not (lake_dir / LAKE_MARKER).exists():
        raise Problem(404, "no_lake", f"{lake_dir} is not a lake (no {LAKE_MARKER}); run `zhengxin lake export` first")
    tables = {}
    for table in TABLES:
        folder = lake_dir / table.name
        if not folder.is_dir() or next(folder.rglob("*.parquet"), None) is None:
            tables[table.name] = _empty(con, table)
        elif con.name == "pyspark":
            tables[table.name] = con.read_parquet(str(folder), table_name=f"lake_{table.name}")
        elif table.partitioned:  # `month` is text: DuckDB would otherwise guess its type from the names
            tables[table.name] = con.read_parquet(
                f"{folder}/**/*.parquet", table_name=f"lake_{table.name}", hive_partitioning=True,
                hive_types_autocast=False,
            )  # fmt: skip
        else:
            tables[table.name] = con.read_parquet(f"{folder}/*.parquet", table_name=f"lake_{table.name}")
    return tables


def _empty(con, table) -> ir.Table:
    import pyarrow as pa

    schema = table.schema
    if table.partitioned:
        schema = schema.append(pa.field("month", pa.string()))
    return ibis.memtable(schema.empty_table())


def execute(con, expr: ir.Table) -> list[dict]:
    """Run one view and return JSON-able rows (dates and instants as ISO strings)."""
    return [_jsonable(row) for row in con.to_pyarrow(expr).to_pylist()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):  # Spark hands back naive instants, in its session's UTC
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run(
    lake_dir: Path | str,
    *,
    backend: str = "duckdb",
    as_of: date,
    rules: RuleParameters | None = None,
    con=None,
) -> dict[str, list[dict]]:
    """Every supervision view over the lake as of a day: {view name: rows}."""
    if con is None:
        con = connect(backend)
    tables = load(con, lake_dir)
    expressions = views.build(tables, as_of=as_of, rules=rules or RuleParameters())
    return {name: execute(con, expr) for name, expr in expressions.items()}
