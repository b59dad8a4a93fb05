"""Parquet files of the lake, each written under a temporary name and renamed into place, so a
reader sees the old file or the new one, never half of one. Temporary names start with a dot
(and do not end in .parquet): DuckDB's `**/*.parquet` and Spark both pass them by."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
ROW_GROUP_ROWS = 128 * 1024
MAX_BUFFERED_ROWS = 250_000  # across a writer's months, before the largest is written out
PART = re.compile(r"^part-(\d{6})\.parquet$")
SNAPSHOT = "snapshot.parquet"


def part_name(number: int) -> str:
    return f"part-{number:06d}.parquet"


def month_dir(root: Path, month: str) -> Path:
    return root / f"month={month}"


def temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and ".tmp-" in path.name


def as_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """The frame's lake columns, in the lake's order and exact Arrow types."""
    return frame.select(schema.names).to_arrow().cast(schema)


def write_file(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path)
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_ROWS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class PartitionWriter:
    """Rows of many months into one new file per month (`file_for(month)` names it). Rows are
    buffered per month into row groups of ROW_GROUP_ROWS, with at most MAX_BUFFERED_ROWS held
    in all; files appear under their names only at `commit`, and `abort` leaves none."""

    def __init__(self, root: Path, schema: pa.Schema, file_for: Callable[[str], Path]):
        self.root, self.schema, self.file_for = root, schema, file_for
        self._buffers: dict[str, list[pa.Table]] = {}
        self._buffered: dict[str, int] = {}
        self._writers: dict[str, tuple[pq.ParquetWriter, Path, Path]] = {}
        self.rows: dict[str, int] = {}

    def add(self, frame: pl.DataFrame) -> None:
        """Rows with the lake's columns and a `month` column (YYYY-MM), which goes to the path."""
        if frame.height == 0:
            return
        for (month,), part in frame.partition_by("month", as_dict=True, maintain_order=True).items():
            self._buffers.setdefault(month, []).append(as_arrow(part, self.schema))
            self._buffered[month] = self._buffered.get(month, 0) + part.height
            self.rows[month] = self.rows.get(month, 0) + part.height
            if self._buffered[month] >= ROW_GROUP_ROWS:
                self._flush(month)
        while sum(self._buffered.values()) > MAX_BUFFERED_ROWS:
            self._flush(max(self._buffered, key=self._buffered.__getitem__))

    def _flush(self, month: str) -> None:
        tables = self._buffers.pop(month, [])
        self._buffered.pop(month, None)
        if not tables:
            return
        if month not in self._writers:
            final = self.file_for(month)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary(final)
            self._writers[month] = (pq.ParquetWriter(tmp, self.schema, compression=COMPRESSION), tmp, final)
        self._writers[month][0].write_table(pa.concat_tables(tables), row_group_size=ROW_GROUP_ROWS)

    def commit(self) -> dict[str, Path]:
        """Finish every file and move it into place; returns month -> file written."""
        for month in list(self._buffers):
            self._flush(month)
        done = {}
        for month, (writer, tmp, final) in self._writers.items():
            writer.close()
            os.replace(tmp, final)
            done[month] = final
        self._writers.clear()
        return done

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        """Commit when the block ends normally; abort on any exception (an interrupt too), or
        when the commit itself fails, so no partial file is left."""
        if kind is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for writer, tmp, _ in self._writers.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)
        self._writers.clear()
        self._buffers.clear()
        self._buffered.clear()
