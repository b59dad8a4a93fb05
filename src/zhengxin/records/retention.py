"""Lawful forgetting: when each kind of record must go, and the run that erases it.

The rules are pure functions over snapshots (mappings with `month`, `as_of`, `status`,
`days_past_due`, `overdue_fen`, `closed_on`, `payment_history`, `negative_notice_ref`), so the
report path (`repository.latest_accounts`) and the erasing run judge by the same code. A
thing is erased *on* its erasure day: the day before it is kept, from that day on it is gone
(from reports at once, from the stores at the next run). Months are whole calendar months,
days are UTC.

Negative information (CR-16), per account and per episode:

- A month is *negative* if the account's snapshot for that month is itself delinquent
  (status `overdue` or `written_off`, `days_past_due > 0` or `overdue_fen > 0`), or any of the
  account's snapshots marks that month in its `payment_history` with `1`-`7`, `D` (paid by a
  guarantor) or `Z` (settled with assets). A month is *known clean* if it is not negative and
  a snapshot of that month is not delinquent or some history marks it `N`, `C` or `G`
  (`#` says nothing).
- An *episode* is a maximal run of consecutive negative months.
- It *ends* on the first day of the month after its last negative month, provided a later
  month is known clean or the account is closed (its latest snapshot has status `closed` and
  is not itself delinquent). An ongoing delinquency, whose latest state is still negative,
  starts no clock; a later episode runs its own clock and never holds back an earlier one.
- It is *erased* on the day `end + negative_retention_years` (always a first of the month).
- Erasing an episode deletes the snapshots of its months whose own state is delinquent, and
  in every remaining snapshot of the account writes `#` over the symbols of its months (a
  remaining snapshot left with nothing negative also loses its `negative_notice_ref`, the
  CR-15 notice that existed only because of the negative information).

Other records (PIPL-47: delete when the retention period ends), periods from the catalog's
`retention_months`:

- A closed account (latest snapshot `closed`): every snapshot, on `closed_on + retention_months`
  (clamped to the month's end: closed 2021-08-31 with 6 months goes on 2022-02-28); where the
  furnisher gave no `closed_on`, the `as_of` of the first snapshot that reported it closed.
- Consumption and travel summaries of month M: on the first day of M + (retention_months + 1)
  months, i.e. kept through the end of the retention period counted from the month's end
  (travel, 12 months: 2025-10 is kept through 2026-10-31 and erased on 2026-11-01).
- Catalog-onboarded (generic) records: on `as_of + retention_months` (clamped like closures).
- Records of a type the person withdrew consent to (PIPL-15) are erased at once by the
  withdrawal; the run sweeps any that a batch in flight stored meanwhile.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import groupby

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, or_, select, union, update

from zhengxin.audit import service as audit
from zhengxin.consent.tables import authorizations, consent_withdrawals
from zhengxin.disputes.tables import disputes
from zhengxin.identity.tables import pii_vault
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.tables import parties
from zhengxin.records.tables import (
    account_snapshots,
    consumption_summaries,
    generic_records,
    retention_runs,
    travel_summaries,
)

NEGATIVE_SYMBOLS = frozenset("1234567DZ")
CLEAN_SYMBOLS = frozenset("NCG")
DELINQUENT_STATUSES = ("overdue", "written_off")
HISTORY_MONTHS = 24
NEGATIVE_RULE = "CR-16"
RETENTION_RULE = "PIPL-47"
WITHDRAWAL_RULE = "PIPL-15"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


# Months and days ---------------------------------------------------------------------------


def month_index(value: date | str) -> int:
    """A month as a count of months (year * 12 + month - 1), from a date or `YYYY-MM`."""
    if isinstance(value, str):
        return int(value[:4]) * 12 + int(value[5:7]) - 1
    return value.year * 12 + value.month - 1


def month_start(index: int) -> date:
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def month_label(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier, if negative), clamped to the month's end."""
    first = month_start(month_index(day) + months)
    try:
        return first.replace(day=day.day)
    except ValueError:
        return month_start(month_index(first) + 1) - timedelta(days=1)


@lru_cache(maxsize=256)
def last_expired_day(today: date, months: int) -> date:
    """The latest day D with add_months(D, months) <= today: what started on or before it
    is past a `months`-long period (exact, clamping included)."""
    day = add_months(today, -months)
    while add_months(day + timedelta(days=1), months) <= today:
        day += timedelta(days=1)
    return day


def last_expirable_month(today: date, negative_years: int) -> int:
    """The latest month an expired episode can hold: its end (the next month's first day)
    plus the period must be today or earlier."""
    return month_index(today) - 12 * negative_years - 1


# The rules ---------------------------------------------------------------------------------


def is_delinquent(snapshot: Mapping) -> bool:
    """Whether a snapshot's own state is negative information."""
    return snapshot["status"] in DELINQUENT_STATUSES or snapshot["days_past_due"] > 0 or snapshot["overdue_fen"] > 0


@dataclass(frozen=True)
class Episode:
    """A maximal run of negative months (month indexes) and the day it ended, if it has."""

    first: int
    last: int
    ended_on: date | None

    def erased_on(self, negative_years: int) -> date | None:
        if self.ended_on is None:
            return None
        return self.ended_on.replace(year=self.ended_on.year + negative_years)  # a first: no 29 February

    @property
    def months(self) -> range:
        return range(self.first, self.last + 1)


def episodes(snapshots: Iterable[Mapping]) -> list[Episode]:
    """An account's negative episodes, oldest first (see the module docstring)."""
    snapshots = sorted(snapshots, key=lambda s: s["month"])
    if not any(is_delinquent(s) or not NEGATIVE_SYMBOLS.isdisjoint(s["payment_history"]) for s in snapshots):
        return []  # the usual account: nothing negative at all
    negative: set[int] = set()
    clean: set[int] = set()
    for s in snapshots:
        m = month_index(s["month"])
        (negative if is_delinquent(s) else clean).add(m)
        for i, symbol in enumerate(s["payment_history"]):
            if symbol in NEGATIVE_SYMBOLS:
                negative.add(m - i)
            elif symbol in CLEAN_SYMBOLS:
                clean.add(m - i)
    if not negative:
        return []
    latest_clean = max(clean - negative, default=None)
    latest = snapshots[-1]
    closed = latest["status"] == "closed" and not is_delinquent(latest)
    found = []
    months = sorted(negative)
    start = prev = months[0]
    for m in [*months[1:], None]:
        if m is not None and m == prev + 1:
            prev = m
            continue
        over = closed or (latest_clean is not None and latest_clean > prev)
        found.append(Episode(start, prev, month_start(prev + 1) if over else None))
        if m is not None:
            start = prev = m
    return found


def expired_months(snapshots: Iterable[Mapping], today: date, negative_years: int) -> set[int]:
    """The months of the account's episodes whose erasure day is today or earlier."""
    out: set[int] = set()
    for e in episodes(snapshots):
        erased_on = e.erased_on(negative_years)
        if erased_on is not None and erased_on <= today:
            out.update(e.months)
    return out


def mask_history(history: str, month: int, months: set[int]) -> str:
    """`history` (newest first, its first symbol for `month`) with `months` written as `#`."""
    if not months or month - len(history) + 1 > max(months) or month < min(months):
        return history
    return "".join("#" if month - i in months else symbol for i, symbol in enumerate(history))


def closed_on(snapshots: Sequence[Mapping]) -> date | None:
    """When a closed account closed: its `closed_on`, else the first report of it closed."""
    snapshots = sorted(snapshots, key=lambda s: s["month"])
    if not snapshots or snapshots[-1]["status"] != "closed":
        return None
    if snapshots[-1]["closed_on"] is not None:
        return snapshots[-1]["closed_on"]
    days = []
    for s in reversed(snapshots):
        if s["status"] != "closed":
            break
        days.append(s["closed_on"] or s["as_of"])
    return min(days)


def closure_erased_on(snapshots: Sequence[Mapping], retention_months: int) -> date | None:
    day = closed_on(snapshots)
    return None if day is None else add_months(day, retention_months)


def summary_erased_on(month: str, retention_months: int) -> date:
    """A monthly summary's erasure day: kept through the end of its retention period."""
    return month_start(month_index(month) + retention_months + 1)


def generic_erased_on(as_of: date, retention_months: int) -> date:
    return add_months(as_of, retention_months)


@dataclass(frozen=True)
class AccountPlan:
    """What erasing an account's expired information does to its snapshots (by month)."""

    delete: tuple[str, ...]
    rewrite: dict[str, tuple[str, str | None]]  # month -> (payment_history, negative_notice_ref)
    negative_months: int
    closed: bool  # the whole account goes: closed longer ago than its retention period


def plan_account(
    snapshots: Sequence[Mapping], today: date, *, negative_years: int, closed_months: int | None
) -> AccountPlan | None:
    """What must go from one account as of `today` (None: nothing)."""
    snapshots = sorted(snapshots, key=lambda s: s["month"])
    if closed_months is not None:
        erased_on = closure_erased_on(snapshots, closed_months)
        if erased_on is not None and erased_on <= today:
            return AccountPlan(tuple(s["month"] for s in snapshots), {}, 0, True)
    months = expired_months(snapshots, today, negative_years)
    if not months:
        return None
    deleted, rewrite = [], {}
    for s in snapshots:
        m = month_index(s["month"])
        if m in months and is_delinquent(s):
            deleted.append(s["month"])
            continue
        history = mask_history(s["payment_history"], m, months)
        if history != s["payment_history"]:
            still_negative = is_delinquent(s) or not NEGATIVE_SYMBOLS.isdisjoint(history)
            rewrite[s["month"]] = (history, s["negative_notice_ref"] if still_negative else None)
    return AccountPlan(tuple(deleted), rewrite, len(months), False)


def current_view(
    snapshots: Sequence[Mapping], today: date, *, negative_years: int, closed_months: int | None
) -> dict | None:
    """The account's latest snapshot as a report may show it on `today`: expired negative
    months masked, None once the whole account is past its period."""
    latest = dict(max(snapshots, key=lambda s: s["month"]))
    plan = plan_account(snapshots, today, negative_years=negative_years, closed_months=closed_months)
    if plan is None:
        return latest
    if plan.closed or latest["month"] in plan.delete:
        return None
    if latest["month"] in plan.rewrite:
        latest["payment_history"], latest["negative_notice_ref"] = plan.rewrite[latest["month"]]
    return latest


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


def run(conn: Connection, runtime, as_of: date, progress: Progress | None = None) -> dict:
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
        elif spec.store in ("consumption", "travel"):
            table = consumption_summaries if spec.store == "consumption" else travel_summaries
            last = month_label(month_index(as_of) - spec.retention_months - 1)
            tick(name, 0, 1)
            _count(tally, conn, delete(table).where(table.c.month <= last), table, name)
            tick(name, 1, 1)
        else:
            cutoff = last_expired_day(as_of, spec.retention_months)
            tick(name, 0, 1)
            query = delete(generic_records).where(
                generic_records.c.record_type == name, generic_records.c.as_of <= cutoff
            )
            _count(tally, conn, query, generic_records, name)
            tick(name, 1, 1)
    tick("withdrawn", 0, 1)
    _erase_withdrawn(conn, catalog, tally)
    tick("withdrawn", 1, 1)
    tick("pii_vault", 0, 1)
    vault_query = delete(pii_vault).where(_nothing_needs_identity(pii_vault.c.person_token, as_of))
    for token in conn.execute(vault_query.returning(pii_vault.c.person_token)).scalars():
        tally.add(token, "pii_vault", 1, RETENTION_RULE)
    tick("pii_vault", 1, 1)
    if sum(tally.totals.values()) >= runtime.settings.analyze_after_records:
        # After a mass delete the planner's row estimates are stale, as after a bulk load.
        from zhengxin.records.repository import refresh_statistics  # the repository imports this module

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
            select(*_SNAPSHOT_FIELDS).where(_accounts_in(chunk)).order_by(s.furnisher_id, s.account_id, s.month)
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
            conn.execute(delete(account_snapshots).where(_accounts_in(closures)))
        if deletes:
            conn.execute(_DELETE_SNAPSHOT, deletes)
        if rewrites:
            conn.execute(_REWRITE_SNAPSHOT, rewrites)
        tick(name, min(start + ACCOUNT_CHUNK, len(keys)), len(keys))


def _accounts_in(keys: list[tuple[str, str]]):
    """SQL: the snapshots of these (furnisher, account) keys, given sorted. Grouped by furnisher
    so that PostgreSQL walks the primary key: a row-value IN list made it filter the whole table
    (0.19 s a chunk of 1,000 accounts among 110,000 snapshots)."""
    s = account_snapshots.c
    return or_(
        *(
            and_(s.furnisher_id == furnisher_id, s.account_id.in_([a for _, a in accounts]))
            for furnisher_id, accounts in groupby(keys, key=lambda k: k[0])
        )
    )


def _erase_withdrawn(conn: Connection, catalog, tally: _Tally) -> None:
    """Records of a type the person withdrew consent to that a batch in flight stored after
    the withdrawal erased the rest."""
    w = consent_withdrawals.c
    for name, spec in catalog.record_types.items():
        if spec.store == "accounts":
            continue  # never withdrawable (CR-16, see consent.service)
        if spec.store == "generic":
            table, extra = generic_records, [generic_records.c.record_type == name]
        else:
            table, extra = (consumption_summaries if spec.store == "consumption" else travel_summaries), []
        withdrawn = select(w.person_token).where(w.record_type == name)  # few: walk the person index
        query = delete(table).where(table.c.person_token.in_(withdrawn), *extra)
        for token, n in Counter(conn.execute(query.returning(table.c.person_token)).scalars()).items():
            tally.add(token, f"{name}_withdrawn", n, WITHDRAWAL_RULE)


def _nothing_needs_identity(token, today: date):
    """SQL: no record, active account, live authorization or open dispute names this person."""
    held = [
        exists().where(t.c.person_token == token)
        for t in (account_snapshots, consumption_summaries, travel_summaries, generic_records)
    ]
    held += [
        exists().where(parties.c.person_token == token, parties.c.active.is_(True)),
        exists().where(
            authorizations.c.person_token == token,
            authorizations.c.revoked_at.is_(None),
            authorizations.c.expires_on >= today,
        ),
        exists().where(disputes.c.person_token == token, disputes.c.status != "closed"),
    ]
    return and_(*(~h for h in held))
