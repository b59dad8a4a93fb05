"""The transfer gate and a transfer's life.

The gate works out the route (RULES.md, section XB): core data never leaves (XB-CORE);
important data needs a security assessment (XB-ASSESS, DSL-31); personal information goes by
volume, counted cumulatively over the requester's live requests of the calendar year (XB-SPLIT):
security assessment from `assess_persons` persons or `assess_sensitive` sensitive persons,
standard contract from `sc_persons` persons or any sensitive person (XB-SC), else exempt
(XB-EXEMPT) — except for credit data, which never takes the exemption (CR-24). The policy
engine then says whether the transfer may go ahead on that route (the `export` action of
policies/data_security.cedar and pipl.cedar): allowed is approved at once; held back only by
rules a regulator's approval lifts (XB-ASSESS, XB-SC, PIPL-41) is pending; anything else
(XB-CORE, PIPL-39) is denied.

Credit data (CM-3, CR-24) is any catalog record type that serves a purpose: every catalog
purpose judges or manages credit risk, and the credit report is built from these records.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, func, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.decisions import service as decisions
from zhengxin.identity import minors
from zhengxin.kit import clock
from zhengxin.kit.calendar import add_months
from zhengxin.kit.db import fetch_or_404
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import Actor, lock_party, names
from zhengxin.records import dataset
from zhengxin.transfers.tables import transfer_exports, transfers

GRADES = ("general", "important", "core")  # DSL-21
WATCHERS = ("regulator", "overseer", "agency")  # see every request
LIVE = ("pending", "approved")  # what counts towards the year's totals (XB-SPLIT)
# Forbids a regulator's approval lifts: the request waits for it rather than being denied.
CURABLE = frozenset({"XB-ASSESS", "XB-SC", "PIPL-41"})
RANK = {"exempt": 0, "standard_contract": 1, "security_assessment": 2}

# ISO 3166-1 alpha-2, the officially assigned codes.
_ALPHA2 = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY "
    "BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK "
    "FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR "
    "IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK "
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF "
    "TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
)
COUNTRIES = frozenset(_ALPHA2.split())

REASONS = {
    "XB-CORE": "core data is never exported",
    "DSL-21": "graded by the catalog: a record type exported is graded higher than the request declared",
    "XB-ASSESS": "the volumes or the data's grade call for a security assessment by the regulator",
    "DSL-31": "important data leaves only after a security assessment",
    "XB-SC": "the volumes call for a standard contract filed with the regulator",
    "XB-EXEMPT": "below every threshold: no mechanism is needed",
    "XB-SPLIT": "counted with the requester's earlier requests this year, which raised the route",
    "CR-24": "credit data never takes the exemption, so a standard contract is needed",
    "PIPL-39": "the persons' separate consent to the transfer is missing",
    "PIPL-41": "a foreign court or police body receives it only with the regulator's approval",
}


# The gate --------------------------------------------------------------------------------------


def credit_record_types(catalog) -> set[str]:
    """Record types that are credit data (CM-3): those serving a catalog purpose."""
    return {name for name, spec in catalog.record_types.items() if spec.purposes}


def sensitive_record_types(catalog) -> set[str]:
    """Record types whose own fields hold sensitive PI (PIPL-28): each person exported with
    them is a sensitive person. Common identifiers do not count: they are never exported."""
    return {name for name, spec in catalog.record_types.items() if any(f.sensitive for f in spec.fields.values())}


def catalog_grade(catalog, record_types: list[str]) -> str:
    """The highest grade the catalog gives a field of these record types (DSL-21): what a request
    carrying them is at least, whatever it declares."""
    grades = [f.grade for name in record_types for f in catalog.record_types[name].fields.values()]
    return max(grades, key=GRADES.index, default=GRADES[0])


def route_by_volume(persons: int, sensitive: int, params) -> tuple[str, str]:
    """The route personal-information volumes call for, and the rule that says so."""
    if persons >= params.assess_persons or sensitive >= params.assess_sensitive:
        return "security_assessment", "XB-ASSESS"
    if persons >= params.sc_persons or sensitive >= 1:
        return "standard_contract", "XB-SC"
    return "exempt", "XB-EXEMPT"


def route_for(
    data_grade: str, credit_data: bool, alone: tuple[int, int], cumulative: tuple[int, int], params
) -> tuple[str, list[str]]:
    """The route and every rule that decided it."""
    if data_grade == "core":
        return "denied", ["XB-CORE"]
    route, rule = route_by_volume(*cumulative, params)
    rules = [rule]
    if RANK[route] > RANK[route_by_volume(*alone, params)[0]]:
        rules.append("XB-SPLIT")
    if route == "exempt" and credit_data:
        route, rules = "standard_contract", ["XB-SC", "CR-24"]
    if data_grade == "important":
        rules = [*rules, "DSL-31"] if route == "security_assessment" else ["XB-ASSESS", "DSL-31"]
        route = "security_assessment"
    return route, rules


def request(
    conn: Connection,
    runtime,
    actor: Actor,
    *,
    destination: str,
    recipient: str,
    record_types: list[str],
    persons: int,
    sensitive_persons: int,
    data_grade: str,
    separate_consent: bool = False,
    foreign_authority: bool = False,
) -> dict:
    """Ask to send a dataset abroad: the gate decides its route and whether it must wait for the
    regulator. Every request is kept and logged, a denied one too."""
    catalog, params = runtime.catalog, runtime.settings.rules
    destination, record_types = _checked(
        catalog, destination=destination, record_types=record_types, persons=persons,
        sensitive_persons=sensitive_persons, data_grade=data_grade,
    )  # fmt: skip

    lock_party(conn, actor.party_id)  # one request at a time per requester, so no two count past each other
    now = clock.now()
    earlier_persons, earlier_sensitive = _this_year(conn, actor.party_id, now)
    cumulative = (int(earlier_persons) + persons, int(earlier_sensitive) + sensitive_persons)
    credit_data = bool(set(record_types) & credit_record_types(catalog))
    declared_grade, data_grade = data_grade, max(data_grade, catalog_grade(catalog, record_types), key=GRADES.index)
    route, rules = route_for(data_grade, credit_data, (persons, sensitive_persons), cumulative, params)
    if data_grade != declared_grade:
        rules.append("DSL-21")

    transfer_id = new_id("xfr")
    decision = runtime.policy.decide(
        "export", decisions.subject(actor), ("Dataset", transfer_id),
        _context(data_grade, credit_data, route, separate_consent or persons == 0, foreign_authority, params, now),
    )  # fmt: skip
    forbids = [r.rule for r in decision.reasons if r.effect == "forbid"]
    rules += [r for r in dict.fromkeys(forbids) if r not in rules and r not in ("XB-ASSESS", "XB-SC")]
    if decision.allowed:
        status = "approved"
    else:
        # A default deny (no permit) is a deny too: only curable forbids wait for the regulator.
        status = "pending" if forbids and set(forbids) <= CURABLE and route != "denied" else "denied"
    row = {
        "id": transfer_id,
        "requester_id": actor.party_id,
        "destination": destination,
        "recipient": recipient.strip(),
        "record_types": record_types,
        "data_grade": data_grade,
        "persons": persons,
        "sensitive_persons": sensitive_persons,
        "cumulative_persons": cumulative[0],
        "cumulative_sensitive": cumulative[1],
        "credit_data": credit_data,
        "separate_consent": separate_consent,
        "foreign_authority": foreign_authority,
        "route": route,
        "rules": rules,
        "status": status,
        "decision_id": decision.decision_id,
        "created_at": now,
        "decided_at": None if status == "pending" else now,
    }
    conn.execute(insert(transfers).values(**row))
    decisions.record(
        conn, decision, actor, None, "transfer.requested", transfer=transfer_id, destination=destination,
        record_types=record_types, data_grade=data_grade, declared_grade=declared_grade, persons=persons,
        sensitive_persons=sensitive_persons, cumulative_persons=cumulative[0], cumulative_sensitive=cumulative[1],
        route=route, status=status, rules=rules,
    )  # fmt: skip
    return view(conn, get(conn, transfer_id))


def _checked(
    catalog, *, destination: str, record_types: list[str], persons: int, sensitive_persons: int, data_grade: str
) -> tuple[str, list[str]]:
    """The request's destination and record types as the checks leave them, or the problem with
    the first fact refused."""
    destination = destination.strip().upper()
    if destination not in COUNTRIES:
        raise Problem(422, "invalid_destination", "destination must be an ISO 3166-1 alpha-2 country code")
    if destination == "CN":
        raise Problem(422, "not_cross_border", "a transfer within China is not a cross-border transfer", rule="PIPL-38")
    if data_grade not in GRADES:
        raise Problem(422, "invalid_data_grade", f"data_grade must be one of {', '.join(GRADES)}", rule="DSL-21")
    record_types = sorted(set(record_types))
    unknown = [t for t in record_types if t not in catalog.record_types]
    if unknown or not record_types:
        raise Problem(
            422, "unknown_record_type",
            f"record types must be catalog record types ({', '.join(catalog.record_types)})", unknown=unknown,
        )  # fmt: skip
    if persons < 0 or sensitive_persons < 0:
        raise Problem(422, "invalid_count", "persons and sensitive_persons are counts (>= 0)")
    if sensitive_persons > persons:
        raise Problem(422, "sensitive_exceeds_persons", "sensitive_persons cannot exceed persons")
    carrying = sorted(set(record_types) & sensitive_record_types(catalog))
    if carrying and sensitive_persons < persons:
        raise Problem(
            422, "sensitive_persons_understated",
            f"{', '.join(carrying)} hold sensitive personal information of every person exported: "
            "sensitive_persons must equal persons", rule="PIPL-28", record_types=carrying,
        )  # fmt: skip
    return destination, record_types


def _this_year(conn: Connection, requester_id: str, now: datetime) -> tuple[int, int]:
    """Persons and sensitive persons of the requester's live transfers since 1 January (the
    thresholds count the year's total)."""
    return conn.execute(
        select(func.coalesce(func.sum(transfers.c.persons), 0),
               func.coalesce(func.sum(transfers.c.sensitive_persons), 0))
        .where(transfers.c.requester_id == requester_id, transfers.c.status.in_(LIVE),
               transfers.c.created_at >= clock.legal_start(date(clock.legal_day(now).year, 1, 1)))
    ).one()  # fmt: skip


def decide(conn: Connection, runtime, regulator: Actor, transfer_id: str, *, decision: str, note: str | None) -> dict:
    """The regulator approves or rejects a pending request; an approved security assessment
    holds for `assessment_valid_years` (XB-VALID)."""
    if decision not in ("approve", "reject"):
        raise Problem(422, "invalid_decision", "decision must be approve or reject")
    row = get(conn, transfer_id)
    now = clock.now()
    status = "approved" if decision == "approve" else "rejected"
    valid_until = None
    if status == "approved" and row["route"] == "security_assessment":
        valid_until = add_months(clock.legal_day(now), 12 * runtime.settings.rules.assessment_valid_years)
    # Only a pending request moves: a second decision, or one racing this one, changes nothing.
    done = conn.execute(
        update(transfers)
        .where(transfers.c.id == transfer_id, transfers.c.status == "pending")
        .values(status=status, decided_at=now, decided_by=regulator.party_id, note=note, valid_until=valid_until)
    )
    if done.rowcount == 0:
        raise Problem(409, "transfer_not_pending", f"this transfer is {row['status']}; only a pending one is decided")
    details = {"transfer": transfer_id, "decision": decision, "route": row["route"], "rules": row["rules"]}
    if valid_until:
        details.update(valid_until=valid_until.isoformat(), rule="XB-VALID")
    audit.enqueue(conn, [audit.event("transfer.decided", regulator, None, **details)])
    return view(conn, get(conn, transfer_id))


# The export -------------------------------------------------------------------------------------


def export(conn: Connection, runtime, actor: Actor, transfer_id: str) -> dict:
    """Produce the approved dataset, once: the approved record types for at most the approved
    number of persons, tokens only, as the requester may see them (its own furnished records;
    all of them for the agency). The policy engine checks the approval still holds (XB-VALID)."""
    row = _requested_by(conn, actor, transfer_id, lock=True)
    if row["status"] != "approved":
        raise Problem(409, "transfer_not_approved", f"this transfer is {row['status']}; only an approved one leaves")
    if _export_row(conn, transfer_id) is not None:
        raise Problem(409, "already_exported", "this approval was used: one export per approval; request again")
    now = clock.now()
    decided_on = row["decided_at"].date()
    context = _context(
        row["data_grade"], row["credit_data"], row["route"], row["separate_consent"] or row["persons"] == 0,
        row["foreign_authority"], runtime.settings.rules, now, approved=True,
        age_days=(clock.legal_day(now) - decided_on).days,
        valid_days=(row["valid_until"] - decided_on).days if row["valid_until"] else None,
    )  # fmt: skip
    decision = runtime.policy.decide("export", decisions.subject(actor), ("Dataset", transfer_id), context)
    decisions.enforce(decision, actor, None, "transfer.export.denied", transfer=transfer_id)
    furnisher = None if actor.role == "agency" else actor.party_id
    _no_unstated_minors(conn, runtime.catalog, row, furnisher)
    built = dataset.build(
        conn, runtime.catalog, row["record_types"], row["persons"], furnisher, export_path(runtime, transfer_id)
    )
    out = {"transfer_id": transfer_id, **built, "decision_id": decision.decision_id, "created_by": actor.party_id,
           "created_at": now}  # fmt: skip
    conn.execute(insert(transfer_exports).values(**out))
    decisions.record(
        conn, decision, actor, None, "transfer.exported", transfer=transfer_id, destination=row["destination"],
        record_types=row["record_types"], persons=built["persons"], records=built["records"], sha256=built["sha256"],
    )  # fmt: skip
    return _export_view(out)


def export_for_download(conn: Connection, runtime, actor: Actor, transfer_id: str) -> tuple[dict, object]:
    """The export's row and file, for its requester; the download is logged."""
    _requested_by(conn, actor, transfer_id)
    done = _export_row(conn, transfer_id)
    if done is None:
        raise Problem(404, "export_not_found", "this transfer has not been exported")
    path = export_path(runtime, transfer_id)
    if not path.is_file():
        raise Problem(410, "export_file_missing", "the export file is no longer held")
    audit.enqueue(conn, [audit.event("transfer.downloaded", actor, None, transfer=transfer_id, sha256=done["sha256"])])
    return _export_view(dict(done)), path


def _no_unstated_minors(conn: Connection, catalog, row: dict, furnisher_id: str | None) -> None:
    """Persons under 14 are sensitive whatever the record type (PIPL-28): an export that would
    hold more of them than the request declared sensitive is refused, and nothing is written."""
    if set(row["record_types"]) & sensitive_record_types(catalog):
        return  # every person of it was declared sensitive (see _checked)
    chosen = dataset.chosen_persons(catalog, row["record_types"], row["persons"], furnisher_id)
    young = minors.count_among(conn, chosen, clock.legal_day(clock.now()))
    if young > row["sensitive_persons"]:
        raise Problem(
            409, "sensitive_persons_understated",
            f"the export would hold {young} person(s) under 14, whose information is sensitive (PIPL-28); "
            f"the request declared {row['sensitive_persons']}: request again with them counted",
            rule="PIPL-28", minors=young,
        )  # fmt: skip


def _requested_by(conn: Connection, actor: Actor, transfer_id: str, lock: bool = False) -> dict:
    """The transfer, for its requester. A watcher that is not the requester is told why; any
    other party is not told the transfer exists."""
    row = get(conn, transfer_id, lock=lock)
    if row["requester_id"] != actor.party_id:
        if actor.role not in WATCHERS:
            raise Problem(404, "transfer_not_found", "no such transfer you may see")
        raise Problem(403, "not_requester", "only the party that requested this transfer exports it")
    return row


def export_path(runtime, transfer_id: str):
    return runtime.settings.data_dir / "transfers" / f"{transfer_id}.parquet"


# Views ------------------------------------------------------------------------------------------


def readable(actor: Actor):
    """The one place rows are scoped: the requester sees its own, the watchers all."""
    query = select(transfers)
    if actor.role not in WATCHERS:
        query = query.where(transfers.c.requester_id == actor.party_id)
    return query


def list_for(conn: Connection, actor: Actor, status: str | None = None) -> list[dict]:
    query = readable(actor)
    if status:
        query = query.where(transfers.c.status == status)
    rows = conn.execute(query.order_by(transfers.c.created_at.desc(), transfers.c.id.desc())).mappings()
    return _views(conn, [dict(r) for r in rows])


def get_for(conn: Connection, actor: Actor, transfer_id: str) -> dict:
    row = conn.execute(readable(actor).where(transfers.c.id == transfer_id)).mappings().first()
    if row is None:
        raise Problem(404, "transfer_not_found", "no such transfer you may see")
    return view(conn, dict(row))


def get(conn: Connection, transfer_id: str, lock: bool = False) -> dict:
    return fetch_or_404(conn, transfers, transfer_id, "transfer_not_found", "no such transfer", lock=lock)


def view(conn: Connection, row: dict) -> dict:
    return _views(conn, [row])[0]


def _views(conn: Connection, rows: list[dict]) -> list[dict]:
    named = names(conn, {r["requester_id"] for r in rows})
    ids = [r["id"] for r in rows]
    exported = {}
    if ids:
        exported = {
            e["transfer_id"]: _export_view(dict(e))
            for e in conn.execute(select(transfer_exports).where(transfer_exports.c.transfer_id.in_(ids))).mappings()
        }
    out = []
    for r in rows:
        item = {k: v for k, v in r.items() if k != "requester_id"}
        item["requester"] = {"id": r["requester_id"], "name": named.get(r["requester_id"])}
        item["reason"] = "; ".join(REASONS.get(rule, rule) for rule in r["rules"])
        item["export"] = exported.get(r["id"])
        out.append(item)
    return out


def _export_view(row: dict) -> dict:
    keep = ("transfer_id", "persons", "records", "bytes", "sha256", "decision_id", "created_at")
    return {k: row[k] for k in keep}


# Pieces -----------------------------------------------------------------------------------------


def _context(
    data_grade: str, credit_data: bool, route: str, separate_consent: bool, foreign_authority: bool, params,
    now: datetime, *, approved: bool = False, age_days: int = 0, valid_days: int | None = None,
) -> dict:  # fmt: skip
    if valid_days is None:
        valid_days = (add_months(clock.legal_day(now), 12 * params.assessment_valid_years) - clock.legal_day(now)).days
    return {
        "data_grade": data_grade,
        "credit_data": credit_data,
        "route": route,
        "approved": approved,
        "approval_age_days": age_days,
        "approval_valid_days": valid_days,
        "separate_consent": separate_consent,
        "foreign_authority": foreign_authority,
    }


def _export_row(conn: Connection, transfer_id: str) -> dict | None:
    row = conn.execute(select(transfer_exports).where(transfer_exports.c.transfer_id == transfer_id)).mappings().first()
    return None if row is None else dict(row)
