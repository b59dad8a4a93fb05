"""The regulator's pages: the supervision dashboard drawn from the latest analytics run (aggregates
only, no person), the cross-border transfer queue with its decisions, and orders to furnishers."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from zhengxin.analytics import service as analytics
from zhengxin.federation import members as federation_members
from zhengxin.federation import psi_runs
from zhengxin.inquiries.repository import peer_outcomes
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import gettext_for, number, percent, yuan
from zhengxin.parties.service import list_parties
from zhengxin.runtime import RuntimeDep
from zhengxin.supervision import service as supervision
from zhengxin.supervision.schemas import OrderCreate
from zhengxin.transfers import service as transfers
from zhengxin.web.charts import BAD, GOOD, PALETTE, WARN, bars, lines
from zhengxin.web.core import CsrfChecked, PortalRoute, RegulatorUser, flash, locale_of, redirect, render
from zhengxin.web.labels import LABELS

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)


def _charts(results: dict[str, list[dict]], locale: str) -> list:
    """The five pictures the dashboard opens with, each with its numbers."""
    _ = gettext_for(locale)
    late, on_time, missing = _("Late"), _("On time"), _("Missing")
    compliance = []
    for r in results.get("obligations", []):
        for label, key in ((on_time, "on_time"), (late, "late"), (missing, "missing")):
            compliance.append({"furnisher": r["furnisher"], "periods": r[key], "status": label})
    colent = [
        {"co_lender": f"{r['furnisher']} / {r['co_lender']}", "loans": r["below_min_loans"]}
        for r in results.get("co-lending", [])
    ]
    platforms = [
        {"platforms": str(r["platforms"]), "persons": r["persons"]}
        for r in results.get("multi-lending", [])
        if r["measure"] == "platforms"
    ]
    by_month: dict[tuple, int] = defaultdict(int)
    for r in results.get("inquiries", []):
        by_month[(r["month"], f"{r['lender']} · {_(LABELS.get(r['purpose'], r['purpose']))}")] += r["inquiries"]
    inquiries = [{"month": m, "series": s, "inquiries": n} for (m, s), n in sorted(by_month.items())]
    disputes = []
    for r in results.get("disputes", []):
        disputes.append({"furnisher": r["furnisher"], "disputes": r["open"] - r["overdue"], "state": _("Open")})
        disputes.append({"furnisher": r["furnisher"], "disputes": r["overdue"], "state": _("Overdue")})
    records = []
    for r in results.get("obligations", []):
        records.append({"furnisher": r["furnisher"], "records": r["accepted"], "outcome": _("Accepted")})
        records.append({"furnisher": r["furnisher"], "records": r["rejected"], "outcome": _("Rejected")})
    status_title, furnisher_title = _("Status"), _("Furnisher")
    return [
        bars(
            "compliance", _("Furnishing against the deadline, periods by furnisher"), compliance, x="furnisher",
            y="periods", color="status", x_title=furnisher_title, y_title=_("Periods"), color_title=status_title,
            colors={on_time: GOOD, late: WARN, missing: BAD},
            columns=[furnisher_title, status_title, _("Periods")],
            rows=[[c["furnisher"], c["status"], number(c["periods"], locale)] for c in compliance],
        ),
        bars(
            "records", _("Records furnished: accepted and rejected, by furnisher"), records, x="furnisher",
            y="records", color="outcome", x_title=furnisher_title, y_title=_("Records"), color_title=_("Outcome"),
            colors={_("Accepted"): GOOD, _("Rejected"): BAD},
            columns=[furnisher_title, _("Outcome"), _("Records")],
            rows=[[c["furnisher"], c["outcome"], number(c["records"], locale)] for c in records],
        ),
        bars(
            "colending", _("Co-lent loans below the minimum platform share (BANK-JL)"), colent, x="co_lender",
            y="loans", x_title=_("Platform / co-lender"), y_title=_("Loans"), horizontal=True,
            columns=[_("Platform / co-lender"), _("Loans")], rows=[[c["co_lender"], c["loans"]] for c in colent],
        ),
        bars(
            "platforms", _("Borrowers by number of platforms (above the MULTI threshold)"), platforms, x="platforms",
            y="persons", x_title=_("Platforms"), y_title=_("Persons"),
            columns=[_("Platforms"), _("Persons")],
            rows=[[p["platforms"], number(p["persons"], locale)] for p in platforms],
        ),
        lines(
            "inquiries", _("Inquiries by lender and purpose, by month"), inquiries, x="month", y="inquiries",
            color="series", x_title=_("Month"), y_title=_("Inquiries"), color_title=_("Lender and purpose"),
            columns=[_("Month"), _("Lender and purpose"), _("Inquiries")],
            rows=[[i["month"], i["series"], number(i["inquiries"], locale)] for i in inquiries],
        ),
        bars(
            "disputes", _("Disputes open and overdue (CR-25), by furnisher"), disputes, x="furnisher", y="disputes",
            color="state", x_title=furnisher_title, y_title=_("Disputes"), color_title=status_title,
            colors={_("Open"): PALETTE[0], _("Overdue"): BAD},
            columns=[furnisher_title, status_title, _("Disputes")],
            rows=[[d["furnisher"], d["state"], d["disputes"]] for d in disputes],
        ),
    ]  # fmt: skip


_DRAWN: dict[tuple[str, str], list] = {}  # a stored run never changes: its charts are built once per language


def charts_of(run: dict, locale: str) -> list:
    key = (run["id"], locale)
    if key not in _DRAWN:
        if len(_DRAWN) >= 32:
            _DRAWN.clear()
        _DRAWN[key] = _charts(run["results"], locale)
    return _DRAWN[key]


@router.get("/regulator")
def dashboard(request: Request, actor: RegulatorUser, runtime: RuntimeDep):
    """The latest supervision run (as /v1/supervision/* serves it) as charts and tables."""
    locale = locale_of(request)
    with runtime.reading() as conn:
        run = analytics.latest_run(conn)
        pending = transfers.list_for(conn, actor, "pending")
        national = psi_runs.results(conn)  # on the regulator's node
        names = {m["uscc"]: m["name"] for m in federation_members.current(conn)}
        peers = [{**p, "name": names.get(p["member"], p["member"])}
                 for p in peer_outcomes(conn, clock.now() - timedelta(days=30))]  # fmt: skip
    results = run["results"] if run else {}
    outstanding = sorted(results.get("outstanding", []), key=lambda r: -r["balance_fen"])
    return render(
        request, "regulator/dashboard.html", run=run, charts=charts_of(run, locale) if run else [],
        outstanding=outstanding, pending=len(pending), labels=LABELS, obligations=results.get("obligations", []),
        yuan=lambda fen: yuan(fen, locale), percent=lambda x: percent(x, locale), peers=peers,
        national=national, national_chart=_national_chart(national, locale) if national else None,
    )  # fmt: skip


def _national_chart(national: list[dict], locale: str):
    """Persons with open loans at two members, by month and pair (the PSI cardinality runs)."""
    _ = gettext_for(locale)
    latest = {}
    for r in national:  # newest first: the latest run per month and pair
        latest.setdefault((r["month"], r["initiator"], r["responder"]), r)
    data = [{"month": m, "pair": f"{r['initiator_name'] or i} · {r['responder_name'] or j}", "persons": r["count"]}
            for (m, i, j), r in sorted(latest.items())]  # fmt: skip
    return bars(
        "national", _("Persons with open loans at two member agencies, by month"), data, x="month", y="persons",
        color="pair", x_title=_("Month"), y_title=_("Persons"), color_title=_("Members"),
        columns=[_("Month"), _("Members"), _("Persons")],
        rows=[[d["month"], d["pair"], number(d["persons"], locale)] for d in data],
    )  # fmt: skip


@router.get("/regulator/transfers")
def transfer_queue(request: Request, actor: RegulatorUser, runtime: RuntimeDep, status: str = "pending"):
    """Cross-border transfer requests, pending first, each with the route the gate decided."""
    status = status if status in ("pending", "approved", "rejected", "denied", "all") else "pending"
    with runtime.reading() as conn:
        found = transfers.list_for(conn, actor, None if status == "all" else status)
    return render(request, "regulator/transfers.html", transfers=found, status=status)


@router.post("/regulator/transfers/{transfer_id}/decision", dependencies=[CsrfChecked])
def decide_transfer(
    request: Request,
    transfer_id: str,
    actor: RegulatorUser,
    runtime: RuntimeDep,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
):
    """The decision of POST /v1/transfers/{id}/decision."""
    if decision not in ("approve", "reject"):
        raise Problem(422, "invalid_request", "the decision is approve or reject")
    with runtime.transaction() as conn:
        decided = transfers.decide(conn, runtime, actor, transfer_id, decision=decision, note=note or None)
    _ = gettext_for(locale_of(request))
    flash(request, _("Transfer %(id)s: %(status)s.") % {"id": transfer_id, "status": _(decided["status"])})
    return redirect("/portal/regulator/transfers")


@router.get("/regulator/orders")
def orders(request: Request, actor: RegulatorUser, runtime: RuntimeDep):
    """Orders to furnishers with their deadlines, and the form to issue one."""
    with runtime.reading() as conn:
        found = supervision.list_orders(conn, runtime, actor)
        furnishers = list_parties(conn, "furnisher")
    return render(request, "regulator/orders.html", orders=found, furnishers=furnishers)


@router.post("/regulator/orders", dependencies=[CsrfChecked])
def issue_order(
    request: Request,
    actor: RegulatorUser,
    runtime: RuntimeDep,
    furnisher: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    due_on: Annotated[str, Form()],
    rule: Annotated[str, Form()] = "",
):
    """The order of POST /v1/supervision/orders, checked by the same request model."""
    try:
        body = OrderCreate(furnisher=furnisher, kind=kind, reason=reason, due_on=due_on, rule=rule or None)
    except ValidationError as e:
        raise Problem(422, "invalid_request", "; ".join(err["msg"] for err in e.errors())) from None
    with runtime.transaction() as conn:
        made = supervision.issue_order(
            conn, runtime, actor, furnisher=body.furnisher, kind=body.kind, reason=body.reason, due_on=body.due_on,
            rule=body.rule,
        )  # fmt: skip
    flash(request, gettext_for(locale_of(request))("Order %(id)s issued.") % {"id": made["id"]})
    return redirect("/portal/regulator/orders")
