"""Each run of the supervision analytics: when, on which engine, over which lake, and every
view's rows (aggregates only, never a person token), which the regulator's routes serve."""

from sqlalchemy import JSON, Column, Date, Float, Index, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata

supervision_runs = Table(
    "supervision_runs",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("as_of", Date, nullable=False),  # the day the views judge by
    Column("backend", String(16), nullable=False),  # duckdb | pyspark
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("seconds", Float, nullable=False),  # reading the lake and running the views (no export, no engine start)
    Column("lake_dir", String(500), nullable=False),
    Column("results", JSON, nullable=False),  # {view name: [row, ...]}
)
Index("ix_supervision_runs_finished", supervision_runs.c.finished_at)
