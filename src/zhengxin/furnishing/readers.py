"""Read a furnisher file (CSV, JSONL, Parquet) in bounded chunks of string columns.

Every value arrives as text (or null) so that validation is one column-wise code path for
all three formats, and every row keeps its line number and can give back its raw text for
the quarantine. Rows a parser cannot split into fields are returned as malformed, never
dropped.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Malformed:
    line: int
    raw: str
    code: str
    message: str


@dataclass
class Chunk:
    """Parsed rows as String columns plus `__line`; `raw(i)` gives row i's original text."""

    frame: pl.DataFrame
    raw: Callable[[int], str]
    malformed: list[Malformed] = field(default_factory=list)
    bytes_read: int = 0


def format_for(content_type: str | None = None, path: Path | None = None) -> str | None:
    if content_type:
        return FORMATS.get(content_type.split(";")[0].strip().lower())
    if path is not None:
        return SUFFIXES.get(path.suffix.lower())
    return None


def read_chunks(
    path: Path, fmt: str, chunk_rows: int, max_record_bytes: int = 64 * 1024, known_fields: frozenset[str] = frozenset()
) -> Iterator[Chunk]:
    if fmt == "csv":
        return _csv_chunks(path, chunk_rows, max_record_bytes, known_fields)
    if fmt == "jsonl":
        return _jsonl_chunks(path, chunk_rows, max_record_bytes)
    if fmt == "parquet":
        return _parquet_chunks(path, chunk_rows)
    raise ValueError(f"unknown format {fmt}")


KEPT_OF_OVERSIZED = 1024  # bytes of an oversized record kept (sealed) in the quarantine


@dataclass
class _Oversized:
    head: bytes  # its first bytes
    length: int


def _bounded_lines(f, max_bytes: int) -> Iterator[bytes | _Oversized]:
    """The file's lines, none ever held whole in memory beyond `max_bytes`: a longer one is
    read past in pieces and stands as an `_Oversized` with its first bytes."""
    while True:
        line = f.readline(max_bytes + 1)
        if not line:
            return
        if len(line) <= max_bytes or line.endswith(b"\n"):  # at most max_bytes before its newline
            yield line
            continue
        head, length = line[:KEPT_OF_OVERSIZED], len(line)
        while not line.endswith(b"\n"):
            line = f.readline(1 << 20)
            if not line:
                break
            length += len(line)
        yield _Oversized(head, length)


def _take(lines: Iterator[bytes | _Oversized], first: int, count: int, limit: str):
    """The next `count` lines from line number `first`: records as bytes (an oversized one as a
    blank line, so numbering holds) and the oversized ones as malformed records."""
    taken, oversized = [], []
    for offset, line in enumerate(itertools.islice(lines, count)):
        if isinstance(line, _Oversized):
            oversized.append(Malformed(first + offset, _decode(line.head) + "…", "record_too_large",
                                       f"the record is {line.length} bytes; at most {limit}"))  # fmt: skip
            taken.append(b"\n")
        else:
            taken.append(line)
    return taken, oversized


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "backslashreplace").rstrip("\r\n")


def _frame(columns: list[str], data: dict[str, list], lines: list[int]) -> pl.DataFrame:
    # `__line` goes in with the data: a chunk of `{}` objects has rows but no columns.
    return pl.DataFrame(
        {**{c: data[c] for c in columns}, "__line": lines},
        schema={**{c: pl.String for c in columns}, "__line": pl.Int64},
    )


# CSV ------------------------------------------------------------------------------------


def _csv_chunks(path: Path, chunk_rows: int, max_record_bytes: int, known_fields: frozenset[str]) -> Iterator[Chunk]:
    with open(path, "rb") as f:
        header_line = f.readline(max_record_bytes + 1)
        if len(header_line) > max_record_bytes:
            raise UnreadableFile("malformed_header", f"the CSV header is longer than {max_record_bytes} bytes")
        try:
            header_text = header_line.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFile("malformed_header", "the CSV header is not UTF-8") from None
        try:
            header = [h.strip() for h in next(csv.reader([header_text]), [])]
        except csv.Error:  # a bare carriage return inside the header line, say
            raise UnreadableFile("malformed_header", "the CSV header is not one CSV line") from None
        if not header or any(not h for h in header) or len(set(header)) != len(header):
            raise UnreadableFile("malformed_header", "the CSV header must name each column once")
        if known_fields and not known_fields.intersection(header):
            # `[false]` or a headerless file would otherwise pass as an empty batch.
            raise UnreadableFile("unknown_header", "the first line must be a header naming fields of the catalog")
        line_no = 1
        source = _bounded_lines(f, max_record_bytes)
        while True:
            first = line_no + 1
            lines, oversized = _take(source, first, chunk_rows, f"{max_record_bytes} bytes")
            if not lines:
                return
            line_no += len(lines)
            chunk = _csv_fast(header, lines, first) or _csv_slow(header, lines, first)
            chunk.malformed += oversized
            chunk.bytes_read = f.tell()
            yield chunk


def _csv_fast(header: list[str], lines: list[bytes], first: int) -> Chunk | None:
    """Polars parses the chunk when every physical line is one well-formed record."""
    if any(not line.strip() for line in lines):
        return None
    try:
        frame = pl.read_csv(
            io.BytesIO(b"".join(lines)),
            has_header=False,
            schema={c: pl.String for c in header},
            empty_string_is_null=True,
            truncate_ragged_lines=False,
        )
    except Exception:
        return None
    if frame.height != len(lines) or frame.width != len(header):
        return None
    frame = frame.with_columns(pl.int_range(first, first + len(lines), dtype=pl.Int64).alias("__line"))
    return Chunk(frame=frame, raw=lambda i: _decode(lines[i]))


def _csv_slow(header: list[str], lines: list[bytes], first: int) -> Chunk:
    """Record by record with the csv module: quoted newlines, ragged rows, bad bytes."""
    data: dict[str, list] = {c: [] for c in header}
    numbers: list[int] = []
    raws: list[str] = []
    malformed: list[Malformed] = []
    texts: list[tuple[int, str]] = []
    for offset, line in enumerate(lines):
        try:
            texts.append((first + offset, line.decode("utf-8")))
        except UnicodeDecodeError:
            malformed.append(Malformed(first + offset, _decode(line), "invalid_encoding", "the line is not UTF-8"))
    physical = iter(texts)
    current: list[tuple[int, str]] = []

    def feed():
        for item in physical:
            current.append(item)
            yield item[1]

    reader = csv.reader(feed(), strict=True)
    while True:
        current.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if current:
                malformed.append(
                    Malformed(
                        current[0][0], "".join(t for _, t in current).rstrip("\r\n"), "malformed_row", f"CSV: {e}"
                    )
                )
            continue
        if not current:
            break
        line = current[0][0]
        raw = "".join(t for _, t in current).rstrip("\r\n")
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line is not a record
        if len(row) > len(header):
            malformed.append(
                Malformed(line, raw, "malformed_row", f"row has {len(row)} fields, the header has {len(header)}")
            )
            continue
        # Missing trailing cells read as empty, as Polars (the fast path) reads them.
        row = row + [""] * (len(header) - len(row))
        for c, v in zip(header, row, strict=True):
            data[c].append(v if v != "" else None)
        numbers.append(line)
        raws.append(raw)
    return Chunk(frame=_frame(header, data, numbers), raw=raws.__getitem__, malformed=malformed)


class UnreadableFile(ValueError):
    """The file as a whole cannot be parsed (no header, not Parquet): nothing to quarantine."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# JSONL ----------------------------------------------------------------------------------


def _jsonl_chunks(path: Path, chunk_rows: int, max_record_bytes: int) -> Iterator[Chunk]:
    with open(path, "rb") as f:
        line_no = 0
        source = _bounded_lines(f, max_record_bytes)
        while True:
            lines, malformed = _take(source, line_no + 1, chunk_rows, f"{max_record_bytes} bytes")
            if not lines:
                return
            consumed = f.tell()
            columns: dict[str, None] = {}
            rows: list[dict] = []
            numbers: list[int] = []
            raws: list[str] = []
            for line in lines:
                line_no += 1
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    malformed.append(Malformed(line_no, _decode(line), "invalid_json", "the line is not a JSON object"))
                    continue
                if not isinstance(obj, dict):
                    malformed.append(Malformed(line_no, _decode(line), "invalid_json", "the line is not a JSON object"))
                    continue
                row = {str(k): _as_text(v) for k, v in obj.items()}
                columns.update(dict.fromkeys(row))
                rows.append(row)
                numbers.append(line_no)
                raws.append(_decode(line))
            names = list(columns)
            data = {c: [r.get(c) for r in rows] for c in names}
            yield Chunk(
                frame=_frame(names, data, numbers), raw=raws.__getitem__, malformed=malformed, bytes_read=consumed
            )


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


# Parquet --------------------------------------------------------------------------------


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        raise UnreadableFile("unreadable_file", "the body is not a readable Parquet file") from None
    names = file.schema_arrow.names
    if len(set(names)) != len(names):
        raise UnreadableFile("duplicate_columns", "the Parquet file has two or more columns of the same name")
    size = max(path.stat().st_size, 1)
    total = max(file.metadata.num_rows, 1)
    done = 0
    batches = file.iter_batches(batch_size=chunk_rows)
    while True:
        # A valid footer says nothing of the pages: any row group may fail to decode.
        try:
            batch = next(batches, None)
            if batch is None:
                return
            frame = pl.from_arrow(batch)
        except (pa.ArrowException, OSError, pl.exceptions.PolarsError, ValueError):
            raise UnreadableFile(
                "unreadable_file", f"the Parquet file cannot be read after record {done}: a page is corrupt"
            ) from None
        frame = frame.with_columns([_parquet_text(frame[c]).alias(c) for c in frame.columns]).with_columns(
            pl.int_range(done + 1, done + frame.height + 1, dtype=pl.Int64).alias("__line")
        )
        done += frame.height
        rows = frame.drop("__line")
        yield Chunk(
            frame=frame,
            raw=lambda i, rows=rows: orjson.dumps(rows.row(i, named=True)).decode(),
            bytes_read=int(size * done / total),
        )


def _parquet_text(column: pl.Series) -> pl.Expr:
    if column.dtype == pl.String:
        return pl.col(column.name)
    if column.dtype == pl.Boolean:
        return pl.col(column.name).cast(pl.String).str.to_lowercase()
    if column.dtype.is_numeric() or column.dtype in (pl.Date, pl.Datetime):
        return pl.col(column.name).cast(pl.String)
    # Nested or binary values are never valid field values: keep them as JSON text.
    return pl.col(column.name).map_elements(lambda v: orjson.dumps(v, default=str).decode(), return_dtype=pl.String)
