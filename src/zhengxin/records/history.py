"""The payment history and the retention rules: what a record says, and when each part of
it must go. Pure functions over snapshots (mappings with `month`, `as_of`, `status`,
`days_past_due`, `overdue_fen`, `closed_on`, `payment_history`, `negative_notice_ref`), so the
report path (`repository.latest_accounts`), scorecards and the erasing run (`retention.run`)
judge by the same code. A thing is erased *on* its erasure day: the day before it is kept, from
that day on it is gone (from reports at once, from the stores at the next run). Months are
whole calendar months (kit.calendar), days are UTC.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from zhengxin.kit.calendar import add_months, month_index, month_start

# The 24 monthly symbols of a payment history, newest month first: N normal, 1-7 overdue by
# 1-30 ... 180+ days, D paid by a guarantor, Z settled with assets, C closed, G settled, # unknown.
PAYMENT_SYMBOLS = "N1234567DZCG#"
NEGATIVE_SYMBOLS = frozenset("1234567DZ")
CLEAN_SYMBOLS = frozenset("NCG")
# From best to worst: unknown, normal or settled, each overdue bucket, then D and Z.
SEVERITY = {"#": 0, "N": 1, "C": 1, "G": 1, **{str(n): n + 1 for n in range(1, 8)}, "D": 9, "Z": 9}
DELINQUENT_STATUSES = ("overdue", "written_off")
HISTORY_MONTHS = 24


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
