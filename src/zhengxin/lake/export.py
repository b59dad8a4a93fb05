"""`zhengxin lake export`: the store's tables as Parquet under DIR, incrementally.

Each table is refreshed by its mode (layout.MODES):

- months (accounts, consumption, travel): rows are updated in place (a resent record) and
  deleted (retention, CR-16/PIPL-47; consent withdrawals, PIPL-15), so each month carries a
  fingerprint — row count, latest `updated_at` and sums of the values that change (balances,
  amounts; for accounts also the known symbols of the payment histories, which retention
  masks with `#` in place without touching `updated_at`). A month whose fingerprint changed
  is rewritten whole, in one scan of the table for all such months; a month that vanished is
  removed, so what the store erased leaves the lake at the next export.
- append (inquiries, denials, batches and their rejections, log_index): a new part file per
  month per run holding the rows past the watermark. The log's leaf index is given at commit
  time, in order, so it is an exact watermark. `created_at` is stamped when a transaction
  starts, so a row can commit after a later one was exported; each run therefore reads again
  from `watermark - LOOKBACK` and skips the ids it already wrote there (kept in the state).
- digest (disputes, parties, obligations): small; read whole each run and rewritten (per
  month, or the one snapshot file) only when their content changed.

A run that finds nothing new writes no data file (it does rewrite DIR/_lake.json, whose
`exported_at` says how fresh the lake is). Every file appears by rename, and the state is
saved last, so a run that dies leaves the previous lake readable; the next run clears what
the dead one left and writes its parts again under the same names.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy import Table, func, literal_column, select
from sqlalchemy.sql import ColumnElement, Select

from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.lake import files, layout
from zhengxin.lake.layout import LakeTable
from zhengxin.lake.source import StoreSnapshot
from zhengxin.read_model import (
    account_snapshots,
    batches,
    consumption_summaries,
    disputes,
    inquiries,
    log_leaves,
    obligations,
    parties,
    policy_decisions,
    quarantine,
    travel_summaries,
)

STATE_FILE = "_lake.json"
FORMAT = 1
CHUNK_ROWS = 100_000  # rows per fetch: ~120 MB of driver tuples for accounts at most
IDS_PER_QUERY = 500
# How far back each run reads again for rows that committed after a later one was exported:
# an inquiry or a denial is one short request; an intake batch can run for a long while.
LOOKBACK = {
    "inquiries": timedelta(minutes=10),
    "denials": timedelta(minutes=10),
    "batches": timedelta(days=1),
}

Progress = Callable[[str, int, int], None]  # (table, rows done, rows to do)


def export(runtime, out: Path, *, progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Bring the lake in `out` up to date with the store; returns what was written, per table."""
    out = Path(out)
    started = time.perf_counter()
    with _locked(out):
        state = _open(out)
        state["exported_at"] = _iso(clock.now())
        run = _Run(out, state, progress)
        _tidy(out, state)
        with StoreSnapshot(runtime.engine, chunk_rows) as store:
            run.store = store
            for table, source in _MONTH_SOURCES.items():
                _months(run, table, *source)
            new_batches: list[str] = []  # their rejections follow them
            _append_by_time(
                run, layout.BATCHES, _batches_query(), batches.c.created_at, batches.c.id, written=new_batches
            )
            _deliveries(run, new_batches)
            _rejections(run, new_batches)
            _append_by_time(run, layout.INQUIRIES, _inquiries_query(), inquiries.c.created_at, inquiries.c.id)
            _append_by_time(run, layout.DENIALS, _denials_query(), policy_decisions.c.created_at, policy_decisions.c.id)
            _log_index(run)
            _digest(run, layout.DISPUTES, _disputes_query(), month_of="opened_at")
            _digest(run, layout.PARTIES, _parties_query())
            _digest(run, layout.OBLIGATIONS, _obligations_query())
        _save(out, state)
    tables = run.summary
    return {
        "out": str(out),
        "exported_at": state["exported_at"],
        "rows": sum(t["rows"] for t in tables.values()),
        "files": sum(t["files"] for t in tables.values()),
        "partitions": sum(len(t["partitions"]) + len(t["removed"]) for t in tables.values()),
        "seconds": round(time.perf_counter() - started, 3),
        "tables": tables,
    }


# The directory and its state -------------------------------------------------------------


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One export at a time per lake (a second one would number the same parts)."""
    if out.exists() and not out.is_dir():
        raise Problem(409, "not_a_lake", f"{out} is a file, not a lake directory")
    if out.is_dir() and not (out / STATE_FILE).exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise Problem(409, "not_a_lake", f"{out} holds files but no {STATE_FILE}: give an empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Problem(409, "lake_busy", f"another export is writing {out}") from None
        yield
    finally:
        os.close(fd)


def _open(out: Path) -> dict:
    path = out / STATE_FILE
    if not path.exists():
        # Marked a lake before any data file goes in, so a first run that dies is tidied, not refused.
        state = {"format": FORMAT, "exported_at": None, "tables": {}}
        _save(out, state)
        return state
    try:
        state = json.loads(path.read_text())
    except ValueError as e:
        raise Problem(409, "lake_state_unreadable", f"{path} is not valid JSON: {e}") from None
    if state.get("format") != FORMAT:
        raise Problem(409, "lake_format_unknown", f"{path} is format {state.get('format')!r}, this writes {FORMAT}")
    return state


def _save(out: Path, state: dict) -> None:
    path = out / STATE_FILE
    tmp = files.temporary(path)
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _tidy(out: Path, state: dict) -> None:
    """Remove what a run that died left behind: temporary files, and partitions or parts the
    state does not know (they are written again by this run if they are still due)."""
    for table in layout.TABLES:
        root = out / table.name
        if not root.is_dir():
            continue
        for path in root.rglob(".*"):
            if path.is_file() and files.is_temporary(path):
                path.unlink()
        if not table.partitioned:
            continue
        known = _known_files(table, state["tables"].get(table.name, {}))
        for folder in root.iterdir():
            if not (folder.is_dir() and folder.name.startswith("month=")):
                continue
            month = folder.name.removeprefix("month=")
            if month not in known:
                shutil.rmtree(folder)
                continue
            for path in folder.iterdir():
                match = files.PART.match(path.name)
                if match and int(match.group(1)) not in known[month]:
                    path.unlink()


def _known_files(table: LakeTable, st: dict) -> dict[str, set[int]]:
    if table.mode == "append":
        return {m: set(range(1, p["files"] + 1)) for m, p in st.get("parts", {}).items()}
    return {m: {0} for m in st.get("months", {})}


class _Run:
    def __init__(self, out: Path, state: dict, progress: Progress | None):
        self.out, self.state = out, state
        self.progress = progress or (lambda table, done, total: None)
        self.store: StoreSnapshot
        self.summary: dict[str, dict] = {}
        self._started: dict[str, float] = {}
        self._totals: dict[str, int] = {}

    def begin(self, table: LakeTable, total: int) -> dict:
        """Start a table: report its rows to do; returns its state (created if new)."""
        self._started[table.name] = time.perf_counter()
        self._totals[table.name] = total
        self.progress(table.name, 0, total)
        st = self.state["tables"].setdefault(table.name, {})
        st.update(mode=table.mode, partitioned=table.partitioned, columns=table.column_names)
        return st

    def tick(self, table: LakeTable, done: int) -> None:
        self.progress(table.name, done, max(self._totals.get(table.name, 0), done))

    def root(self, table: LakeTable) -> Path:
        return self.out / table.name

    def done(self, table: LakeTable, rows: int, files: int, partitions=(), removed=()) -> None:
        total = max(self._totals.get(table.name, 0), rows)
        self.progress(table.name, total, total)
        self.summary[table.name] = {
            "rows": rows,
            "files": files,
            "partitions": sorted(partitions),
            "removed": sorted(removed),
            "seconds": round(time.perf_counter() - self._started[table.name], 3),
        }


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="microseconds")


def _plain(value):
    """A fingerprint value as JSON keeps it."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Decimal):
        return int(value)
    return value


def _remove_partition(root: Path, month: str) -> None:
    shutil.rmtree(files.month_dir(root, month), ignore_errors=True)


# months: rewritten where they changed --------------------------------------------------------


def _account_sums(s) -> list[ColumnElement]:
    known = func.length(func.replace(s.payment_history, "#", ""))  # retention masks erased months with '#'
    return [func.sum(s.balance_fen), func.sum(s.overdue_fen), func.sum(s.days_past_due), func.sum(known)]


_MONTH_SOURCES: dict[LakeTable, tuple[Table, Callable]] = {
    layout.ACCOUNTS: (account_snapshots, _account_sums),
    layout.CONSUMPTION: (consumption_summaries, lambda s: [func.sum(s.amount_fen), func.sum(s.orders)]),
    layout.TRAVEL: (travel_summaries, lambda s: [func.sum(s.trips), func.sum(s.cities)]),
}


def _months(run: _Run, table: LakeTable, source: Table, sums: Callable) -> None:
    s = source.c
    root = run.root(table)
    aggregates = select(s.month, func.count(), func.max(s.updated_at), *sums(s)).group_by(s.month)
    now = {row[0]: [_plain(v) for v in row[1:]] for row in run.store.all(aggregates)}
    st = run.state["tables"].get(table.name, {})
    before = st.get("months", {})

    def current(month: str) -> bool:
        return before.get(month, {}).get("fingerprint") == now[month] and _file(root, month, 0).exists()

    changed = sorted(m for m in now if not current(m))
    gone = sorted(set(before) - set(now))
    st = run.begin(table, sum(now[m][0] for m in changed))
    rows = 0
    if changed:
        query = select(*(s[c] for c in table.column_names), s.month)
        if len(changed) < len(now):
            query = query.where(s.month.in_(changed))
        rows = _write(run, table, query, [*table.columns, ("month", "str")], lambda m: _file(root, m, 0))
    for month in gone:
        _remove_partition(root, month)
    st["months"] = {m: {"rows": fp[0], "fingerprint": fp} for m, fp in sorted(now.items())}
    st["rows"] = sum(fp[0] for fp in now.values())
    run.done(table, rows, len(changed), changed, gone)


def _file(root: Path, month: str, number: int) -> Path:
    return files.month_dir(root, month) / files.part_name(number)


def _write(run: _Run, table: LakeTable, query: Select, columns: list, file_for) -> int:
    """Stream `query` into one new file per month; returns the rows written."""
    done = 0
    with files.PartitionWriter(run.root(table), table.schema, file_for) as writer:
        for frame in run.store.frames(query, columns):
            done += frame.height
            writer.add(frame)
            run.tick(table, done)
    return sum(writer.rows.values())


# append: parts past the watermark ---------------------------------------------------------------


def _batches_query() -> Select:
    c = batches.c
    return select(c.id, c.furnisher_id, c.format, c.received, c.accepted, c.rejected, c.created_at, c.completed_at)


def _inquiries_query() -> Select:
    return select(*(inquiries.c[n] for n in layout.INQUIRIES.column_names))


def _denials_query() -> Select:
    # The denied inquiry decisions; `kind` is the log event each was logged as.
    d = policy_decisions.c
    return select(
        d.id.label("decision_id"), literal_column("'inquiry.denied'").label("kind"), d.rules, d.created_at
    ).where(d.allowed.is_(False), d.action == "inquire")


def _appender(run: _Run, table: LakeTable, st: dict) -> Callable[[str], Path]:
    parts = st.setdefault("parts", {})
    return lambda month: _file(run.root(table), month, parts.get(month, {}).get("files", 0) + 1)


def _appended(st: dict, written: dict[str, int]) -> None:
    parts = st.setdefault("parts", {})
    for month, rows in written.items():
        part = parts.setdefault(month, {"files": 0, "rows": 0})
        part["files"] += 1
        part["rows"] += rows
    st["parts"] = dict(sorted(parts.items()))
    st["rows"] = sum(p["rows"] for p in parts.values())


def _month_of(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m").alias("month")


def _append_by_time(
    run: _Run, table: LakeTable, query: Select, created, key, *, written: list[str] | None = None
) -> None:
    """Rows created since the watermark (less the lookback, less the ids already written there)
    as one new part per month; the keys of the rows written go to `written` if given."""
    lookback = LOOKBACK[table.name]
    st = run.state["tables"].get(table.name, {})
    mark = st.get("watermark") or {}
    latest = datetime.fromisoformat(mark["created_at"]) if mark.get("created_at") else None
    written_before = set(mark.get("recent", []))
    if latest is not None:
        query = query.where(created >= run.store.instant(latest - lookback))
    total = run.store.all(select(func.count()).select_from(query.subquery()))[0][0]
    st = run.begin(table, total)
    query = query.order_by(created, key)
    key_name, created_name = table.columns[0][0], created.name  # the key is each table's first column
    window: list[pl.DataFrame] = []  # keys of the rows read within the lookback of the latest
    done = 0
    with files.PartitionWriter(run.root(table), table.schema, _appender(run, table, st)) as writer:
        for frame in run.store.frames(query, table.columns):
            done += frame.height
            chunk_latest = frame[created_name].max()
            latest = chunk_latest if latest is None else max(latest, chunk_latest)
            window = [pl.concat([*window, frame.select(key_name, created_name)]).filter(
                pl.col(created_name) >= latest - lookback)]  # fmt: skip
            if written_before:
                frame = frame.filter(~pl.col(key_name).is_in(list(written_before)))
            frame = frame.with_columns(_month_of(created_name))
            writer.add(frame)
            if written is not None:
                written += frame[key_name].to_list()
            run.tick(table, done)
    _appended(st, writer.rows)
    if latest is not None:
        recent = window[0][key_name].to_list() if window else sorted(written_before)
        st["watermark"] = {"created_at": _iso(latest), "recent": sorted(recent)}
    rows = sum(writer.rows.values())
    run.done(table, rows, len(writer.rows), writer.rows)


def _deliveries(run: _Run, ids: list[str]) -> None:
    """What each batch this run wrote delivered, by record type, in the month of its batch. A
    lake that has no deliveries yet (older than this table) gets those of every batch it holds."""
    table = layout.DELIVERIES
    if table.name not in run.state["tables"]:
        ids = [r[0] for r in run.store.all(select(batches.c.id).order_by(batches.c.id))]
    st = run.begin(table, 0)
    b = batches.c
    columns = [("batch_id", "str"), ("furnisher_id", "str"), ("created_at", "ts"), ("completed_at", "ts")]
    with files.PartitionWriter(run.root(table), table.schema, _appender(run, table, st)) as writer:
        for i in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[i : i + IDS_PER_QUERY]
            typed = run.store.all(select(b.id, b.accepted_by_type).where(b.id.in_(chunk)))
            counts = pl.DataFrame(
                [(batch_id, t, n) for batch_id, by_type in typed for t, n in _by_type(by_type).items() if n],
                schema={"batch_id": pl.String, "record_type": pl.String, "accepted": pl.Int32}, orient="row",
            )  # fmt: skip
            query = select(b.id, b.furnisher_id, b.created_at, b.completed_at).where(b.id.in_(chunk)).order_by(b.id)
            for frame in run.store.frames(query, columns):
                rows = frame.join(counts, on="batch_id").select(table.column_names)
                writer.add(rows.with_columns(_month_of("created_at")))
    _appended(st, writer.rows)
    run.done(table, sum(writer.rows.values()), len(writer.rows), writer.rows)


def _by_type(value) -> dict[str, int]:
    """A batch's accepted records by type, as the driver returns the JSON column."""
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})


def _rejections(run: _Run, ids: list[str]) -> None:
    """The quarantined records of the batches this run wrote (a batch and its quarantine commit
    together), in the month of their batch."""
    table = layout.REJECTIONS
    st = run.begin(table, 0)
    q, b = quarantine.c, batches.c
    base = select(q.batch_id, b.furnisher_id, q.line, q.record_type, q.field, q.code, q.rule, b.created_at).join_from(
        quarantine, batches, q.batch_id == b.id
    )
    columns = [*table.columns, ("batch_created_at", "ts")]
    with files.PartitionWriter(run.root(table), table.schema, _appender(run, table, st)) as writer:
        for i in range(0, len(ids), IDS_PER_QUERY):
            query = base.where(q.batch_id.in_(ids[i : i + IDS_PER_QUERY])).order_by(q.batch_id, q.line)
            for frame in run.store.frames(query, columns):
                writer.add(frame.with_columns(_month_of("batch_created_at")))
    _appended(st, writer.rows)
    run.done(table, sum(writer.rows.values()), len(writer.rows), writer.rows)


def _log_index(run: _Run) -> None:
    """Leaves past the last one exported: leaf indices are given in commit order (one
    sequencer at a time, under the log's lock), so the index is an exact watermark."""
    table = layout.LOG_INDEX
    leaf = log_leaves.c
    st = run.state["tables"].get(table.name, {})
    after = (st.get("watermark") or {}).get("leaf_index", -1)
    last = run.store.all(select(func.max(leaf.leaf_index)))[0][0]
    st = run.begin(table, 0 if last is None else max(last - after, 0))
    query = select(leaf.leaf_index, leaf.kind, leaf.person_token, leaf.created_at).where(leaf.leaf_index > after)
    done = 0
    with files.PartitionWriter(run.root(table), table.schema, _appender(run, table, st)) as writer:
        for frame in run.store.frames(query.order_by(leaf.leaf_index), table.columns):
            after = max(after, frame["leaf_index"].max())
            writer.add(frame.with_columns(_month_of("created_at")))
            done += frame.height
            run.tick(table, done)
    _appended(st, writer.rows)
    st["watermark"] = {"leaf_index": after}
    run.done(table, sum(writer.rows.values()), len(writer.rows), writer.rows)


# digest: small tables, rewritten when their content changed -------------------------------------


def _disputes_query() -> Select:
    return select(*(disputes.c[n] for n in layout.DISPUTES.column_names)).order_by(disputes.c.id)


def _parties_query() -> Select:
    # Organisations only: an individual's party row is a person's account.
    p = parties.c
    return select(p.id, p.role, p.name, p.uscc, p.created_at).where(p.role != "individual").order_by(p.id)


def _obligations_query() -> Select:
    return select(*(obligations.c[n] for n in layout.OBLIGATIONS.column_names)).order_by(obligations.c.id)


def _digest_of(frame: pl.DataFrame) -> str:
    return hashlib.sha256(json.dumps(frame.rows(), default=str, ensure_ascii=False).encode()).hexdigest()


def _digest(run: _Run, table: LakeTable, query: Select, *, month_of: str | None = None) -> None:
    frame = pl.concat(list(run.store.frames(query, table.columns)) or [run.store.frame([], table.columns)])
    st = run.begin(table, frame.height)
    root = run.root(table)
    if not table.partitioned:
        digest = _digest_of(frame)
        path = root / files.SNAPSHOT
        wrote = st.get("digest") != digest or not path.exists()
        if wrote:
            files.write_file(path, files.as_arrow(frame, table.schema))
        st.update(digest=digest, rows=frame.height)
        run.done(table, frame.height if wrote else 0, int(wrote))
        return
    frame = frame.with_columns(_month_of(month_of))
    before = st.get("months", {})
    now, changed, rows = {}, [], 0
    for (month,), part in sorted(frame.partition_by("month", as_dict=True).items()):
        now[month] = {"rows": part.height, "digest": _digest_of(part)}
        path = _file(root, month, 0)
        if before.get(month) != now[month] or not path.exists():
            files.write_file(path, files.as_arrow(part, table.schema))
            changed.append(month)
            rows += part.height
    gone = sorted(set(before) - set(now))
    for month in gone:
        _remove_partition(root, month)
    st.update(months=now, rows=frame.height)
    run.done(table, rows, len(changed), changed, gone)
