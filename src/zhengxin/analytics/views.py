"""The supervision views, written once in Ibis: each takes the lake's tables and returns an
expression that DuckDB and Spark run unchanged (no backend SQL here).

Every view judges the lake as of one day `as_of`: rows from after it are left out, an account's
state is its latest snapshot of a month up to as_of's month, and a dispute is open if it was not
closed by then. Outputs are aggregates keyed by organisations (furnishers, lenders, co-lenders,
named from the `parties` table) and never hold a person token.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from zhengxin.analytics import VIEWS
from zhengxin.config import RuleParameters

OPEN_STATUSES = ("current", "overdue")
# The lending caps (ML-2020, BANK-IL) are about unsecured online credit: a mortgage or a car
# loan on a platform's books does not count against them.
SECURED_PRODUCTS = ("mortgage", "auto")
# An inquiry followed by no account at its lender within this many days is a harvesting signal.
HARVEST_DAYS = 90
# Monitoring a loan already granted opens none: those inquiries are counted but not judged.
NOT_APPLICATIONS = ("post_loan_management",)
DISPUTE_OUTCOMES = ("corrected", "verified", "unconfirmable", "withdrawn")
TOP_ERROR_CODES = 5


def _month(as_of: date) -> str:
    return as_of.strftime("%Y-%m")


def _day(as_of: date) -> ir.DateScalar:
    return ibis.literal(as_of, type="date")


def _named(rows: ir.Table, parties: ir.Table, id_column: str, name_column: str) -> ir.Table:
    """`rows` with the name of the party in `id_column` as `name_column`."""
    names = parties.select(**{id_column: parties.id, name_column: parties.name})
    return rows.left_join(names, id_column).drop(f"{id_column}_right")


def current_accounts(accounts: ir.Table, as_of: date) -> ir.Table:
    """Each account's latest snapshot of a month up to as_of (its state then)."""
    upto = accounts.filter(accounts.month <= _month(as_of))
    # The row of the account's greatest month, one as (furnisher_id, account_id, month) is unique
    # in a lake: found by a grouped max and a semi-join rather than a row_number over the account,
    # which sorts every snapshot (DuckDB: half the time over 10M snapshots, benchmarks/analytics.py).
    # Not `max().over(account)`: DuckDB 2.0 rewrites that into a self-join that drops the month
    # filter when `month` is a Hive partition, and would see snapshots after as_of.
    latest = upto.group_by(["furnisher_id", "account_id"]).aggregate(month=upto.month.max())
    return upto.semi_join(latest, ["furnisher_id", "account_id", "month"])


def open_accounts(accounts: ir.Table, as_of: date) -> ir.Table:
    current = current_accounts(accounts, as_of)
    return current.filter(current.status.isin(OPEN_STATUSES))


# obligations --------------------------------------------------------------------------------


def _periods(obligations: ir.Table, as_of: date) -> ir.Table:
    """One row per obligation and period k: the due dates up to as_of and the first one after
    it (the period still running), each with the day its window opened."""
    day = _day(as_of)
    first = obligations.first_due_on
    days = day.delta(first, unit="day")
    months = (as_of.year * 12 + as_of.month) - (first.year() * 12 + first.month())
    # enough periods to pass as_of (never fewer than one); the extra ones are dropped below
    bound = ibis.cases(
        (obligations.frequency == "daily", days), (obligations.frequency == "weekly", days // 7), else_=months
    )
    periods = obligations.select(
        obligation_id=obligations.id,
        furnisher_id=obligations.furnisher_id,
        frequency=obligations.frequency,
        first_due_on=first,
        opened_on=obligations.created_at.date(),
        k=ibis.range(0, ibis.greatest(bound + 2, 1)).unnest(),
    )
    due = ibis.cases(
        (periods.frequency == "daily", periods.first_due_on + periods.k.as_interval("D")),
        (periods.frequency == "weekly", periods.first_due_on + (periods.k * 7).as_interval("D")),
        else_=periods.first_due_on + periods.k.as_interval("M"),  # clamped to the month's end
    )
    periods = periods.mutate(due_on=due)
    previous = periods.due_on.lag().over(group_by=periods.obligation_id, order_by=periods.k)
    periods = periods.mutate(prev_due_on=previous)
    periods = periods.filter(periods.prev_due_on.isnull() | (periods.prev_due_on <= day))
    # Nothing delivered before the obligation existed serves it, whatever the period.
    return periods.mutate(
        window_from=ibis.greatest(periods.prev_due_on.fill_null(periods.opened_on), periods.opened_on)
    )


def obligations(
    obligations: ir.Table,
    batches: ir.Table,
    deliveries: ir.Table,
    rejections: ir.Table,
    parties: ir.Table,
    *,
    as_of: date,
) -> ir.Table:
    """Furnishing compliance per furnisher and obligation, by the furnisher's own rule
    (furnishing.service.period_verdicts, held to this view by tests/analytics/test_parity.py).

    Each period owes a delivery of every required record type (a batch that accepted records of
    that type); for each type, deliveries serve the owed periods oldest first, and one arriving
    before a period opened (its previous due date; the obligation's creation day for the first)
    cannot serve it. A period is *on time* when every type was served within its own window,
    *missing* when a type is still unserved at as_of, *late* otherwise. For one type the backlog
    after window k is B_k = max(0, B_{k-1} + 1 - n_k) (n_k deliveries in it), i.e.
    S_k - min(0, min_{j<=k} S_j) with S_k = sum_{i<=k} (1 - n_i): the type is on time in period k
    iff B_k = 0, and its unserved periods at as_of are the newest B_N - 1 (N the running period).
    Record types required but never accepted, the batches' rejection rate and the most frequent
    error codes complete the row.
    """
    day = _day(as_of)
    active = obligations.filter(obligations.active & (obligations.created_at.date() <= day))
    upto = batches.filter(batches.created_at.date() <= day)
    delivered = deliveries.filter((deliveries.completed_at.date() <= day) & (deliveries.accepted > 0))
    verdicts = _verdicts(active, delivered, as_of)
    never = _never_accepted(active, delivered)
    volumes = upto.group_by("furnisher_id").aggregate(
        batches=upto.count(),
        received=upto.received.sum(),
        accepted=upto.accepted.sum(),
        rejected=upto.rejected.sum(),
        last_delivery_at=upto.created_at.max(where=upto.accepted > 0),
    )
    codes = _top_error_codes(rejections, upto, volumes)

    rows = _named(
        active.select(
            obligation_id=active.id,
            furnisher_id=active.furnisher_id,
            record_types=active.record_types.sort(),
            frequency=active.frequency,
            first_due_on=active.first_due_on,
        )
        .left_join(verdicts, "obligation_id")
        .drop("obligation_id_right")
        .left_join(never, "obligation_id")
        .drop("obligation_id_right")
        .left_join(volumes, "furnisher_id")
        .drop("furnisher_id_right")
        .left_join(codes, "furnisher_id")
        .drop("furnisher_id_right"),
        parties,
        "furnisher_id",
        "furnisher",
    )
    zero = ibis.literal(0, type="int64")
    rows = rows.mutate(
        batches=rows.batches.fill_null(zero),
        received=rows.received.fill_null(zero),
        accepted=rows.accepted.fill_null(zero),
        rejected=rows.rejected.fill_null(zero),
        never_accepted=rows.never_accepted.fill_null(ibis.literal([], type="array<string>")),
        error_codes=rows.error_codes.fill_null(ibis.literal([], type=codes.error_codes.type())),
    )
    rows = rows.mutate(
        rejection_rate=ibis.cases((rows.received > 0, (rows.rejected / rows.received).round(4))),
    )
    return rows.select(
        "furnisher_id", "furnisher", "obligation_id", "record_types", "frequency", "first_due_on", "expected",
        "on_time", "late", "missing", "never_accepted", "last_delivery_at", "batches", "received", "accepted",
        "rejected", "rejection_rate", "error_codes",
    ).order_by(["furnisher", "obligation_id"])  # fmt: skip


def _verdicts(active: ir.Table, delivered: ir.Table, as_of: date) -> ir.Table:
    """Per obligation: periods due, on time, late and missing (the rule in `obligations`)."""
    day = _day(as_of)
    periods = _periods(active, as_of)
    required = active.select(obligation_id=active.id, record_type=active.record_types.unnest())
    periods = periods.join(required, "obligation_id")
    arrivals = delivered.select("furnisher_id", "record_type", delivered_on=delivered.completed_at.date())
    in_window = periods.left_join(
        arrivals,
        [
            periods.furnisher_id == arrivals.furnisher_id,
            periods.record_type == arrivals.record_type,
            arrivals.delivered_on > periods.window_from,
            arrivals.delivered_on <= ibis.least(periods.due_on, day),
        ],
    )
    counted = in_window.group_by(["obligation_id", "record_type", "k", "due_on"]).aggregate(
        n=in_window.delivered_on.count()
    )
    cumulative = ibis.window(group_by=[counted.obligation_id, counted.record_type], order_by=counted.k, rows=(None, 0))
    owed = counted.mutate(s=(1 - counted.n).sum().over(cumulative))
    owed = owed.mutate(backlog=owed.s - ibis.least(owed.s.min().over(cumulative), 0))
    due = owed.due_on <= day
    # The running period is the one not yet due; it is owed first when counting what is missing.
    per_type = owed.group_by(["obligation_id", "record_type"]).aggregate(
        unserved=ibis.greatest(owed.backlog.max(where=~due) - 1, 0)
    )
    per_period = owed.filter(due).group_by(["obligation_id", "k"]).aggregate(worst=owed.backlog.max())
    counts = per_period.group_by("obligation_id").aggregate(
        expected=per_period.count(), on_time=(per_period.worst == 0).sum()
    )
    missing = per_type.group_by("obligation_id").aggregate(missing=per_type.unserved.max())
    verdicts = (
        active.select(obligation_id=active.id)
        .left_join(counts, "obligation_id")
        .drop("obligation_id_right")
        .left_join(missing, "obligation_id")
        .drop("obligation_id_right")
    )
    zero = ibis.literal(0, type="int64")
    verdicts = verdicts.mutate(
        expected=verdicts.expected.fill_null(zero).cast("int64"),
        on_time=verdicts.on_time.fill_null(zero).cast("int64"),
        missing=verdicts.missing.fill_null(zero).cast("int64"),
    )
    return verdicts.mutate(late=verdicts.expected - verdicts.on_time - verdicts.missing)


def _never_accepted(obligations: ir.Table, delivered: ir.Table) -> ir.Table:
    """Per obligation, the required record types of which no batch of the furnisher has accepted
    a record (up to as_of)."""
    accepted = delivered.select("furnisher_id", "record_type").distinct()
    required = obligations.select(
        obligation_id=obligations.id,
        furnisher_id=obligations.furnisher_id,
        record_type=obligations.record_types.unnest(),
    )
    flagged = required.left_join(accepted.mutate(seen=True), ["furnisher_id", "record_type"]).select(
        "obligation_id", "record_type", "seen"
    )
    return flagged.group_by("obligation_id").aggregate(
        never_accepted=flagged.record_type.collect(where=flagged.seen.isnull()).sort()
    )


def _top_error_codes(rejections: ir.Table, batches: ir.Table, volumes: ir.Table) -> ir.Table:
    """Per furnisher, its most frequent rejection codes: count and rate over records received."""
    counted = (
        rejections.semi_join(batches, rejections.batch_id == batches.id)
        .group_by(["furnisher_id", "code"])
        .aggregate(rejected=ibis._.count(), rule=ibis._.rule.max())
    )
    ranked = counted.mutate(
        rank=ibis.row_number().over(group_by=counted.furnisher_id, order_by=[ibis.desc(counted.rejected), counted.code])
    )
    top = ranked.filter(ranked.rank < TOP_ERROR_CODES).join(volumes.select("furnisher_id", "received"), "furnisher_id")
    entry = ibis.struct(
        {
            "rank": top["rank"] + 1,
            "code": top.code,
            "rule": top.rule,
            "rejected": top.rejected,
            "rate": ibis.cases((top.received > 0, (top.rejected / top.received).round(4))),
        }
    )
    return top.group_by("furnisher_id").aggregate(error_codes=entry.collect().sort())


# co-lending (BANK-JL) -----------------------------------------------------------------------


def co_lending(accounts: ir.Table, parties: ir.Table, *, as_of: date, rules: RuleParameters) -> ir.Table:
    """Open co-lent loans per furnisher and co-lender: how many and what balance fall below the
    platform's minimum funding share (BANK-JL), and the distribution of shares in steps of 0.1."""
    current = open_accounts(accounts, as_of)
    co_lent = current.filter(current.co_lender_uscc.notnull() & (current.co_lender_uscc != ""))
    below = (co_lent.platform_share < rules.min_platform_share).fill_null(False)  # no share given: `share_unknown`
    keys = ["furnisher_id", "co_lender_uscc"]
    totals = co_lent.group_by(keys).aggregate(
        loans=co_lent.count(),
        balance_fen=co_lent.balance_fen.sum(),
        below_min_loans=below.sum(),
        below_min_balance_fen=co_lent.balance_fen.sum(where=below),
        share_unknown=co_lent.platform_share.isnull().sum(),
        min_share=co_lent.platform_share.min(),
        max_share=co_lent.platform_share.max(),
    )
    # round first: 0.3 * 10 is 3.0000000000000004 and 0.7 * 10 is 7.000000000000001
    bucket = (co_lent.platform_share * 10).round(6).floor()
    buckets = (
        co_lent.filter(co_lent.platform_share.notnull())
        .mutate(bucket=bucket)
        .group_by([*keys, "bucket"])
        .aggregate(loans=ibis._.count())
    )
    step = ibis.struct(
        {
            "share_from": (buckets.bucket / 10).round(1),
            "share_to": ((buckets.bucket + 1) / 10).round(1),
            "loans": buckets.loans,
        }
    )
    distribution = buckets.group_by(keys).aggregate(distribution=step.collect().sort())
    lenders = (
        parties.filter(parties.role == "lender")
        .group_by("uscc")
        .aggregate(co_lender=ibis._.name.min())
        .rename(co_lender_uscc="uscc")
    )
    with_shares = totals.left_join(distribution, keys).drop("furnisher_id_right", "co_lender_uscc_right")
    rows = _named(with_shares, parties, "furnisher_id", "furnisher")
    rows = rows.left_join(lenders, "co_lender_uscc").drop("co_lender_uscc_right")
    rows = rows.mutate(
        below_min_balance_fen=rows.below_min_balance_fen.fill_null(0),
        distribution=rows.distribution.fill_null(ibis.literal([], type=distribution.distribution.type())),
        rule=ibis.literal("BANK-JL"),
        # through a string: DuckDB takes a float literal as a DECIMAL, which comes back as 0.30000000000000004
        min_platform_share=ibis.literal(repr(rules.min_platform_share)).cast("float64"),
    )
    return rows.select(
        "furnisher_id", "furnisher", "co_lender_uscc", "co_lender", "loans", "balance_fen", "below_min_loans",
        "below_min_balance_fen", "share_unknown", "min_share", "max_share", "distribution", "rule",
        "min_platform_share",
    ).order_by(["furnisher", "co_lender_uscc"])  # fmt: skip


# multi-lending (MULTI, ML-2020, BANK-IL) ------------------------------------------------------


def multi_lending(accounts: ir.Table, *, as_of: date, rules: RuleParameters) -> ir.Table:
    """Borrowing across platforms and against the individual caps, as counts of persons.

    Rows of measure `platforms` (MULTI): persons with open accounts on exactly `platforms`
    platforms, for each count above the threshold, with their unsecured balance. Rows of
    measure `individual_cap` (ML-2020) and `internet_consumer_cap` (BANK-IL): persons whose
    open unsecured balance (all platforms, mortgages and car loans aside) exceeds the cap, their
    balance and the excess over the cap. Aggregates only: no token leaves this function.
    """
    current = open_accounts(accounts, as_of)
    unsecured = ~current.product.isin(SECURED_PRODUCTS)
    persons = current.group_by("person_token").aggregate(
        platforms=current.furnisher_id.nunique(),
        balance_fen=current.balance_fen.sum(where=unsecured),
    )
    persons = persons.mutate(balance_fen=persons.balance_fen.fill_null(0))
    int64 = "int64"
    many = persons.filter(persons.platforms > rules.multi_platform_threshold)
    spread = many.group_by("platforms").aggregate(persons=many.count(), balance_fen=many.balance_fen.sum())
    spread = spread.select(
        rule=ibis.literal("MULTI"),
        measure=ibis.literal("platforms"),
        threshold=ibis.literal(rules.multi_platform_threshold, type=int64),
        platforms=spread.platforms.cast(int64),
        persons=spread.persons.cast(int64),
        balance_fen=spread.balance_fen.cast(int64),
        excess_fen=ibis.null(int64),
    )

    def over(rule: str, measure: str, cap: int) -> ir.Table:
        above = persons.filter(persons.balance_fen > cap)
        totals = above.aggregate(
            persons=above.count(), balance_fen=above.balance_fen.sum(), excess_fen=(above.balance_fen - cap).sum()
        )
        return totals.select(
            rule=ibis.literal(rule),
            measure=ibis.literal(measure),
            threshold=ibis.literal(cap, type=int64),
            platforms=ibis.null(int64),
            persons=totals.persons.cast(int64),
            balance_fen=totals.balance_fen.fill_null(0).cast(int64),
            excess_fen=totals.excess_fen.fill_null(0).cast(int64),
        )

    rows = ibis.union(
        spread,
        over("ML-2020", "individual_cap", rules.individual_cap_fen),
        over("BANK-IL", "internet_consumer_cap", rules.internet_consumer_cap_fen),
    )
    return rows.order_by(["measure", "platforms"])


# inquiries ------------------------------------------------------------------------------------


def inquiries(inquiries: ir.Table, accounts: ir.Table, parties: ir.Table, *, as_of: date) -> ir.Table:
    """Inquiries by lender, purpose and month, and those followed by no account at the lender.

    An inquiry *led to an account* when the person has an account opened on the inquiry day or
    within HARVEST_DAYS after it that the lender furnished (same party or same USCC) or
    co-lent (`co_lender_uscc` is the lender's). One that did not, once its window has passed,
    counts as `without_account` — many of them suggest a lender collecting reports rather than
    lending (a data harvesting signal); those still inside their window are `awaiting`.
    Post-loan monitoring opens no account and is not judged. Each row also carries its
    lender's totals over every purpose and month.
    """
    day = _day(as_of)
    inq = inquiries.filter(inquiries.created_at.date() <= day)
    lenders = parties.select(lender_id=parties.id, lender=parties.name, lender_uscc=parties.uscc)
    inq = inq.mutate(inquired_on=inq.created_at.date()).join(lenders, "lender_id", how="left").drop("lender_id_right")

    month = _month(as_of)
    furnishers = parties.select(furnisher_id=parties.id, furnisher_uscc=parties.uscc)
    opened = (
        accounts.filter((accounts.month <= month) & (accounts.opened_on <= day))
        .select("furnisher_id", "person_token", "opened_on", "co_lender_uscc")
        .distinct()
        .left_join(furnishers, "furnisher_id")
        .drop("furnisher_id_right")
    )
    matched = (
        inq.join(
            opened,
            [
                inq.person_token == opened.person_token,
                opened.opened_on >= inq.inquired_on,
                opened.opened_on <= inq.inquired_on + ibis.interval(days=HARVEST_DAYS),
                (opened.co_lender_uscc == inq.lender_uscc)
                | (opened.furnisher_id == inq.lender_id)
                | (opened.furnisher_uscc == inq.lender_uscc),
            ],
        )
        .select(matched_id=inq.id)
        .distinct()
    )
    judged = inq.left_join(matched, inq.id == matched.matched_id)
    application = ~judged.purpose.isin(NOT_APPLICATIONS)
    has_account = application & judged.matched_id.notnull()
    no_account = application & judged.matched_id.isnull()
    window_passed = judged.inquired_on + ibis.interval(days=HARVEST_DAYS) < day
    rows = judged.group_by(["lender_id", "lender", "purpose", "month"]).aggregate(
        inquiries=judged.count(),
        persons=judged.person_token.nunique(),
        with_account=has_account.sum(),
        without_account=(no_account & window_passed).sum(),
        awaiting=(no_account & ~window_passed).sum(),
    )
    per_lender = ibis.window(group_by=rows.lender_id)
    rows = rows.mutate(
        lender_inquiries=rows.inquiries.sum().over(per_lender),
        lender_with_account=rows.with_account.sum().over(per_lender),
        lender_without_account=rows.without_account.sum().over(per_lender),
    )
    judged_total = rows.lender_with_account + rows.lender_without_account
    rate = (rows.lender_without_account / judged_total).round(4)
    rows = rows.mutate(lender_without_account_rate=ibis.cases((judged_total > 0, rate)))
    return rows.select(
        "lender_id", "lender", "purpose", "month", "inquiries", "persons", "with_account", "without_account",
        "awaiting", "lender_inquiries", "lender_without_account", "lender_without_account_rate",
    ).order_by(["lender", "purpose", "month"])  # fmt: skip


# disputes (CR-25) ----------------------------------------------------------------------------


def disputes(disputes: ir.Table, parties: ir.Table, *, as_of: date) -> ir.Table:
    """Disputes by furnisher: opened up to as_of, still open then, overdue (open past their
    due day, CR-25), awaiting the furnisher's answer, and the outcomes of those closed."""
    day = _day(as_of)
    d = disputes.filter(disputes.opened_at.date() <= day)
    closed = (d.status == "closed") & (d.closed_at.isnull() | (d.closed_at.date() <= day))
    still_open = ~closed
    overdue = still_open & (d.due_on < day)
    answered = still_open & d.answered_at.notnull() & (d.answered_at.date() <= day)
    outcomes = {outcome: (closed & (d.outcome == outcome)).sum() for outcome in DISPUTE_OUTCOMES}
    rows = d.group_by("furnisher_id").aggregate(
        opened=d.count(),
        open=still_open.sum(),
        overdue=overdue.sum(),
        oldest_overdue_days=day.delta(d.due_on, unit="day").max(where=overdue),
        awaiting_answer=(still_open & ~answered).sum(),
        answered=answered.sum(),
        closed=closed.sum(),
        **outcomes,
        mean_days_to_close=d.closed_at.date().delta(d.opened_at.date(), unit="day").mean(where=closed),
    )
    rows = rows.mutate(mean_days_to_close=rows.mean_days_to_close.round(1), rule=ibis.literal("CR-25"))
    rows = _named(rows, parties, "furnisher_id", "furnisher")
    return rows.select(
        "furnisher_id", "furnisher", "opened", "open", "overdue", "oldest_overdue_days", "awaiting_answer", "answered",
        "closed", *DISPUTE_OUTCOMES, "mean_days_to_close", "rule",
    ).order_by("furnisher")  # fmt: skip


# outstanding ---------------------------------------------------------------------------------


def outstanding(accounts: ir.Table, parties: ir.Table, *, as_of: date) -> ir.Table:
    """Open credit by platform and product: accounts, persons, balance, and what is overdue."""
    current = open_accounts(accounts, as_of)
    late = (current.days_past_due > 0) | (current.overdue_fen > 0)
    rows = current.group_by(["furnisher_id", "product"]).aggregate(
        accounts=current.count(),
        persons=current.person_token.nunique(),
        balance_fen=current.balance_fen.sum(),
        overdue_accounts=late.sum(),
        overdue_fen=current.overdue_fen.sum(),
    )
    rows = _named(rows, parties, "furnisher_id", "furnisher")
    return rows.select(
        "furnisher_id", "furnisher", "product", "accounts", "persons", "balance_fen", "overdue_accounts", "overdue_fen"
    ).order_by(["furnisher", "product"])


def build(tables: dict[str, ir.Table], *, as_of: date, rules: RuleParameters) -> dict[str, ir.Table]:
    """Every view's expression over the lake's tables, by route name."""
    t = tables
    expressions = {
        "obligations": obligations(
            t["obligations"], t["batches"], t["deliveries"], t["rejections"], t["parties"], as_of=as_of
        ),
        "co-lending": co_lending(t["accounts"], t["parties"], as_of=as_of, rules=rules),
        "multi-lending": multi_lending(t["accounts"], as_of=as_of, rules=rules),
        "inquiries": inquiries(t["inquiries"], t["accounts"], t["parties"], as_of=as_of),
        "disputes": disputes(t["disputes"], t["parties"], as_of=as_of),
        "outstanding": outstanding(t["accounts"], t["parties"], as_of=as_of),
    }
    return {name: expressions[name] for name in VIEWS}
