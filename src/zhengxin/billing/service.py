"""Prices, charges, invoices and furnisher statements, all in integer fen.

Each charge fixes, when it is made, how much of its fee goes to furnishers (the share rate,
rounded down to the fen) and how that part splits among them by the records each
contributed (largest remainder), so invoices and statements add up to the fees to the fen:
sum of invoices = sum of fees = sum of statements + what the agency keeps.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from zhengxin.billing.tables import charges, lender_tiers, prices, shares
from zhengxin.kit import clock
from zhengxin.kit.db import Read, read, write
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import Actor, get_party, names

DEFAULT_TIER = "standard"


def period_of(instant: datetime) -> str:
    return instant.strftime("%Y-%m")


def split(total: int, weights: list[int]) -> list[int]:
    """`total` fen in proportion to `weights`, whole fen that sum to `total` (largest remainder,
    ties to the earlier weight)."""
    whole = sum(weights)
    if total == 0 or whole == 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    left = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


# Prices and tiers -------------------------------------------------------------------------


def tiers(conn: Connection, settings) -> set[str]:
    known = {t for per_product in settings.billing.default_prices.values() for t in per_product}
    return known | set(conn.execute(select(prices.c.tier).distinct()).scalars())


def _fee_in_force(tier):
    return (
        select(prices.c.fee_fen)
        .where(
            prices.c.product == bindparam("product"), prices.c.tier == tier, prices.c.effective_from <= bindparam("day")
        )
        .order_by(prices.c.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )


# Built once, one round trip: a lender's tier and the fee in force for it (run per inquiry).
_TIER = func.coalesce(
    select(lender_tiers.c.tier).where(lender_tiers.c.lender_id == bindparam("lender_id")).scalar_subquery(),
    DEFAULT_TIER,
)
_TIER_AND_FEE = select(_TIER.label("tier"), _fee_in_force(_TIER).label("fee"))
_INSERT_CHARGE, _INSERT_SHARES = insert(charges), insert(shares)


def tier_and_price(conn: Connection, settings, lender_id: str, product: str, day: date) -> tuple[str, int]:
    """A lender's tier and the fee it pays for a product on a day."""
    tier, listed = read(conn, tier_and_listed_price_read(lender_id, product, day))
    return tier, fee_in_force(settings, product, tier, listed)


def tier_and_listed_price_read(lender_id: str, product: str, day: date) -> Read:
    """A lender's tier and the price list's fee for it on a day (None: the list has none)."""
    return Read(_TIER_AND_FEE, {"lender_id": lender_id, "product": product, "day": day}, lambda rows: tuple(rows[0]))


def fee_in_force(settings, product: str, tier: str, listed: int | None) -> int:
    """The listed fee, or the configured default where the price list has none."""
    return listed if listed is not None else _default_price(settings, product, tier)


def _default_price(settings, product: str, tier: str) -> int:
    """The configured fee for a product and tier the price list has no price for."""
    default = settings.billing.default_prices.get(product, {})
    if tier in default:
        return default[tier]
    if DEFAULT_TIER in default:
        return default[DEFAULT_TIER]
    raise Problem(409, "no_price", f"the price list has no price for {product} ({tier})")


def price_list(conn: Connection, settings, day: date) -> list[dict]:
    """Every product and tier with the fee in force on `day` and where it comes from."""
    out = []
    rows = conn.execute(select(prices).where(prices.c.effective_from <= day).order_by(prices.c.effective_from)).all()
    current = {(r.product, r.tier): r for r in rows}
    upcoming = conn.execute(select(prices).where(prices.c.effective_from > day).order_by(prices.c.effective_from))
    keys = {(p, t) for p, per in settings.billing.default_prices.items() for t in per} | set(current)
    for product, tier in sorted(keys):
        row = current.get((product, tier))
        out.append(
            {
                "product": product,
                "tier": tier,
                "fee_fen": row.fee_fen if row else _default_price(settings, product, tier),
                "effective_from": row.effective_from if row else None,
                "source": "price_list" if row else "default",
            }
        )
    for r in upcoming:
        out.append(
            {"product": r.product, "tier": r.tier, "fee_fen": r.fee_fen, "effective_from": r.effective_from,
             "source": "scheduled"}
        )  # fmt: skip
    return out


def set_price(conn: Connection, agency: Actor, *, product: str, tier: str, fee_fen: int, effective_from: date) -> dict:
    if effective_from < clock.today():
        raise Problem(422, "price_in_the_past", "a price takes effect today or later; charges made stay as they were")
    row = {
        "id": new_id("prc"),
        "product": product,
        "tier": tier,
        "fee_fen": fee_fen,
        "effective_from": effective_from,
        "set_by": agency.party_id,
        "set_at": clock.now(),
    }
    existing = conn.execute(
        select(prices.c.id).where(
            prices.c.product == product, prices.c.tier == tier, prices.c.effective_from == effective_from
        )
    ).scalar()
    if existing:
        conn.execute(update(prices).where(prices.c.id == existing).values(fee_fen=fee_fen, set_by=agency.party_id,
                                                                             set_at=row["set_at"]))  # fmt: skip
        row["id"] = existing
    else:
        conn.execute(insert(prices).values(**row))
    return row


def set_tier(conn: Connection, settings, agency: Actor, lender_id: str, tier: str) -> dict:
    party = get_party(conn, lender_id)
    if party is None or party["role"] != "lender":
        raise Problem(404, "lender_not_found", "no such lender")
    if tier not in tiers(conn, settings):
        raise Problem(422, "unknown_tier", f"tier must be one of {', '.join(sorted(tiers(conn, settings)))}")
    row = {"lender_id": lender_id, "tier": tier, "set_by": agency.party_id, "set_at": clock.now()}
    if conn.execute(select(lender_tiers.c.lender_id).where(lender_tiers.c.lender_id == lender_id)).first():
        conn.execute(update(lender_tiers).where(lender_tiers.c.lender_id == lender_id).values(**row))
    else:
        conn.execute(insert(lender_tiers).values(**row))
    return {"lender": {"id": lender_id, "name": party["name"]}, "tier": tier}


# Charging ----------------------------------------------------------------------------------


def charge(
    conn: Connection,
    settings,
    *,
    inquiry_id: str,
    payer_id: str,
    product: str,
    tier: str,
    fee_fen: int,
    records_by_furnisher: dict[str, int],
    now: datetime,
) -> dict:
    """Record the charge for one allowed inquiry and each furnisher's share of it."""
    rate = settings.billing.furnisher_share
    furnishers = sorted(f for f, n in records_by_furnisher.items() if n > 0)
    shared = fee_fen * round(rate * 10_000) // 10_000 if furnishers else 0  # basis points: no float rounding
    parts = split(shared, [records_by_furnisher[f] for f in furnishers])
    period = period_of(now)
    row = {
        "id": new_id("chg"),
        "inquiry_id": inquiry_id,
        "payer_id": payer_id,
        "product": product,
        "tier": tier,
        "fee_fen": fee_fen,
        "share_rate": rate,
        "shared_fen": shared,
        "period": period,
        "charged_at": now,
    }
    write(conn, _INSERT_CHARGE, row)
    if furnishers:
        write(
            conn,
            _INSERT_SHARES,
            [
                {"charge_id": row["id"], "furnisher_id": f, "records": records_by_furnisher[f], "share_fen": part,
                 "period": period}
                for f, part in zip(furnishers, parts, strict=True)
            ],
        )  # fmt: skip
    return row


# Invoices and statements --------------------------------------------------------------------


def _scoped(query, actor: Actor, owner_role: str, owner, owner_id: str | None, period_column, period: str | None):
    """The one place billing rows are scoped: their owner sees its own, the agency all (or one
    owner's), anyone else nothing; optionally one month."""
    if actor.role == owner_role:
        query = query.where(owner == actor.party_id)
    elif actor.role != "agency":
        query = query.where(False)
    elif owner_id:
        query = query.where(owner == owner_id)
    return query.where(period_column == period) if period else query


def _status(period: str) -> str:
    return "open" if period >= period_of(clock.now()) else "closed"


def invoices(conn: Connection, actor: Actor, period: str | None = None, lender_id: str | None = None) -> list[dict]:
    """Monthly invoices: a lender its own, the agency every lender's (open for the current month)."""
    query = (
        select(
            charges.c.payer_id, charges.c.period, charges.c.product, charges.c.tier, charges.c.fee_fen,
            func.count().label("n"), func.sum(charges.c.fee_fen).label("amount"),
        )
        .group_by(charges.c.payer_id, charges.c.period, charges.c.product, charges.c.tier, charges.c.fee_fen)
    )  # fmt: skip
    query = _scoped(query, actor, "lender", charges.c.payer_id, lender_id, charges.c.period, period)
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for r in conn.execute(query):
        grouped[(r.payer_id, r.period)].append(r)
    named = names(conn, {payer for payer, _ in grouped})
    out = []
    newest_first = sorted(grouped.items(), key=lambda kv: (kv[0][1], named.get(kv[0][0], "")), reverse=True)
    for (payer, when), rows in newest_first:
        lines = [
            {"product": r.product, "tier": r.tier, "unit_fee_fen": r.fee_fen, "inquiries": r.n,
             "amount_fen": int(r.amount)}
            for r in sorted(rows, key=lambda r: (r.product, r.tier, r.fee_fen))
        ]  # fmt: skip
        out.append(
            {
                "id": f"INV-{when}-{payer}",
                "lender": {"id": payer, "name": named.get(payer, payer)},
                "period": when,
                "status": _status(when),
                "currency": "CNY",
                "lines": lines,
                "inquiries": sum(line["inquiries"] for line in lines),
                "total_fen": sum(line["amount_fen"] for line in lines),
            }
        )
    return out


def statements(
    conn: Connection, actor: Actor, period: str | None = None, furnisher_id: str | None = None
) -> list[dict]:
    """Monthly revenue statements: a furnisher its own, the agency every furnisher's."""
    query = select(
        shares.c.furnisher_id, shares.c.period, func.count().label("reports"),
        func.sum(shares.c.records).label("records"), func.sum(shares.c.share_fen).label("amount"),
    ).group_by(shares.c.furnisher_id, shares.c.period)  # fmt: skip
    query = _scoped(query, actor, "furnisher", shares.c.furnisher_id, furnisher_id, shares.c.period, period)
    rows = conn.execute(query).all()
    named = names(conn, {r.furnisher_id for r in rows})
    return [
        {
            "id": f"STM-{r.period}-{r.furnisher_id}",
            "furnisher": {"id": r.furnisher_id, "name": named.get(r.furnisher_id, r.furnisher_id)},
            "period": r.period,
            "status": _status(r.period),
            "currency": "CNY",
            "reports": r.reports,
            "records": int(r.records),
            "share_fen": int(r.amount),
        }
        for r in sorted(rows, key=lambda r: (r.period, named.get(r.furnisher_id, "")), reverse=True)
    ]


def reconciliation(conn: Connection, period: str) -> dict:
    """A month's fees against what invoices, statements and the agency's part add up to."""
    fees, shared, n = conn.execute(
        select(func.coalesce(func.sum(charges.c.fee_fen), 0), func.coalesce(func.sum(charges.c.shared_fen), 0),
               func.count()).where(charges.c.period == period)
    ).one()  # fmt: skip
    paid_out = conn.execute(
        select(func.coalesce(func.sum(shares.c.share_fen), 0)).where(shares.c.period == period)
    ).scalar_one()
    return {
        "period": period,
        "charges": n,
        "fees_fen": int(fees),
        "furnisher_shares_fen": int(paid_out),
        "agency_retained_fen": int(fees) - int(paid_out),
        "balanced": int(shared) == int(paid_out),
    }
