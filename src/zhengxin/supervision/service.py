"""The regulator's supervision tools that keep their own records:

- app collection reviews against the necessary-PI table of 2021 (APP-NPI): what an app collects
  beyond its type's necessary items is excessive and must be rectified within
  `rectification_days`;
- orders to furnishers (rectification, suspension, information request) with a due day, the
  furnisher's response and the regulator's verdict;
- the register of the agency's shareholders and the neutrality view that sets each
  shareholder's volumes beside everyone else's (aggregates only, never a person).

Free text on orders is sealed with the vault, like dispute texts; log events carry ids and
counts only.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import Connection, func, insert, select, text, update

from zhengxin.audit import service as audit
from zhengxin.kit import clock
from zhengxin.kit.cases import append_step
from zhengxin.kit.db import fetch_or_404
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import FURNISHING_ROLES, Actor, names
from zhengxin.read_model import batches, identity_versions, inquiries, parties
from zhengxin.supervision.tables import (
    ORDER_TEXTS,
    app_review_rectifications,
    app_reviews,
    order_steps,
    orders,
    shareholders,
)

NECESSARY_PI_PATH = Path(__file__).with_name("necessary_pi.toml")
ORDER_KINDS = ("rectification", "suspension", "information_request")
FULL_STAKE_BP = 10_000  # 100% in basis points
ORGANISATIONS = ("furnisher", "lender")


# The necessary-PI table -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppCategory(_Strict):
    name: str
    necessary: tuple[str, ...]
    confidence: str = "C"


class NecessaryPI(_Strict):
    rule: str
    source: str
    items: dict[str, str]
    non_necessary: dict[str, str]
    categories: dict[str, AppCategory]

    @model_validator(mode="after")
    def _consistent(self) -> NecessaryPI:
        both = set(self.items) & set(self.non_necessary)
        if both:
            raise ValueError(f"items listed as both necessary and non-necessary: {sorted(both)}")
        for key, category in self.categories.items():
            unknown = set(category.necessary) - set(self.items)
            if unknown:
                raise ValueError(f"{key}: necessary items not in [items]: {sorted(unknown)}")
        return self

    @property
    def known(self) -> set[str]:
        return set(self.items) | set(self.non_necessary)


@lru_cache(maxsize=1)
def necessary_pi() -> NecessaryPI:
    """The packaged table of app types and their necessary items, validated once."""
    return NecessaryPI.model_validate(tomllib.loads(NECESSARY_PI_PATH.read_text(encoding="utf-8")))


def _category(key: str) -> AppCategory:
    table = necessary_pi()
    if key not in table.categories:
        raise Problem(
            422, "unknown_app_category", f"no app type {key!r} in the necessary-PI table", rule=table.rule,
            categories=sorted(table.categories),
        )  # fmt: skip
    return table.categories[key]


def _items(collected: list[str]) -> list[str]:
    """The collected item ids, each once in the order given; unknown ids are refused together."""
    items = list(dict.fromkeys(collected))
    unknown = [i for i in items if i not in necessary_pi().known]
    if unknown:
        raise Problem(
            422, "unknown_pi_items", f"unknown personal-information item ids: {', '.join(unknown)}",
            rule=necessary_pi().rule, unknown=unknown,
        )  # fmt: skip
    return items


# App collection reviews (APP-NPI) -----------------------------------------------------------------


def review_app(conn: Connection, runtime, regulator: Actor, *, app: str, category: str, collected: list[str]) -> dict:
    """Review what an app collects against its type's necessary PI: anything beyond it is
    excessive and must be rectified within `rectification_days` (APP-NPI)."""
    necessary = list(_category(category).necessary)
    items = _items(collected)
    excessive = [i for i in items if i not in necessary]
    now = clock.now()
    row = {
        "id": new_id("apr"),
        "app": app,
        "category": category,
        "necessary": necessary,
        "collected": items,
        "excessive": excessive,
        "status": "rectification_required" if excessive else "compliant",
        "rectify_by": clock.today() + timedelta(days=runtime.settings.rules.rectification_days) if excessive else None,
        "rectified_at": None,
        "rectified_late": False,
        "created_by": regulator.party_id,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(insert(app_reviews).values(**row))
    rectify_by = row["rectify_by"].isoformat() if row["rectify_by"] else None
    audit.enqueue(
        conn,
        [audit.event("supervision.app_review.created", regulator, None, review=row["id"], category=category,
                     collected=len(items), excessive=excessive, status=row["status"], rectify_by=rectify_by,
                     rule=necessary_pi().rule)],
    )  # fmt: skip
    return _review_view(row, clock.today())


def record_rectification(conn: Connection, runtime, regulator: Actor, review_id: str, collected: list[str]) -> dict:
    """The app's new collection list: nothing excessive left closes the review as rectified
    (late after `rectify_by`); anything still excessive keeps it open."""
    row = _review(conn, review_id, lock=True)
    if row["status"] != "rectification_required":
        raise Problem(409, "review_not_open", f"this review is {row['status']}; there is nothing to rectify")
    items = _items(collected)
    excessive = [i for i in items if i not in row["necessary"]]
    now = clock.now()
    late = clock.legal_day(now) > row["rectify_by"]
    seq = conn.execute(
        select(func.coalesce(func.max(app_review_rectifications.c.seq), 0)).where(
            app_review_rectifications.c.review_id == review_id
        )
    ).scalar_one() + 1  # fmt: skip
    conn.execute(
        insert(app_review_rectifications).values(
            review_id=review_id, seq=seq, collected=items, excessive=excessive, late=late,
            recorded_by=regulator.party_id, recorded_at=now,
        )
    )  # fmt: skip
    changes = {"collected": items, "excessive": excessive, "updated_at": now}
    if not excessive:
        changes.update(status="rectified", rectified_at=now, rectified_late=late)
    conn.execute(update(app_reviews).where(app_reviews.c.id == review_id).values(**changes))
    event = "supervision.app_review.rectified" if not excessive else "supervision.app_review.still_excessive"
    audit.enqueue(
        conn,
        [audit.event(event, regulator, None, review=review_id, excessive=excessive, late=late,
                     rule=necessary_pi().rule)],
    )  # fmt: skip
    return get_review(conn, review_id)


def list_reviews(conn: Connection, *, status: str | None = None, overdue: bool | None = None) -> list[dict]:
    query = select(app_reviews)
    if status:
        query = query.where(app_reviews.c.status == status)
    today = clock.today()
    rows = conn.execute(query.order_by(app_reviews.c.created_at.desc())).mappings()
    views = [_review_view(dict(r), today) for r in rows]
    if overdue is not None:
        views = [v for v in views if v["overdue"] is overdue]
    return views


def get_review(conn: Connection, review_id: str) -> dict:
    row = _review(conn, review_id)
    view = _review_view(row, clock.today())
    view["rectifications"] = [
        {"collected": r.collected, "excessive": r.excessive, "late": r.late, "recorded_at": r.recorded_at}
        for r in conn.execute(
            select(app_review_rectifications)
            .where(app_review_rectifications.c.review_id == review_id)
            .order_by(app_review_rectifications.c.seq)
        )
    ]
    return view


def _review(conn: Connection, review_id: str, lock: bool = False) -> dict:
    return fetch_or_404(conn, app_reviews, review_id, "review_not_found", "no such app review", lock=lock)


def _review_view(row: dict, today: date) -> dict:
    open_ = row["status"] == "rectification_required"
    return {
        "id": row["id"],
        "app": row["app"],
        "category": row["category"],
        "necessary": row["necessary"],
        "collected": row["collected"],
        "excessive": row["excessive"],
        "rectify_by": row["rectify_by"],
        "status": row["status"],
        "overdue": open_ and today > row["rectify_by"],
        "rectified_at": row["rectified_at"],
        "rectified_late": row["rectified_late"],
        "rule": necessary_pi().rule,
        "created_at": row["created_at"],
    }


# Orders to furnishers -------------------------------------------------------------------------------


def issue_order(
    conn: Connection, runtime, regulator: Actor, *, furnisher: str, kind: str, reason: str, due_on: date,
    rule: str | None = None,
) -> dict:  # fmt: skip
    """An order to a furnisher, to be answered by `due_on`."""
    target = conn.execute(
        select(parties.c.id).where(parties.c.name == furnisher, parties.c.role.in_(FURNISHING_ROLES))
    ).scalar()
    if target is None:
        raise Problem(404, "furnisher_not_found", f"no furnisher named {furnisher!r}")
    if kind not in ORDER_KINDS:
        raise Problem(422, "invalid_order_kind", f"kind must be one of {', '.join(ORDER_KINDS)}")
    if due_on < clock.today():
        raise Problem(422, "due_on_past", "an order's due day cannot be in the past")
    now = clock.now()
    row = {
        "id": new_id("ord"),
        "furnisher_id": target,
        "kind": kind,
        "rule": rule,
        "due_on": due_on,
        "status": "open",
        "created_by": regulator.party_id,
        "created_at": now,
    }
    conn.execute(insert(orders).values(**row))
    _order_step(conn, runtime, row["id"], "issued", regulator, {"due_on": due_on.isoformat()}, text=reason)
    _order_log(conn, "supervision.order.issued", regulator, row, order_kind=kind, due_on=due_on.isoformat(), rule=rule)
    return get_order(conn, runtime, regulator, row["id"])


def respond_to_order(conn: Connection, runtime, furnisher: Actor, order_id: str, summary: str) -> dict:
    """The furnisher's response; one after the due day is recorded as late."""
    row = _order(conn, order_id, lock=True)
    if row["furnisher_id"] != furnisher.party_id:
        raise Problem(404, "order_not_found", "no such order to you")
    if row["status"] != "open":
        raise Problem(409, "order_not_open", f"this order is {row['status']}; it awaits no response")
    now = clock.now()
    late = clock.legal_day(now) > row["due_on"]
    conn.execute(
        update(orders)
        .where(orders.c.id == order_id)
        .values(status="responded", responded_at=now, responded_late=late, accepted=None)
    )
    _order_step(conn, runtime, order_id, "responded", furnisher, {"late": late}, text=summary)
    _order_log(conn, "supervision.order.responded", furnisher, row, late=late)
    return get_order(conn, runtime, furnisher, order_id)


def close_order(
    conn: Connection, runtime, regulator: Actor, order_id: str, *, accepted: bool, note: str | None = None,
    due_on: date | None = None,
) -> dict:  # fmt: skip
    """The regulator's verdict on a response: accepted closes the order; not accepted reopens it
    (with a new due day if one is given)."""
    row = _order(conn, order_id, lock=True)
    if row["status"] != "responded":
        raise Problem(409, "order_not_responded", f"this order is {row['status']}; only a response can be judged")
    if accepted:
        if due_on is not None:
            raise Problem(422, "due_on_not_allowed", "a new due day only goes with a reopened order")
        changes = {"status": "closed", "accepted": True, "closed_at": clock.now()}
        step, event = "accepted", "supervision.order.closed"
    else:
        if due_on is not None and due_on < clock.today():
            raise Problem(422, "due_on_past", "an order's due day cannot be in the past")
        changes = {"status": "open", "accepted": False, "due_on": due_on or row["due_on"]}
        step, event = "reopened", "supervision.order.reopened"
    conn.execute(update(orders).where(orders.c.id == order_id).values(**changes))
    due = changes.get("due_on", row["due_on"]).isoformat()
    _order_step(conn, runtime, order_id, step, regulator, {"accepted": accepted, "due_on": due}, text=note)
    _order_log(conn, event, regulator, row, accepted=accepted, due_on=due)
    return get_order(conn, runtime, regulator, order_id)


def list_orders(
    conn: Connection, runtime, actor: Actor, *, status: str | None = None, overdue: bool | None = None
) -> list[dict]:
    """Orders as the actor may see them: a furnisher (or a lender that furnishes) its own, the
    regulator and overseers all."""
    query = select(orders)
    if actor.role in FURNISHING_ROLES:
        query = query.where(orders.c.furnisher_id == actor.party_id)
    if status:
        query = query.where(orders.c.status == status)
    rows = [dict(r) for r in conn.execute(query.order_by(orders.c.due_on, orders.c.created_at)).mappings()]
    named = names(conn, {r["furnisher_id"] for r in rows})
    today = clock.today()
    views = [_order_view(r, named, today) for r in rows]
    if overdue is not None:
        views = [v for v in views if v["overdue"] is overdue]
    if _reads_text(actor):
        texts = _order_texts(conn, runtime, [v["id"] for v in views])
        for v in views:
            v["reason"] = texts.get((v["id"], "issued"))
            v["response"] = texts.get((v["id"], "responded"))
    return views


def get_order(conn: Connection, runtime, actor: Actor, order_id: str) -> dict:
    """One order with its steps; texts only for the regulator and the furnisher concerned."""
    row = _order(conn, order_id)
    if actor.role == "furnisher" and row["furnisher_id"] != actor.party_id:
        raise Problem(404, "order_not_found", "no such order to you")
    steps = conn.execute(
        select(order_steps).where(order_steps.c.order_id == order_id).order_by(order_steps.c.seq)
    ).mappings().all()  # fmt: skip
    named = names(conn, {row["furnisher_id"]} | {s["actor_id"] for s in steps})
    view = _order_view(row, named, clock.today())
    reads = _reads_text(actor)
    view["steps"] = [
        {
            "step": s["step"],
            "at": s["at"],
            "by": {"role": s["actor_role"], "name": named.get(s["actor_id"])},
            "details": s["details"],
            **({"text": _unseal_step(runtime, s)} if reads else {}),
        }
        for s in steps
    ]
    if reads:
        view["reason"] = next((s["text"] for s in view["steps"] if s["step"] == "issued"), None)
        view["response"] = next((s["text"] for s in reversed(view["steps"]) if s["step"] == "responded"), None)
    return view


def _reads_text(actor: Actor) -> bool:
    # The parties to the order read its text; overseers see its clock and outcome, not the words.
    return actor.role in ("regulator", *FURNISHING_ROLES)


def _order(conn: Connection, order_id: str, lock: bool = False) -> dict:
    return fetch_or_404(conn, orders, order_id, "order_not_found", "no such order", lock=lock)


def _order_view(row: dict, named: dict[str, str], today: date) -> dict:
    open_ = row["status"] == "open"
    return {
        "id": row["id"],
        "furnisher": {"id": row["furnisher_id"], "name": named.get(row["furnisher_id"])},
        "kind": row["kind"],
        "rule": row["rule"],
        "due_on": row["due_on"],
        "status": row["status"],
        "overdue": open_ and today > row["due_on"],
        "overdue_days": max(0, (today - row["due_on"]).days) if open_ else 0,
        "responded_at": row["responded_at"],
        "responded_late": row["responded_late"],
        "accepted": row["accepted"],
        "closed_at": row["closed_at"],
        "created_at": row["created_at"],
    }


def _order_step(conn: Connection, runtime, order_id: str, step: str, actor: Actor, details: dict, text=None):
    append_step(
        conn, ORDER_TEXTS, "order_id", order_id, step, vault=runtime.vault, details=details, text=text,
        actor_id=actor.party_id, actor_role=actor.role,
    )  # fmt: skip


def _unseal_step(runtime, step) -> str | None:
    if step["text_sealed"] is None:
        return None
    return ORDER_TEXTS.open(runtime.vault, "text_sealed", step)


def _order_texts(conn: Connection, runtime, ids: list[str]) -> dict[tuple[str, str], str]:
    """The latest text of each step kind per order."""
    if not ids:
        return {}
    rows = conn.execute(
        select(order_steps)
        .where(order_steps.c.order_id.in_(ids), order_steps.c.text_sealed.is_not(None))
        .order_by(order_steps.c.seq)
    ).mappings()
    return {(r["order_id"], r["step"]): _unseal_step(runtime, r) for r in rows}


def _order_log(conn: Connection, event: str, actor: Actor, row: dict, **details) -> None:
    audit.enqueue(conn, [audit.event(event, actor, None, order=row["id"], furnisher=row["furnisher_id"], **details)])


# Shareholders and neutrality ----------------------------------------------------------------------


def add_shareholder(conn: Connection, agency: Actor, *, holder: str, party: str | None, stake_bp: int) -> dict:
    """Register a holder of a stake in the agency; all stakes together stay within 100%."""
    _lock_register(conn)
    if conn.execute(
        select(shareholders.c.id).where(shareholders.c.holder == holder, shareholders.c.removed_at.is_(None))
    ).first():
        raise Problem(409, "shareholder_exists", "this holder is already registered; change its stake instead")
    party_id = _organisation(conn, party)
    _check_total(conn, stake_bp)
    now = clock.now()
    row = {
        "id": new_id("shh"),
        "holder": holder,
        "party_id": party_id,
        "stake_bp": stake_bp,
        "recorded_by": agency.party_id,
        "recorded_at": now,
        "updated_at": now,
        "removed_at": None,
    }
    conn.execute(insert(shareholders).values(**row))
    audit.enqueue(
        conn,
        [audit.event("supervision.shareholder.added", agency, None, shareholder=row["id"], party=party_id,
                     stake_bp=stake_bp)],
    )  # fmt: skip
    return _shareholder_view(row, names(conn, {party_id} if party_id else set()))


def change_shareholder(
    conn: Connection, agency: Actor, shareholder_id: str, *, stake_bp: int | None = None, party: str | None = None
) -> dict:
    """A new stake (or linked party) for a registered holder."""
    _lock_register(conn)
    row = _shareholder(conn, shareholder_id)
    changes: dict = {"updated_at": clock.now()}
    if party is not None:
        changes["party_id"] = _organisation(conn, party)
    if stake_bp is not None:
        _check_total(conn, stake_bp, excluding=shareholder_id)
        changes["stake_bp"] = stake_bp
    conn.execute(update(shareholders).where(shareholders.c.id == shareholder_id).values(**changes))
    row.update(changes)
    audit.enqueue(
        conn,
        [audit.event("supervision.shareholder.changed", agency, None, shareholder=shareholder_id,
                     party=row["party_id"], stake_bp=row["stake_bp"])],
    )  # fmt: skip
    return _shareholder_view(row, names(conn, {row["party_id"]} if row["party_id"] else set()))


def remove_shareholder(conn: Connection, agency: Actor, shareholder_id: str) -> None:
    """The holder sold its stake: it leaves the register (the row is kept, dated)."""
    _shareholder(conn, shareholder_id)
    conn.execute(update(shareholders).where(shareholders.c.id == shareholder_id).values(removed_at=clock.now()))
    audit.enqueue(conn, [audit.event("supervision.shareholder.removed", agency, None, shareholder=shareholder_id)])


def list_shareholders(conn: Connection) -> dict:
    rows = [
        dict(r)
        for r in conn.execute(
            select(shareholders)
            .where(shareholders.c.removed_at.is_(None))
            .order_by(shareholders.c.stake_bp.desc(), shareholders.c.recorded_at)
        ).mappings()
    ]
    named = names(conn, {r["party_id"] for r in rows if r["party_id"]})
    return {"shareholders": [_shareholder_view(r, named) for r in rows], "total_bp": sum(r["stake_bp"] for r in rows)}


def neutrality(conn: Connection, since: date | None = None, until: date | None = None) -> dict:
    """Every furnisher's and lender's volumes in the period (records accepted and batches;
    inquiries and fees), each marked with the stake it holds in the agency, and the shares of
    shareholders and of the others. Aggregates only."""
    until = until or clock.today()
    since = since or date(until.year, 1, 1)
    if since > until:
        raise Problem(422, "invalid_period", "since must not be after until")
    start = clock.legal_start(since)
    end = clock.legal_start(until + timedelta(days=1))
    orgs = conn.execute(
        select(parties.c.id, parties.c.name, parties.c.role)
        .where(parties.c.role.in_(ORGANISATIONS))
        .order_by(parties.c.role, parties.c.name)
    ).all()  # fmt: skip
    furnished = {
        r.furnisher_id: r
        for r in conn.execute(
            select(batches.c.furnisher_id, func.count().label("batches"),
                   func.coalesce(func.sum(batches.c.accepted), 0).label("accepted"),
                   func.coalesce(func.sum(batches.c.rejected), 0).label("rejected"))
            .where(batches.c.created_at >= start, batches.c.created_at < end)
            .group_by(batches.c.furnisher_id)
        )
    }  # fmt: skip
    queried = {
        r.lender_id: r
        for r in conn.execute(
            select(inquiries.c.lender_id, func.count().label("inquiries"),
                   func.coalesce(func.sum(inquiries.c.fee_fen), 0).label("fees"))
            .where(inquiries.c.created_at >= start, inquiries.c.created_at < end)
            .group_by(inquiries.c.lender_id)
        )
    }  # fmt: skip
    stakes = dict(
        conn.execute(
            select(shareholders.c.party_id, func.sum(shareholders.c.stake_bp))
            .where(shareholders.c.removed_at.is_(None), shareholders.c.party_id.is_not(None))
            .group_by(shareholders.c.party_id)
        ).all()
    )
    rows = []
    for org in orgs:
        stake = int(stakes.get(org.id) or 0)
        item = {"party": {"id": org.id, "name": org.name}, "role": org.role, "shareholder": stake > 0,
                "stake_bp": stake}  # fmt: skip
        if org.role == "furnisher" or org.id in furnished:  # a lender may furnish its own loans
            f = furnished.get(org.id)
            item.update(batches=int(f.batches) if f else 0, records_accepted=int(f.accepted) if f else 0,
                        records_rejected=int(f.rejected) if f else 0)  # fmt: skip
        if org.role != "furnisher":
            q = queried.get(org.id)
            item.update(inquiries=int(q.inquiries) if q else 0, fees_fen=int(q.fees) if q else 0)
        rows.append(item)
    return {
        "period": {"since": since, "until": until},
        "furnishers": [r for r in rows if r["role"] == "furnisher"],
        "lenders": [r for r in rows if r["role"] == "lender"],
        "summary": {
            "furnishers": _split(rows, "furnisher", ("batches", "records_accepted")),
            "lenders": _split(rows, "lender", ("inquiries", "fees_fen")),
        },
    }


def _split(rows: list[dict], role: str, measures: tuple[str, ...]) -> dict:
    """Shareholders' and the others' totals of each measure, and the shareholders' share."""
    mine = [r for r in rows if r["role"] == role]
    out = {}
    for group, members in (("shareholders", [r for r in mine if r["shareholder"]]),
                           ("others", [r for r in mine if not r["shareholder"]])):  # fmt: skip
        out[group] = {"parties": len(members), **{m: sum(r[m] for r in members) for m in measures}}
    for m in measures:
        total = out["shareholders"][m] + out["others"][m]
        out.setdefault("shareholder_share", {})[m] = round(out["shareholders"][m] / total, 4) if total else None
    return out


def _lock_register(conn: Connection) -> None:
    # Two stake changes at once must not both fit under 100% (SQLite's BEGIN IMMEDIATE already
    # serialises writers).
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE agency_shareholders IN SHARE ROW EXCLUSIVE MODE"))


def _check_total(conn: Connection, stake_bp: int, excluding: str | None = None) -> None:
    query = select(func.coalesce(func.sum(shareholders.c.stake_bp), 0)).where(shareholders.c.removed_at.is_(None))
    if excluding:
        query = query.where(shareholders.c.id != excluding)
    held = int(conn.execute(query).scalar_one())
    if held + stake_bp > FULL_STAKE_BP:
        raise Problem(
            422, "stakes_exceed_total",
            f"the stakes would total {held + stake_bp} basis points; they cannot exceed {FULL_STAKE_BP} (100%)",
            total_bp=held + stake_bp, available_bp=FULL_STAKE_BP - held,
        )  # fmt: skip


def _organisation(conn: Connection, name: str | None) -> str | None:
    if name is None:
        return None
    found = conn.execute(select(parties.c.id).where(parties.c.name == name, parties.c.role.in_(ORGANISATIONS))).scalar()
    if found is None:
        raise Problem(404, "party_not_found", f"no lender or furnisher named {name!r}")
    return found


def _shareholder(conn: Connection, shareholder_id: str) -> dict:
    row = conn.execute(
        select(shareholders).where(shareholders.c.id == shareholder_id, shareholders.c.removed_at.is_(None))
    ).mappings().first()  # fmt: skip
    if row is None:
        raise Problem(404, "shareholder_not_found", "no such shareholder in the register")
    return dict(row)


def _shareholder_view(row: dict, named: dict[str, str]) -> dict:
    return {
        "id": row["id"],
        "holder": row["holder"],
        "party": {"id": row["party_id"], "name": named.get(row["party_id"])} if row["party_id"] else None,
        "stake_bp": row["stake_bp"],
        "recorded_at": row["recorded_at"],
        "updated_at": row["updated_at"],
    }


# Identity conflicts (issue 18) ---------------------------------------------------------------------


def identity_conflicts(conn: Connection) -> dict:
    """Per furnisher, the persons whose name it reported differs from another furnisher's for the
    same resident ID (compared by keyed hashes: nothing is decrypted), beside the persons it
    reported at all. Aggregates only."""
    mine, other = identity_versions.alias("mine"), identity_versions.alias("other")
    conflicting = (
        select(mine.c.furnisher_id, func.count(func.distinct(mine.c.person_token)).label("conflicts"))
        .join(other, (other.c.person_token == mine.c.person_token) & (other.c.furnisher_id != mine.c.furnisher_id)
              & (other.c.name_digest != mine.c.name_digest))  # fmt: skip
        .group_by(mine.c.furnisher_id)
    )
    counts = dict(conn.execute(conflicting).all())
    reported = conn.execute(
        select(identity_versions.c.furnisher_id, func.count()).group_by(identity_versions.c.furnisher_id)
    ).all()
    named = names(conn, {f for f, _ in reported})
    rows = [{"furnisher_id": f, "furnisher": named.get(f, f), "persons": n, "conflicts": counts.get(f, 0)}
            for f, n in reported]  # fmt: skip
    rows.sort(key=lambda r: (-r["conflicts"], r["furnisher"]))
    return {"furnishers": rows, "conflicts": sum(r["conflicts"] for r in rows)}
