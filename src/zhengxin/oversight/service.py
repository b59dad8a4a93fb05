"""The oversight report (PIPL-58): what the body publishes about a period, and how it is protected.

The true counts are read from the stores and from the transparency log, grouped into
*releases*: one scalar or one histogram each, whose labels are fixed before the data is read
(a label that appeared only because someone's data holds it would itself be a disclosure).
Each release goes out with OpenDP's discrete Laplace mechanism over integers; the report's
privacy budget is split evenly across its releases and adds up by sequential composition.

The unit of privacy is one person: two databases are neighbours when they differ by
everything about one person. A release's L1 sensitivity is how much one person can move its
counts in total. Where one person can contribute many events (inquiries, denials, disputes,
self-queries, staff reads) only their first `CONTRIBUTION_CAP` events of the period are
counted, so the sensitivity is the cap and the published count can understate a heavy
contributor's activity.

Noise protects persons, so only figures about persons carry it. Counts of organisations, of
transfer requests (made by organisations), of retention runs and of the rules in force are no
one's personal data: they are published exactly (`Exact`), and the report says so. Noising
them would only make them wrong ("furnishers 0 ± 30" for a deployment with five).

Only noisy values leave this module's `noisy`: the true person counts are never published.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import version

from sqlalchemy import (
    Connection,
    MetaData,
    String,
    Table,
    cast,
    func,
    inspect,
    literal_column,
    select,
    union,
    union_all,
)

from zhengxin.audit import service as audit
from zhengxin.complaints.service import SUBJECTS
from zhengxin.decisions.service import STAFF_READ_PURPOSES
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.policy.engine import DEFAULT_DENY
from zhengxin.read_model import (
    account_snapshots,
    complaints,
    consumption_summaries,
    disputes,
    generic_records,
    inquiries,
    log_leaves,
    parties,
    policy_decisions,
    retention_runs,
    self_queries,
    travel_summaries,
)

RULE = "PIPL-58"
# At most this many of one person's events count in a release (the release's sensitivity).
CONTRIBUTION_CAP = 3
CONFIDENCE = 0.95
DISPUTE_EVENTS = ("opened", "escalated", "corrected", "verified", "unconfirmable", "withdrawn")
TRANSFER_ROUTES = ("denied", "security_assessment", "standard_contract", "exempt")
TRANSFER_STATUSES = ("pending", "approved", "rejected", "denied")
OTHER_RULE = "other"  # denials naming a rule the current policy files no longer hold
REPORT_KIND = "oversight.report"


# Periods -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def complete(self) -> bool:
        return self.end <= clock.now()


_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_YEAR = re.compile(r"\d{4}")


def parse_period(text: str) -> Period:
    """A quarter (`2026-Q4`), a month (`2026-11`) or a year (`2026`), in UTC."""
    text = text.strip().upper()
    if m := _QUARTER.fullmatch(text):
        year, first = int(m[1]), 3 * int(m[2]) - 2
        start, months = datetime(year, first, 1, tzinfo=UTC), 3
    elif m := _MONTH.fullmatch(text):
        start, months = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC), 1
    elif _YEAR.fullmatch(text):
        start, months = datetime(int(text), 1, 1, tzinfo=UTC), 12
    else:
        raise Problem(
            422, "invalid_period", "the period must be a quarter (2026-Q4), a month (2026-11) or a year (2026)"
        )
    year, month = divmod(start.month - 1 + months, 12)
    end = datetime(start.year + year, month + 1, 1, tzinfo=UTC)
    if start > clock.now():
        raise Problem(422, "future_period", f"{text} has not started yet")
    return Period(text, start, end)


# The true counts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One scalar or histogram about persons, published with one draw of noise. `cells` hold the
    TRUE counts, in an order and with labels fixed before any data was read. `title` and `basis`
    are English messages the report's catalogs translate; `cap` is the contribution cap when the
    sensitivity comes from it."""

    key: str
    title: str
    unit: str  # what the sensitivity protects: a person
    sensitivity: int  # L1: how much one unit can change the cells in total
    basis: str  # why that bound holds
    cells: dict[str, int]
    cap: int | None = None


@dataclass(frozen=True)
class Exact:
    """A figure about no person (organisations, their requests, jobs, rules), published exactly."""

    key: str
    title: str
    unit: str
    why: str
    cells: dict[str, int]


@dataclass(frozen=True)
class Counts:
    period: Period
    releases: list[Release]  # noised
    exact: list[Exact]  # published as they are
    notes: list[str]

    def figure(self, key: str) -> Release | Exact:
        return next(r for r in (*self.releases, *self.exact) if r.key == key)


NOT_PERSONAL = "no person's data changes it"


def counts(conn: Connection, runtime, period: Period, cap: int = CONTRIBUTION_CAP) -> Counts:
    """The true counts of the period: the person releases (never published as they are) and the
    exact figures about organisations, requests, runs and rules."""
    releases = [
        Release("persons", "Persons whose records are held", "person", 1,
                "a person is counted once, whatever they hold (records dated by the period's last day and still "
                "held when the report is made).", {"persons": _persons_held(conn, period)}),
        Release("inquiries", "Lenders' inquiries by purpose", "person", cap, "",
                _inquiries(conn, runtime, period, cap), cap),
        Release("denials", "Requests denied, by the rule that denied them", "person", cap,
                "a denial naming two rules is two events; a request about no person counts for the party that "
                "made it.", _denials(conn, runtime, period, cap), cap),
        Release("disputes", "Disputes (objections, CR-25): opened, escalated and closed by outcome", "person", cap,
                "opening, escalation and closing are separate events.", _disputes(conn, period, cap), cap),
        Release("rights", "Persons' own requests: self-queries (CR-17) and data exports (PIPL-45)", "person", cap,
                "", _rights(conn, period, cap), cap),
        Release("staff_reads", "Staff reads of a person's data, by purpose (CR-22)", "person", cap, "",
                _staff_reads(conn, period, cap), cap),
        Release("retention", "Persons whose data was erased by law (CR-16, PIPL-47)", "person", 1,
                "a person affected by several runs is counted once.", {"persons_erased": _erased(conn, period)}),
        Release("complaints", "Complaints about how data was handled: filed by subject, and answered on time or "
                "late (PIPL-58)", "person", cap, "filing and answering are separate events.",
                _complaints(conn, period, cap), cap),
    ]  # fmt: skip
    exact = [
        Exact("organisations", "Organisations registered", "organisation",
              "organisations are not persons: " + NOT_PERSONAL, _organisations(conn, period)),
        Exact("rules", "Legal rules enforced by the policy decision point", "rule",
              "the rules are public law: " + NOT_PERSONAL, _rules(runtime)),
        Exact("retention_runs", "Runs of the lawful erasure job (CR-16, PIPL-47)", "run",
              "the job runs on a schedule: " + NOT_PERSONAL, {"runs": _retention_runs(conn, period)}),
    ]  # fmt: skip
    notes = []
    transfers = _transfers(conn, period)
    if transfers is None:
        notes.append("Cross-border transfers: this deployment holds no transfer requests table, so none is counted.")
    else:
        exact.append(Exact("transfers", "Cross-border transfer requests by route and status", "transfer request",
                           "requests are made by organisations: " + NOT_PERSONAL, transfers))  # fmt: skip
    return Counts(period, releases, exact, notes)


def _in(column, period: Period):
    return (column >= period.start) & (column < period.end)


def _persons_held(conn: Connection, period: Period) -> int:
    """Distinct persons with a record as of the period's end or earlier, still held now."""
    last = period.end.date()
    stores = (account_snapshots, consumption_summaries, travel_summaries, generic_records)
    held = union(*(select(t.c.person_token).where(t.c.as_of < last) for t in stores)).subquery()
    return conn.execute(select(func.count()).select_from(held)).scalar_one()


def _organisations(conn: Connection, period: Period) -> dict[str, int]:
    rows = conn.execute(
        select(parties.c.role, func.count())
        .where(parties.c.role.in_(("furnisher", "lender")), parties.c.active.is_(True),
               parties.c.created_at < period.end)
        .group_by(parties.c.role)
    ).all()  # fmt: skip
    found = dict(rows)
    return {"furnishers": found.get("furnisher", 0), "lenders": found.get("lender", 0)}


def _first_events(conn: Connection, category, unit, at, tiebreak, where: Sequence, cap: int) -> Counter:
    """Events per category, counting only each unit's first `cap` events (in time order)."""
    n = func.row_number().over(partition_by=unit, order_by=(at, tiebreak)).label("n")
    ranked = select(category.label("category"), n).where(*where).subquery()
    query = select(ranked.c.category, func.count()).where(ranked.c.n <= cap).group_by(ranked.c.category)
    return Counter(dict(conn.execute(query).all()))


def _capped(events: Iterable[tuple[str, str]], cap: int) -> Counter:
    """The same in Python, for events given in time order as (unit, category)."""
    seen: Counter = Counter()
    out: Counter = Counter()
    for unit, category in events:
        if seen[unit] < cap:
            seen[unit] += 1
            out[category] += 1
    return out


def _inquiries(conn: Connection, runtime, period: Period, cap: int) -> dict[str, int]:
    purposes = list(runtime.catalog.purposes)
    i = inquiries.c
    found = _first_events(conn, i.purpose, i.person_token, i.created_at, i.id,
                          [_in(i.created_at, period), i.purpose.in_(purposes)], cap)  # fmt: skip
    return {p: found.get(p, 0) for p in purposes}


def _denials(conn: Connection, runtime, period: Period, cap: int) -> dict[str, int]:
    rules = [r["rule"] for r in runtime.policy.rules() if r["effect"] == "forbid"]
    labels = [*dict.fromkeys(rules), DEFAULT_DENY, OTHER_RULE]
    d = policy_decisions.c
    rows = conn.execute(
        select(d.person_token, d.party_id, d.rules)
        .where(d.allowed.is_(False), _in(d.created_at, period))
        .order_by(d.created_at, d.id)
    )
    events = (
        (row.person_token or f"party:{row.party_id}", rule if rule in labels else OTHER_RULE)
        for row in rows
        for rule in row.rules
    )
    found = _capped(events, cap)
    return {label: found.get(label, 0) for label in labels}


def _disputes(conn: Connection, period: Period, cap: int) -> dict[str, int]:
    d = disputes.c
    queries = (
        select(d.opened_at, d.id, d.person_token, literal_column("'opened'")).where(_in(d.opened_at, period)),
        select(d.escalated_at, d.id, d.person_token, literal_column("'escalated'")).where(_in(d.escalated_at, period)),
        select(d.closed_at, d.id, d.person_token, d.outcome).where(_in(d.closed_at, period)),
    )
    events = sorted(tuple(row) for q in queries for row in conn.execute(q) if row[3] in DISPUTE_EVENTS)
    found = _capped(((token, kind) for _, _, token, kind in events), cap)
    return {label: found.get(label, 0) for label in DISPUTE_EVENTS}


def _complaints(conn: Connection, period: Period, cap: int) -> dict[str, int]:
    c = complaints.c
    filed = conn.execute(
        select(c.opened_at, c.id, c.person_token, c.subject).where(_in(c.opened_at, period))
    ).all()  # fmt: skip
    answered = conn.execute(
        select(c.answered_at, c.id, c.person_token, c.due_on).where(_in(c.answered_at, period))
    ).all()  # fmt: skip
    events = sorted(
        [(at, i, token, f"filed_{subject}") for at, i, token, subject in filed]
        + [(at, i, token, "answered_late" if at.date() > due else "answered_on_time") for at, i, token, due in answered]
    )  # fmt: skip
    found = _capped(((token, kind) for _, _, token, kind in events), cap)
    labels = [f"filed_{s}" for s in SUBJECTS] + ["answered_on_time", "answered_late"]
    return {label: found.get(label, 0) for label in labels}


def _rights(conn: Connection, period: Period, cap: int) -> dict[str, int]:
    s, leaf = self_queries.c, log_leaves.c
    events = union_all(
        select(s.person_token.label("unit"), literal_column("'self_queries'").label("category"),
               s.created_at.label("at"), s.id.label("tiebreak")).where(_in(s.created_at, period)),
        select(leaf.person_token, literal_column("'exports'"), leaf.created_at, cast(leaf.leaf_index, String))
        .where(leaf.kind == "rights.export", _in(leaf.created_at, period)),
    ).subquery()  # fmt: skip
    e = events.c
    found = _first_events(conn, e.category, e.unit, e.at, e.tiebreak, [], cap)
    return {"self_queries": found.get("self_queries", 0), "exports": found.get("exports", 0)}


def _staff_reads(conn: Connection, period: Period, cap: int) -> dict[str, int]:
    leaf = log_leaves.c
    rows = conn.execute(
        select(leaf.person_token, leaf.leaf)
        .where(leaf.kind == "staff.read", _in(leaf.created_at, period))
        .order_by(leaf.leaf_index)
    )
    found = _capped(((row.person_token, json.loads(row.leaf).get("purpose")) for row in rows), cap)
    return {p: found.get(p, 0) for p in STAFF_READ_PURPOSES}


def _erased(conn: Connection, period: Period) -> int:
    leaf = log_leaves.c
    return conn.execute(
        select(func.count(leaf.person_token.distinct())).where(
            leaf.kind == "retention.erased", _in(leaf.created_at, period)
        )
    ).scalar_one()


def _retention_runs(conn: Connection, period: Period) -> int:
    return conn.execute(
        select(func.count()).select_from(retention_runs).where(_in(retention_runs.c.started_at, period))
    ).scalar_one()


def _rules(runtime) -> dict[str, int]:
    rules = runtime.policy.rules()
    return {
        "legal_rules": len({r["rule"] for r in rules if r["effect"] == "forbid"}),
        "permissions": sum(r["effect"] == "permit" for r in rules),
    }


def _transfers(conn: Connection, period: Period) -> dict[str, int] | None:
    """Transfer requests made in the period by route and by their status now, if the deployment
    has them. Routes and statuses are the fixed lists, and any other status that occurs (requests
    are organisations', so which statuses exist discloses no one)."""
    if not inspect(conn).has_table("transfers"):
        return None
    table = Table("transfers", MetaData(), autoload_with=conn)
    if "route" not in table.c or "status" not in table.c:
        return None
    when = next((table.c[n] for n in ("created_at", "requested_at", "submitted_at") if n in table.c), None)
    query = select(table.c.route, table.c.status)
    if when is not None:
        query = query.where(_in(when, period))
    rows = conn.execute(query).all()
    routes = Counter(r.route for r in rows)
    statuses = Counter(r.status for r in rows)
    cells = {f"route: {route}": routes.get(route, 0) for route in TRANSFER_ROUTES}
    extra = sorted(set(statuses) - set(TRANSFER_STATUSES))
    cells.update({f"status: {status}": statuses.get(status, 0) for status in (*TRANSFER_STATUSES, *extra)})
    return cells


# Noise ---------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _mechanism(cells: int, sensitivity: int, epsilon: float):
    """OpenDP's discrete Laplace over a vector of integers, at the smallest scale whose privacy
    map gives at most `epsilon` for an L1 change of `sensitivity`."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T="i64"), size=cells), dp.l1_distance(T="i64")
    scale = dp.binary_search_param(lambda s: dp.m.make_laplace(*space, scale=s), d_in=sensitivity, d_out=epsilon)
    measurement = dp.m.make_laplace(*space, scale=scale)
    spent = measurement.map(sensitivity)
    # P(|error| >= accuracy) = 1 - CONFIDENCE; errors are integers, so the floor keeps the coverage.
    bound = math.floor(dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=1 - CONFIDENCE))
    return measurement, scale, spent, bound


def noisy(releases: Sequence[Release], epsilon_total: float) -> dict:
    """Every release with OpenDP discrete Laplace noise, the budget split evenly (sequential
    composition), each value clamped at 0 (post-processing: no privacy cost, and a count's
    error can only shrink). Returns what may be published: no true count is in it.

    There is no seed: OpenDP draws from the operating system's cryptographic generator, and
    noise that can be replayed from a seed protects no one."""
    if not (isinstance(epsilon_total, int | float) and math.isfinite(epsilon_total) and epsilon_total > 0):
        raise Problem(422, "invalid_epsilon", "the privacy budget (epsilon) must be a positive number", rule=RULE)
    if not releases:
        raise Problem(422, "nothing_to_release", "a report needs at least one count")
    share = epsilon_total / len(releases)
    published, spent_total = [], 0.0
    for r in releases:
        measurement, scale, spent, bound = _mechanism(len(r.cells), r.sensitivity, share)
        values = measurement([int(v) for v in r.cells.values()])
        spent_total += spent
        published.append({
            "key": r.key, "title": r.title, "unit": r.unit, "sensitivity": r.sensitivity, "basis": r.basis,
            "cap": r.cap, "epsilon": spent, "scale": round(scale, 6), "error_bound_95": bound,
            "cells": [{"label": label, "value": max(0, v)} for label, v in zip(r.cells, values, strict=True)],
        })  # fmt: skip
    if spent_total > epsilon_total * (1 + 1e-9):  # the privacy maps are OpenDP's own; never publish above budget
        raise RuntimeError(f"privacy loss {spent_total} exceeds the budget {epsilon_total}")
    return {
        "mechanism": "discrete Laplace (OpenDP make_laplace over integers)",
        "library": f"opendp {version('opendp')}",
        "unit": "one person: everything about one person added or removed",
        "composition": "sequential: the budget is split evenly across the releases and their losses add up",
        "epsilon_total": epsilon_total,
        "epsilon_spent": spent_total,
        "epsilon_per_release": share,
        "contribution_cap": CONTRIBUTION_CAP,
        "confidence": CONFIDENCE,
        "clamped_at_zero": True,
        "releases": published,
    }


# The report ----------------------------------------------------------------------------------


def spent_before(conn: Connection, period: Period) -> tuple[int, float]:
    """Reports already published for the period and the privacy budget they spent: each new
    draw of noise about the same data adds to the loss (averaging reports undoes the noise)."""
    rows = conn.execute(select(log_leaves.c.leaf).where(log_leaves.c.kind == REPORT_KIND)).scalars()
    earlier = [e for e in map(json.loads, rows) if e.get("period") == period.label]
    return len(earlier), sum(float(e.get("epsilon", 0)) for e in earlier)


def report(conn: Connection, runtime, period: Period, epsilon: float | None = None) -> dict:
    """The report's content (report.json): noisy person counts with their budget, the exact
    figures about no person, and the log's signed tree head.
    Signs a head of the log as it stands (sequence queued events first). Never commits."""
    epsilon = runtime.settings.oversight_epsilon if epsilon is None else epsilon
    true = counts(conn, runtime, period)
    privacy = noisy(true.releases, epsilon)
    earlier, spent = spent_before(conn, period)
    privacy["period_reports"] = earlier + 1
    privacy["period_epsilon_spent"] = spent + privacy["epsilon_spent"]
    head = audit.sign_head(conn, audit.log_signer(runtime))
    return {
        "title": "Personal information protection report",
        "rule": RULE,
        "agency": runtime.settings.agency_name,
        "period": {
            "label": period.label,
            "start": _iso(period.start),
            "end": _iso(period.end),
            "complete": period.complete,
        },  # fmt: skip
        "generated_at": _iso(clock.now()),
        "privacy": privacy,
        "exact": [
            {
                "key": f.key,
                "title": f.title,
                "unit": f.unit,
                "why": f.why,
                "cells": [{"label": label, "value": int(v)} for label, v in f.cells.items()],
            }
            for f in true.exact
        ],  # fmt: skip
        "notes": true.notes,
        "log": {k: head[k] for k in ("tree_size", "timestamp", "root_hash", "key_id", "signature")},
    }


def record_publication(conn: Connection, period: Period, epsilon: float, sha256: str) -> None:
    """Log that the report was published: its period, budget and the digest of report.json."""
    audit.enqueue(conn, [audit.event(REPORT_KIND, None, period=period.label, epsilon=epsilon, sha256=sha256,
                                     rule=RULE)])  # fmt: skip


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds").replace("+00:00", "Z")
