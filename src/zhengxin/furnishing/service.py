"""Furnishing use cases: submit a batch, read batches and their errors, obligations.

A batch is one transaction (the caller's): the batch row, every accepted record and every
quarantined record commit together or not at all, and received = accepted + rejected.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import orjson
import polars as pl
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from zhengxin.audit import service as audit
from zhengxin.consent.service import withdrawn_persons
from zhengxin.decisions import service as decisions
from zhengxin.federation import pseudonyms
from zhengxin.furnishing import readers
from zhengxin.furnishing.tables import QUARANTINE_TEXTS, batches, obligations, quarantine
from zhengxin.furnishing.validation import SeenKeys, Validator
from zhengxin.identity import minors
from zhengxin.identity.vault import VAULT_FIELDS
from zhengxin.kit import clock, spool
from zhengxin.kit.calendar import add_months
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.kit.metrics import RECORDS
from zhengxin.kit.staging import upsert_frame
from zhengxin.parties.service import FURNISHING_ROLES, Actor
from zhengxin.records.repository import account_owners, refresh_statistics, write_records
from zhengxin.runtime import Runtime

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (records so far, bytes read so far)


@dataclass
class BatchResult:
    batch: dict
    replayed: bool = False


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Upload:
    """A batch arriving over the network, from the API or the portal: spooled as it arrives to a
    private file that no path leaves behind, hashed on the way, held to `max_batch_bytes` (413 at
    the block that crosses it), then taken in by `submit_file`.

        with Upload(runtime, fmt) as upload:
            for block in blocks:
                upload.write(block)
            result = upload.submit(furnisher, idempotency_key)
    """

    def __init__(self, runtime: Runtime, fmt: str):
        self.runtime, self.fmt, self.size, self.digest = runtime, fmt, 0, hashlib.sha256()
        self.limit = runtime.settings.max_batch_bytes

    def __enter__(self) -> Upload:
        self._directory = spool.private_directory("zx-batch-", self.runtime.settings.spool_dir)
        self.path = self._directory.__enter__() / f"batch.{self.fmt}"
        self._file = spool.create(self.path)
        return self

    def write(self, block: bytes) -> None:
        self.size += len(block)
        if self.size > self.limit:  # stop at the limit, not after the whole body
            raise Problem(413, "batch_too_large", f"a batch is at most {self.limit} bytes")
        self.digest.update(block)
        self._file.write(block)

    def submit(self, furnisher: Actor, idempotency_key: str | None) -> BatchResult:
        self._file.close()
        if self.size == 0:
            raise Problem(422, "empty_batch", "the batch is empty")
        result = submit_file(self.runtime, furnisher, self.path, self.fmt, idempotency_key, self.digest.hexdigest())
        if not result.replayed:
            RECORDS.labels("accepted").inc(result.batch["accepted"])
            RECORDS.labels("rejected").inc(result.batch["rejected"])
        return result

    def __exit__(self, *exc) -> None:
        self._file.close()
        self._directory.__exit__(*exc)


def find_batch_by_key(conn: Connection, furnisher_id: str, idempotency_key: str) -> dict | None:
    row = (
        conn.execute(
            select(batches).where(batches.c.furnisher_id == furnisher_id, batches.c.idempotency_key == idempotency_key)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def submit_file(
    runtime: Runtime,
    furnisher: Actor,
    path: Path,
    fmt: str,
    key: str | None = None,
    sha: str | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Validate and store a furnisher's file, as the API, the portal and the CLI take it; a
    resend with the same key changes nothing, and a concurrent request with the same key that
    committed first is answered as its replay."""
    sha = sha or file_sha256(path)
    key = key or f"sha256:{sha}"
    try:
        return _submit(runtime, furnisher, path, fmt, key, sha, progress)
    except IntegrityError:
        with runtime.reading() as conn:
            existing = find_batch_by_key(conn, furnisher.party_id, key)
        if existing is None:
            raise
        return _replay(existing, sha)


def _replay(existing: dict, sha: str) -> BatchResult:
    if existing["content_sha256"] != sha:
        raise Problem(409, "idempotency_key_reused", "this Idempotency-Key was used for a different file",
                      batch_id=existing["id"])  # fmt: skip
    return BatchResult(existing, replayed=True)


def _submit(runtime: Runtime, furnisher: Actor, path: Path, fmt: str, key: str, sha: str, progress) -> BatchResult:
    """A batch is one unit of work: the batch row, every accepted and every quarantined record
    commit together or not at all.

    On SQLite, whose single writer lock would otherwise be held while a big file is parsed,
    validated and encrypted (other writers then wait, and fail), that work runs first with no
    lock, its results spilled to a private directory; the unit of work then only writes them.
    If a consent withdrawal lands in between, the batch is taken in again under the lock.
    On PostgreSQL writers do not block each other, and each chunk's writes overlap the
    parsing of the next."""
    # BDL-1: a platform's records go to the licensed agency, and only there.
    decision = runtime.policy.decide("furnish", decisions.subject(furnisher), ("Agency", "agency"))
    if not decision.allowed:
        with runtime.transaction():
            decisions.enforce(decision, furnisher, None, "furnishing.denied")
    with runtime.reading() as conn:
        existing = find_batch_by_key(conn, furnisher.party_id, key)
        withdrawn = withdrawn_persons(conn)
    if existing:
        return _replay(existing, sha)
    intake = _Intake(runtime, furnisher, path, fmt, key, sha, progress)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.transaction() as conn:
            return intake.run(conn, withdrawn, decision)
    with spool.private_directory("zx-intake-", runtime.settings.spool_dir) as spill:
        prepared = intake.prepare(withdrawn, spill)
        with runtime.transaction() as conn:
            current = withdrawn_persons(conn)
            if current != withdrawn:
                return _Intake(runtime, furnisher, path, fmt, key, sha, None).run(conn, current, decision)
            return intake.write(conn, prepared, decision)


@dataclass
class _Writes:
    """What one chunk stores: new vault entries, the furnisher's versions of identities, log
    leaves, accepted records by type, quarantine."""

    people: list[pl.DataFrame]
    versions: pl.DataFrame | None
    events: list[str] | None
    accepted: dict[str, pl.DataFrame]
    quarantined: pl.DataFrame
    minors: pl.DataFrame | None = None  # persons under 14 (person_token, adult_on)
    pseudonyms: pl.DataFrame | None = None  # federation pseudonyms of persons new to them (person_token, pseudonym)

    def spill(self, directory: Path) -> Path:
        """Write to `directory` as Arrow IPC files (the chunk's own subdirectory). Identifiers
        are written sealed only: the vault entries' plaintext is left out and opened again."""
        directory.mkdir(mode=0o700)
        for i, frame in enumerate(self.people):
            frame.drop("plain").write_ipc(directory / f"people-{i}.arrow")
        if self.versions is not None:
            self.versions.write_ipc(directory / "versions.arrow")
        if self.minors is not None:
            self.minors.write_ipc(directory / "minors.arrow")
        if self.pseudonyms is not None:
            self.pseudonyms.write_ipc(directory / "pseudonyms.arrow")
        for rt_name, frame in self.accepted.items():
            frame.write_ipc(directory / f"records-{rt_name}.arrow")
        self.quarantined.write_ipc(directory / "quarantine.arrow")
        pl.DataFrame({"leaf": self.events or []}, schema={"leaf": pl.String}).write_ipc(directory / "events.arrow")
        return directory

    @classmethod
    def unspill(cls, directory: Path, vault) -> _Writes:
        people = [pl.read_ipc(p) for p in sorted(directory.glob("people-*.arrow"))]
        people = [
            frame.with_columns(pl.Series("plain", [
                vault.unseal(t, vault.active_key_id, blob)
                for t, blob in zip(frame["person_token"], frame["ciphertext"], strict=True)
            ], dtype=pl.String))
            for frame in people
        ]  # fmt: skip
        events = pl.read_ipc(directory / "events.arrow")["leaf"].to_list()
        versions, young = directory / "versions.arrow", directory / "minors.arrow"
        named = directory / "pseudonyms.arrow"
        return cls(
            people=people,
            versions=pl.read_ipc(versions) if versions.exists() else None,
            events=events or None,
            accepted={p.stem.removeprefix("records-"): pl.read_ipc(p) for p in sorted(directory.glob("records-*"))},
            quarantined=pl.read_ipc(directory / "quarantine.arrow"),
            minors=pl.read_ipc(young) if young.exists() else None,
            pseudonyms=pl.read_ipc(named) if named.exists() else None,
        )


class _Intake:
    def __init__(self, runtime: Runtime, furnisher: Actor, path: Path, fmt: str, key: str, sha: str, progress):
        self.runtime, self.furnisher, self.path, self.fmt = runtime, furnisher, path, fmt
        self.key, self.sha, self.progress = key, sha, progress
        self.batch_id = new_id("bat")
        self.now = clock.now()
        self.received = self.accepted = self.rejected = 0
        self.by_type: Counter[str] = Counter()

    def _account_owners(self, account_ids: list[str]) -> pl.DataFrame:
        """On a connection of its own: the writer thread holds the batch's."""
        with self.runtime.reading() as conn:
            return account_owners(conn, self.furnisher.party_id, account_ids)

    def _without_pseudonym(self, tokens: list[str]) -> set[str]:
        with self.runtime.reading() as conn:
            return pseudonyms.without_pseudonym(conn, tokens)

    def _pseudonyms(self, accepted: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
        """The federation pseudonyms of the chunk's persons who have none, when this node is a
        member (derived through the regulator's node; a person it could not reach for gets one
        when next furnished: the ID is never kept to try again)."""
        if not accepted or not pseudonyms.enabled(self.runtime.settings):
            return None
        people = pl.concat([f.select("person_token", "person_id") for f in accepted.values()])
        derived, pending = pseudonyms.for_intake(people, self.runtime.settings, self._without_pseudonym)
        if pending:
            logger.warning("batch %s: %d persons got no federation pseudonym (the regulator's node did not "
                           "answer)", self.batch_id, pending)  # fmt: skip
        return derived

    def _prepared(self, withdrawn: dict[str, list[str]]) -> Iterator[_Writes]:
        """Parse, validate and encrypt chunk by chunk: everything but the writes."""
        runtime, vault = self.runtime, self.runtime.vault
        validator = Validator(
            runtime.catalog, runtime.pepper, clock.today(), withdrawn=withdrawn,
            child_age=runtime.settings.rules.child_age, account_owners=self._account_owners,
        )  # fmt: skip
        vaulted = _SeenPeople()
        versioned = SeenKeys()  # identity versions this batch already carries
        logged = _LoggedPairs(self.furnisher, self.batch_id, self.now)
        try:
            for chunk in readers.read_chunks(
                self.path,
                self.fmt,
                runtime.settings.intake_chunk_rows,
                runtime.settings.max_record_bytes,
                frozenset(validator.known),
            ):
                verdict = validator.check(chunk.frame)
                writes = _Writes(
                    people=[vaulted.new(_identities(vault, frame)) for frame in verdict.accepted.values()],
                    versions=_versions(vault, self.furnisher.party_id, verdict.accepted, versioned),
                    events=logged.events(verdict.accepted),
                    # Identifiers go to the vault only (and never to a spill file).
                    accepted={rt: frame.drop("__line", *VAULT_FIELDS, strict=False)
                              for rt, frame in verdict.accepted.items()},
                    quarantined=_quarantine_frame(vault, self.batch_id, chunk, verdict.rejected,
                                                  runtime.catalog.record_types),
                    minors=_minors(verdict.accepted, clock.today(), runtime.settings.rules.child_age),
                    pseudonyms=self._pseudonyms(verdict.accepted),
                )  # fmt: skip
                for rt_name, frame in verdict.accepted.items():
                    self.by_type[rt_name] += frame.height
                    self.accepted += frame.height
                self.rejected += writes.quarantined.height
                self.received += chunk.frame.height + len(chunk.malformed)
                if self.progress:
                    self.progress(self.received, chunk.bytes_read)
                yield writes
        except readers.UnreadableFile as e:
            raise Problem(422, e.code, str(e)) from None

    def _store(self, conn: Connection, writes: _Writes) -> None:
        vault, catalog = self.runtime.vault, self.runtime.catalog
        for person_rows in writes.people:
            vault.store(conn, person_rows)
        if writes.versions is not None:
            vault.store_versions(conn, writes.versions)
        if writes.minors is not None:
            minors.note(conn, writes.minors)
        if writes.pseudonyms is not None:
            pseudonyms.store(conn, writes.pseudonyms, self.now)
        if writes.events is not None:
            audit.enqueue_leaves(conn, writes.events)
        for rt_name, frame in writes.accepted.items():
            write_records(conn, rt_name, catalog.record_types[rt_name], frame, furnisher_id=self.furnisher.party_id,
                          batch_id=self.batch_id, now=self.now)  # fmt: skip
        upsert_frame(conn, "furnishing_quarantine", writes.quarantined, ["batch_id", "line"], casts={"errors": "json"})

    def _open(self, conn: Connection) -> None:
        # The batch row goes first: records and quarantine rows refer to it.
        conn.execute(
            insert(batches).values(
                id=self.batch_id, furnisher_id=self.furnisher.party_id, idempotency_key=self.key,
                content_sha256=self.sha, format=self.fmt, catalog_version=self.runtime.catalog.version,
                received=0, accepted=0, rejected=0, accepted_by_type={}, created_at=self.now, completed_at=self.now,
            )
        )  # fmt: skip

    def run(self, conn: Connection, withdrawn: dict[str, list[str]], decision) -> BatchResult:
        """Take the file in within `conn`'s unit of work, one chunk's writes overlapping the
        parsing of the next (the driver releases the GIL while the server works)."""
        self._open(conn)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-writer") as writer:
            pending: Future | None = None
            for writes in self._prepared(withdrawn):
                if pending is not None:
                    pending.result()
                pending = writer.submit(self._store, conn, writes)
            if pending is not None:
                pending.result()
        return self._close(conn, decision)

    def prepare(self, withdrawn: dict[str, list[str]], spill: Path) -> list[Path]:
        return [writes.spill(spill / f"{i:06d}") for i, writes in enumerate(self._prepared(withdrawn))]

    def write(self, conn: Connection, prepared: list[Path], decision) -> BatchResult:
        self._open(conn)
        for directory in prepared:
            self._store(conn, _Writes.unspill(directory, self.runtime.vault))
        return self._close(conn, decision)

    def _close(self, conn: Connection, decision) -> BatchResult:
        assert self.received == self.accepted + self.rejected, "every received record is accepted or quarantined"
        done = {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "accepted_by_type": dict(self.by_type),
            "completed_at": clock.now(),
        }
        conn.execute(batches.update().where(batches.c.id == self.batch_id).values(**done))
        catalog = self.runtime.catalog
        if self.accepted >= self.runtime.settings.analyze_after_records:
            refresh_statistics(conn, {catalog.record_types[t].store for t in self.by_type})
        batch = get_batch(conn, self.furnisher, self.batch_id)
        decisions.keep(conn, decision, self.furnisher, None)
        summary = audit.event(
            "furnishing.batch", self.furnisher, batch=batch["id"], received=batch["received"],
            accepted=batch["accepted"], rejected=batch["rejected"], content_sha256=batch["content_sha256"],
            decision=decision.record(),
        )  # fmt: skip
        audit.enqueue(conn, [summary])
        return BatchResult(batch)


class _LoggedPairs:
    """Log events for a batch's persons, chunk by chunk: one leaf per person naming the record
    types first seen for them in this chunk, so each (person, record type) is logged once per
    batch and memory holds hashes, not records."""

    def __init__(self, furnisher: Actor, batch_id: str, now):
        self.furnisher, self.batch_id = furnisher, batch_id
        self.at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.seen = SeenKeys()

    def events(self, accepted: dict[str, pl.DataFrame]) -> list[str] | None:
        pairs = [f.select("person_token", pl.lit(rt).alias("record_type")) for rt, f in accepted.items() if f.height]
        if not pairs:
            return None
        pairs = pl.concat(pairs).unique()
        keys = pairs.select(pl.concat_str("person_token", "record_type").hash(seed=13)).to_series()
        people = (
            pairs.filter(self.seen.fresh(keys))
            .group_by("person_token")
            .agg(pl.col("record_type").sort())
            .sort("person_token")
        )
        if people.height == 0:
            return None
        # Canonical JSON column-wise: fields in sorted order, and Polars writes compact JSON.
        leaf = pl.struct(
            pl.struct(
                pl.lit(self.furnisher.party_id).alias("party"), pl.lit(self.furnisher.role).alias("role")
            ).alias("actor"),
            pl.lit(self.at).alias("at"),
            pl.lit(self.batch_id).alias("batch"),
            pl.lit("furnishing.records").alias("kind"),
            pl.col("person_token").alias("person"),
            pl.col("record_type").alias("record_types"),
            pl.lit(1).alias("v"),
        ).struct.json_encode()
        return people.select(leaf).to_series().to_list()


class _SeenPeople:
    """Persons already vaulted by this batch, as hashes of (token, digest): a person with
    several records is written once, and the rest of a chunk is usually all new."""

    def __init__(self):
        self.seen = SeenKeys()

    def new(self, prepared: pl.DataFrame) -> pl.DataFrame:
        keys = prepared.select(pl.concat_str("person_token", "digest").hash(seed=11)).to_series()
        return prepared.filter(self.seen.fresh(keys))


def _identities(vault, accepted: pl.DataFrame) -> pl.DataFrame:
    """The identifiers of accepted records, ready for the vault: resident ID, name, phone if given."""
    fields = ["person_id", "name"] + (["phone"] if "phone" in accepted.columns else [])
    return vault.prepare(accepted.select("person_token", *fields))


def _minors(accepted: dict[str, pl.DataFrame], today: date, child_age: int) -> pl.DataFrame | None:
    """The persons under 14 among the chunk's accepted records (each carried a guardian's consent)."""
    frames = [minors.of_people(f.select("person_token", "person_id"), today, child_age) for f in accepted.values()]
    found = pl.concat(frames).unique("person_token") if frames else None
    return found if found is not None and found.height else None


def _versions(vault, furnisher_id: str, accepted: dict[str, pl.DataFrame], seen: SeenKeys) -> pl.DataFrame | None:
    """The furnisher's version of each person's name and phone in this chunk, sealed; one the
    batch already carried (same name, phone and date) is not sealed again."""
    frames = [f.select("person_token", "name", *(["phone"] if "phone" in f.columns else []), "as_of")
              for f in accepted.values() if f.height]  # fmt: skip
    if not frames:
        return None
    people = pl.concat(frames, how="diagonal")
    if "phone" not in people.columns:
        people = people.with_columns(pl.lit(None, dtype=pl.String).alias("phone"))
    key = pl.concat_str("person_token", "name", pl.col("phone").fill_null(""), pl.col("as_of").cast(pl.String),
                        separator="\x1f").hash(seed=13)  # fmt: skip
    fresh = people.filter(seen.fresh(people.select(key).to_series()))
    return vault.prepare_versions(furnisher_id, fresh) if fresh.height else None


def _quarantine_frame(vault, batch_id: str, chunk: readers.Chunk, rejected: pl.DataFrame, record_types) -> pl.DataFrame:
    """Every rejected or unparseable record for the quarantine, its raw text sealed with a vault key. The
    record type column names a catalog type or nothing: whatever else was sent stays in the
    sealed raw text, like every other value."""
    raw = pl.Series("raw", [chunk.raw(pos) for pos in rejected["__pos"].to_list()], dtype=pl.String)
    records = rejected.drop("__pos").rename({"__line": "line"}).with_columns(raw)
    if chunk.malformed:
        malformed = [
            (m.line, None, "", m.code, None, m.message,
             orjson.dumps([{"field": "", "code": m.code, "rule": None, "message": m.message}]).decode(), m.raw)
            for m in chunk.malformed
        ]  # fmt: skip
        records = pl.concat([records, pl.DataFrame(malformed, schema=records.schema, orient="row")])
    sealed = [
        QUARANTINE_TEXTS.seal(vault, "raw_ciphertext", text, batch_id=batch_id, line=line)
        for line, text in records.select("line", "raw").iter_rows()
    ]
    return records.select(
        pl.lit(batch_id).alias("batch_id"),
        "line",
        pl.when(pl.col("record_type").is_in(list(record_types))).then(pl.col("record_type")).alias("record_type"),
        pl.col("field").str.slice(0, 100),
        "code",
        "rule",
        pl.col("message").str.slice(0, 300),
        "errors",
        pl.lit(vault.active_key_id).alias("key_id"),
        pl.Series("raw_ciphertext", sealed, dtype=pl.Binary),
    )


# Reading ---------------------------------------------------------------------------------


def _readable(actor: Actor):
    """Batches this party may read: a furnisher its own; agency and regulator all."""
    query = select(batches)
    if actor.role in FURNISHING_ROLES:
        query = query.where(batches.c.furnisher_id == actor.party_id)
    elif actor.role not in ("agency", "regulator"):
        query = query.where(False)
    return query


def get_batch(conn: Connection, actor: Actor, batch_id: str) -> dict:
    row = conn.execute(_readable(actor).where(batches.c.id == batch_id)).mappings().first()
    if row is None:
        raise Problem(404, "batch_not_found", "no such batch")
    return dict(row)


def list_batches(conn: Connection, actor: Actor, limit: int = 100) -> list[dict]:
    query = _readable(actor).order_by(batches.c.created_at.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def batch_errors(
    conn: Connection,
    runtime: Runtime,
    actor: Actor,
    batch_id: str,
    offset: int = 0,
    limit: int = 1000,
    code: str | None = None,
) -> dict:
    """Quarantined records of a batch, raw text decrypted for the furnisher that sent them."""
    batch = get_batch(conn, actor, batch_id)
    query = select(quarantine).where(quarantine.c.batch_id == batch_id)
    if code:
        query = query.where(quarantine.c.code == code)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(quarantine.c.line).offset(offset).limit(limit)).mappings().all()
    show_raw = actor.role in FURNISHING_ROLES  # the sender sees its own text; supervisors see codes only
    vault = runtime.vault
    items = []
    for r in rows:
        item = {k: r[k] for k in ("line", "record_type", "field", "code", "rule", "message", "errors")}
        if show_raw:
            item["raw"] = QUARANTINE_TEXTS.open(vault, "raw_ciphertext", r)
        items.append(item)
    counts = conn.execute(
        select(quarantine.c.code, func.count()).where(quarantine.c.batch_id == batch_id).group_by(quarantine.c.code)
    ).all()
    return {"batch_id": batch["id"], "total": total, "offset": offset, "by_code": dict(counts), "errors": items}


# Obligations -------------------------------------------------------------------------------

FREQUENCIES = {"daily": 1, "weekly": 7}


def add_obligation(
    conn: Connection,
    regulator: Actor,
    *,
    furnisher_id: str,
    record_types: list[str],
    frequency: str,
    first_due_on: date,
    note: str | None,
    catalog,
) -> dict:
    unknown = [t for t in record_types if t not in catalog.record_types]
    if unknown:
        raise Problem(422, "invalid_enum", f"unknown record types: {', '.join(unknown)}")
    if frequency not in ("daily", "weekly", "monthly"):
        raise Problem(422, "invalid_enum", "frequency must be daily, weekly or monthly")
    from zhengxin.parties.service import get_party

    party = get_party(conn, furnisher_id)
    if party is None or party["role"] not in FURNISHING_ROLES:
        raise Problem(404, "furnisher_not_found", "no such furnisher")
    row = {
        "id": new_id("obl"),
        "furnisher_id": furnisher_id,
        "record_types": sorted(set(record_types)),
        "frequency": frequency,
        "first_due_on": first_due_on,
        "note": note,
        "active": True,
        "created_by": regulator.party_id,
        "created_at": clock.now(),
    }
    conn.execute(insert(obligations).values(**row))
    return row


def due_dates(first_due_on: date, frequency: str, until: date) -> list[date]:
    """Every due date from the first up to and including the first one after `until`."""
    dates = [first_due_on]
    while dates[-1] <= until:
        last = dates[-1]
        if frequency == "monthly":  # the first's day of the month, clamped to each month's end
            dates.append(add_months(first_due_on, len(dates)))
        else:
            dates.append(last + timedelta(days=FREQUENCIES[frequency]))
    return dates


def obligation_status(conn: Connection, obligation: dict, today: date | None = None, periods: int = 12) -> dict:
    """The obligation with its last `periods` periods' verdicts (`period_verdicts`) and the
    status of the latest one that is due."""
    today = today or clock.today()
    rows = conn.execute(
        select(batches.c.completed_at, batches.c.accepted_by_type)
        .where(batches.c.furnisher_id == obligation["furnisher_id"])
        .order_by(batches.c.completed_at)
    ).all()
    wanted = sorted(obligation["record_types"])
    deliveries = {t: [r.completed_at.date() for r in rows if (r.accepted_by_type or {}).get(t)] for t in wanted}
    results = period_verdicts(obligation, deliveries, today)[-periods:]
    current = next((p for p in reversed(results) if p["status"] != "pending"), None)
    return {
        **obligation,
        "status": current["status"] if current else "pending",
        "missing": current["missing"] if current else [],
        "periods": results,
    }


def period_verdicts(obligation: Mapping, deliveries: Mapping[str, list[date]], today: date) -> list[dict]:
    """The rule of an obligation, the one specification (the supervision view,
    analytics.views.obligations, computes the same, tests/analytics/test_parity.py): each
    period's verdict on `today`, from the days each required record type was delivered (sorted).

    Every period owes a delivery of every required type. For each type, a delivery serves one
    period only, the earliest still waiting among those open when it arrived (a period opens on
    its previous due date, the first on the obligation's creation day). A period is on_time when
    every type came by its due date, late when one came after it, missing when one has not come
    by `today`, and pending while it is not yet due and a type is still owed.
    """
    wanted = sorted(obligation["record_types"])
    used = dict.fromkeys(wanted, 0)
    opened = obligation["created_at"].date()
    results = []
    for due in due_dates(obligation["first_due_on"], obligation["frequency"], today):
        late, missing = False, []
        for t in wanted:
            queue = deliveries.get(t, [])
            while used[t] < len(queue) and queue[used[t]] <= opened:
                used[t] += 1  # delivered before this period opened: it served an earlier one
            if used[t] < len(queue) and queue[used[t]] <= today:
                late |= queue[used[t]] > due
                used[t] += 1
            else:
                missing.append(t)
        if due > today:
            status = "pending" if missing else "on_time"
        else:
            status = "missing" if missing else ("late" if late else "on_time")
        results.append({"due_on": due, "status": status, "missing": missing})
        opened = due
    return results


def list_obligations(conn: Connection, actor: Actor, furnisher_id: str | None = None) -> list[dict]:
    query = select(obligations).where(obligations.c.active.is_(True)).order_by(obligations.c.created_at)
    if actor.role in FURNISHING_ROLES:
        query = query.where(obligations.c.furnisher_id == actor.party_id)
    elif furnisher_id:
        query = query.where(obligations.c.furnisher_id == furnisher_id)
    return [obligation_status(conn, dict(r)) for r in conn.execute(query).mappings()]
