"""Lawful forgetting: the run that erases what the rules of `records.history` say has gone,
and the PII vault entries nobody needs any more.

The PII vault entry (PIPL-47) goes when nothing about the person is left to identify, and
nothing else needs their identity:

- nothing left in any record store: a report, a dispute answer or a correction about a
  record names the person from the vault, so while one record is kept the identity is too;
- no active individual account (`parties.person_token`): the account holder self-queries and
  grants authorizations under their resident ID, which only the vault holds (the account is
  its own purpose, ended by deactivating it, not by the records running out);
- no live authorization (unexpired and not revoked): the lender may still inquire under it,
  and the inquiry's report names the person from the vault; a revoked one is consent
  withdrawn, so it keeps nothing;
- no dispute not yet closed: the agency owes the person a written answer and possibly a
  correction (CR-25), and must know whom it answers.

The run is idempotent: it judges by one day, erases what is past its period, and a second run
on the same day finds nothing left to erase and logs no person events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, or_, select, union, update

from zhengxin.audit import service as audit
from zhengxin.kit import clock
from zhengxin.kit.calendar import last_expired_day, month_index, month_label
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.records.history import (
    DELINQUENT_STATUSES,
    HISTORY_MONTHS,
    NEGATIVE_SYMBOLS,
    last_expirable_month,
    plan_account,
)
from zhengxin.records.repository import accounts_in, refresh_statistics
from zhengxin.records.tables import (
    account_reassignments,
    account_snapshots,
    consumption_summaries,
    generic_records,
    retention_runs,
    travel_summaries,
)

NEGATIVE_RULE = "CR-16"
RETENTION_RULE = "PIPL-47"
WITHDRAWAL_RULE = "PIPL-15"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


# The run -----------------------------------------------------------------------------------

ACCOUNT_CHUNK = 1000
EVENT_CHUNK = 10_000

_SNAPSHOT_FIELDS = [
    account_snapshots.c.furnisher_id,
    account_snapshots.c.account_id,
    account_snapshots.c.month,
    account_snapshots.c.person_token,
    account_snapshots.c.as_of,
    account_snapshots.c.status,
    account_snapshots.c.days_past_due,
    account_snapshots.c.overdue_fen,
    account_snapshots.c.closed_on,
    account_snapshots.c.payment_history,
    account_snapshots.c.negative_notice_ref,
]
_DELETE_SNAPSHOT = delete(account_snapshots).where(
    account_snapshots.c.furnisher_id == bindparam("f"),
    account_snapshots.c.account_id == bindparam("a"),
    account_snapshots.c.month == bindparam("m"),
)
_REWRITE_SNAPSHOT = (
    update(account_snapshots)
    .where(
        account_snapshots.c.furnisher_id == bindparam("f"),
        account_snapshots.c.account_id == bindparam("a"),
        account_snapshots.c.month == bindparam("m"),
    )
    .values(payment_history=bindparam("h"), negative_notice_ref=bindparam("n"))
)


@dataclass
class _Tally:
    by_person: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    rules: defaultdict[str, set] = field(default_factory=lambda: defaultdict(set))
    totals: Counter = field(default_factory=Counter)

    def add(self, token: str, kind: str, n: int, rule: str) -> None:
        if n:
            self.by_person[token][kind] += n
            self.rules[token].add(rule)
            self.totals[kind] += n


@dataclass(frozen=True)
class Neighbours:
    """What the run needs from the features around the record store; the flow that runs it
    (flows.retention) fills it in, so the store depends on none of them."""

    withdrawn_of_type: Callable  # record type -> SQL: tokens of the persons who withdrew it (consent)
    holds_identity: Callable  # (token column, day) -> SQL conditions that keep an identity
    purge_identities: Callable  # (conn, still_needed) -> tokens whose identity was deleted (the vault)


def run(conn: Connection, runtime, as_of: date, progress: Progress | None = None, *, neighbours: Neighbours) -> dict:
    """Erase everything past its retention period on `as_of`, log one `retention.erased` event
    per affected person and record the run; returns the run row. Never commits."""
    if as_of > clock.today():
        raise Problem(422, "future_as_of", "a retention run judges by today or an earlier day, never a later one")
    started_at = clock.now()
    run_id = new_id("ret")
    rules, catalog = runtime.settings.rules, runtime.catalog
    tally = _Tally()
    tick = progress or (lambda stage, done, total: None)
    for name, spec in catalog.record_types.items():
        if spec.store == "accounts":
            _erase_accounts(conn, as_of, rules.negative_retention_years, spec.retention_months, name, tally, tick)
            _erase_orphan_reassignments(conn)
        elif spec.store in ("consumption", "travel"):
            table = consumption_summaries if spec.store == "consumption" else travel_summaries
            last = month_label(month_index(as_of) - spec.retention_months - 1)
            tick(name, 0, 1)
            _count(tally, conn, delete(table).where(table.c.month <= last), table, name)
            tick(name, 1, 1)
        else:
            tick(name, 0, 1)
            _count(tally, conn, _expired_generic(name, spec, as_of), generic_records, name, _rule(spec))
            tick(name, 1, 1)
    tick("withdrawn", 0, 1)
    _erase_withdrawn(conn, catalog, tally, neighbours.withdrawn_of_type)
    tick("withdrawn", 1, 1)
    tick("pii_vault", 0, 1)
    needed = lambda token: _needs_identity(token, as_of, neighbours.holds_identity)  # noqa: E731
    for token in neighbours.purge_identities(conn, needed):
        tally.add(token, "pii_vault", 1, RETENTION_RULE)
    tick("pii_vault", 1, 1)
    if sum(tally.totals.values()) >= runtime.settings.analyze_after_records:
        # After a mass delete the planner's row estimates are stale, as after a bulk load.
        refresh_statistics(conn, {spec.store for spec in catalog.record_types.values()})

    events = [
        audit.event("retention.erased", None, token, run=run_id, as_of=as_of.isoformat(), erased=dict(counts),
                    rules=sorted(tally.rules[token]))
        for token, counts in sorted(tally.by_person.items())
    ]  # fmt: skip
    for i in range(0, len(events), EVENT_CHUNK):
        audit.enqueue(conn, events[i : i + EVENT_CHUNK])
    row = {
        "id": run_id,
        "as_of": as_of,
        "started_at": started_at,
        "finished_at": clock.now(),
        "persons": len(tally.by_person),
        "erased": dict(sorted(tally.totals.items())),
    }
    conn.execute(insert(retention_runs).values(**row))
    audit.enqueue(
        conn,
        [audit.event("retention.run", None, run=run_id, as_of=as_of.isoformat(), persons=row["persons"],
                     erased=row["erased"], rules=[NEGATIVE_RULE, RETENTION_RULE])],
    )  # fmt: skip
    return row


def _expired_generic(name: str, spec, as_of: date):
    """SQL: the records of a catalog-only type past their period: counted from their as_of, or
    from the date field the catalog names (`retention_from`), which an open record lacks."""
    g = generic_records.c
    cutoff = last_expired_day(as_of, spec.retention_months)
    if spec.retention_from is None:
        return delete(generic_records).where(g.record_type == name, g.as_of <= cutoff)
    ended_on = g.payload[spec.retention_from].as_string()  # ISO dates order as text
    return delete(generic_records).where(
        g.record_type == name, ended_on.is_not(None), ended_on <= cutoff.isoformat()
    )


def _rule(spec) -> str:
    """Credit information goes by CR-16's period; other records by their purpose (PIPL-47)."""
    return NEGATIVE_RULE if spec.credit_record else RETENTION_RULE


def _count(tally: _Tally, conn: Connection, query, table, kind: str, rule: str = RETENTION_RULE) -> None:
    for token, n in Counter(conn.execute(query.returning(table.c.person_token)).scalars()).items():
        tally.add(token, kind, n, rule)


def _erase_accounts(
    conn: Connection, today: date, negative_years: int, closed_months: int, name: str, tally: _Tally, tick: Progress
) -> None:
    s = account_snapshots.c
    last = last_expirable_month(today, negative_years)
    delinquent = or_(s.status.in_(DELINQUENT_STATUSES), s.days_past_due > 0, s.overdue_fen > 0)
    marked = or_(*(s.payment_history.like(f"%{symbol}%") for symbol in sorted(NEGATIVE_SYMBOLS)))
    # Only these can hold an expired month: a delinquent snapshot of an expirable month, or a
    # history reaching back to one and marking something negative; or a long-closed account.
    negative = select(s.furnisher_id, s.account_id).where(
        or_(
            and_(s.month <= month_label(last), delinquent),
            and_(s.month <= month_label(last + HISTORY_MONTHS - 1), marked),
        )
    )
    closed = select(s.furnisher_id, s.account_id).where(
        s.status == "closed", func.coalesce(s.closed_on, s.as_of) <= last_expired_day(today, closed_months)
    )
    candidates = union(negative, closed).subquery()
    keys = conn.execute(select(candidates).order_by(*candidates.c)).all()
    tick(name, 0, len(keys))
    for start in range(0, len(keys), ACCOUNT_CHUNK):
        chunk = [tuple(k) for k in keys[start : start + ACCOUNT_CHUNK]]
        rows = conn.execute(
            select(*_SNAPSHOT_FIELDS).where(accounts_in(chunk)).order_by(s.furnisher_id, s.account_id, s.month)
        ).mappings()
        closures, deletes, rewrites = [], [], []
        for (furnisher_id, account_id), group in groupby(rows, key=lambda r: (r["furnisher_id"], r["account_id"])):
            snapshots = list(group)
            plan = plan_account(snapshots, today, negative_years=negative_years, closed_months=closed_months)
            if plan is None:
                continue
            token = snapshots[-1]["person_token"]
            if plan.closed:
                closures.append((furnisher_id, account_id))
                tally.add(token, f"{name}_closed_accounts", 1, RETENTION_RULE)
                tally.add(token, f"{name}_snapshots", len(plan.delete), RETENTION_RULE)
                continue
            deletes += [{"f": furnisher_id, "a": account_id, "m": m} for m in plan.delete]
            rewrites += [
                {"f": furnisher_id, "a": account_id, "m": m, "h": h, "n": n} for m, (h, n) in plan.rewrite.items()
            ]
            tally.add(token, f"{name}_negative_months", plan.negative_months, NEGATIVE_RULE)
            tally.add(token, f"{name}_snapshots", len(plan.delete), NEGATIVE_RULE)
        if closures:  # whole accounts: one statement a chunk
            conn.execute(delete(account_snapshots).where(accounts_in(closures)))
        if deletes:
            conn.execute(_DELETE_SNAPSHOT, deletes)
        if rewrites:
            conn.execute(_REWRITE_SNAPSHOT, rewrites)
        tick(name, min(start + ACCOUNT_CHUNK, len(keys)), len(keys))


def _erase_orphan_reassignments(conn: Connection) -> None:
    """A correction of an account's holder goes with the account it corrected."""
    r, s = account_reassignments.c, account_snapshots.c
    gone = ~exists().where(s.furnisher_id == r.furnisher_id, s.account_id == r.account_id)
    conn.execute(delete(account_reassignments).where(gone))


def _erase_withdrawn(conn: Connection, catalog, tally: _Tally, withdrawn_of_type: Callable) -> None:
    """Records of a type the person withdrew consent to that a batch in flight stored after
    the withdrawal erased the rest."""
    for name, spec in catalog.record_types.items():
        if spec.credit_record:
            continue  # never withdrawable (CR-16, see consent.service)
        if spec.store == "generic":
            table, extra = generic_records, [generic_records.c.record_type == name]
        else:
            table, extra = (consumption_summaries if spec.store == "consumption" else travel_summaries), []
        withdrawn = withdrawn_of_type(name)  # few: walk the person index
        query = delete(table).where(table.c.person_token.in_(withdrawn), *extra)
        for token, n in Counter(conn.execute(query.returning(table.c.person_token)).scalars()).items():
            tally.add(token, f"{name}_withdrawn", n, WITHDRAWAL_RULE)


def _needs_identity(token, today: date, holds_identity: Callable) -> list:
    """SQL: what keeps a person's identity: a record, or what the neighbours name (an active
    account, a live authorization, an open dispute)."""
    held = [
        exists().where(t.c.person_token == token)
        for t in (account_snapshots, consumption_summaries, travel_summaries, generic_records)
    ]
    return [*held, *holds_identity(token, today)]
