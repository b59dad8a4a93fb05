"""The yearly data-security risk assessment (DSL-30): built from what the deployment actually
holds and does, not written by hand.

- the data: each record type of the catalog with its DSL-21 grade, PI and sensitive-PI flags,
  retention, and how many rows and persons the stores hold; the identifiers in the vault;
- the parties and the year's volumes (inquiries, self-queries, disputes, transfers);
- the processing activities, each with its legal basis, rules, module and volume;
- a fixed list of risks with the countermeasures the code has, each naming its module and
  whether that module is present in this build.

Counts only: no person token, no identifier.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, MetaData, Table, distinct, func, inspect, select, union

from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.read_model import (
    ROLES,
    account_snapshots,
    batches,
    consumption_summaries,
    disputes,
    generic_records,
    inquiries,
    log_heads,
    log_leaves,
    log_state,
    parties,
    pii_vault,
    policy_decisions,
    retention_runs,
    self_queries,
    travel_summaries,
)

RULE = "DSL-30"
INTERVAL = "1y"  # DSL-30: yearly under the 2024 network data regulations [P]
FORMAT = "zhengxin.risk-assessment/1"
GRADES = ("general", "important", "core")
FIRST_YEAR = 2021  # the Data Security Law took effect on 1 September 2021

STORES = {
    "accounts": account_snapshots,
    "consumption": consumption_summaries,
    "travel": travel_summaries,
    "generic": generic_records,
}

# Processing activities: what the agency does with personal data, on what basis, under which rules.
ACTIVITIES = [
    {
        "id": "intake",
        "name": "Furnishing intake: parse, validate, minimise, classify and store furnished records",
        "basis": "the person's prior written consent held by the furnisher (consent_ref)",
        "rules": ["CM-7", "CR-13", "CR-14a", "CR-14b", "CR-15", "CR-29", "PIPL-29", "BDL-1"],
        "module": "zhengxin.furnishing",
    },
    {
        "id": "inquiry",
        "name": "Lender inquiries: reports and scores under the person's authorization",
        "basis": "the person's written authorization with an agreed purpose",
        "rules": ["CR-18", "CR-22", "PIPL-23", "PIPL-24", "RPT-2", "FEE-1"],
        "module": "zhengxin.inquiries",
    },
    {
        "id": "self_query",
        "name": "Self-queries: the person's own report",
        "basis": "the person's right of access",
        "rules": ["CR-17", "PIPL-45"],
        "module": "zhengxin.rights",
    },
    {
        "id": "disputes",
        "name": "Objections, corrections and personal statements",
        "basis": "legal duty",
        "rules": ["CR-25", "CR-16", "PIPL-46"],
        "module": "zhengxin.disputes",
    },
    {
        "id": "retention",
        "name": "Retention: erasing what is past its period",
        "basis": "legal duty",
        "rules": ["CR-16", "PIPL-47"],
        "module": "zhengxin.flows.retention",
    },
    {
        "id": "export",
        "name": "Copies and portability: the person's export of their data",
        "basis": "the person's right of access and portability",
        "rules": ["PIPL-45"],
        "module": "zhengxin.rights",
    },
    {
        "id": "transfer",
        "name": "Cross-border transfer requests and their gate",
        "basis": "the person's separate consent and a transfer route; never for credit data",
        "rules": ["PIPL-38/39", "CR-24 / XB-CREDIT", "XB-CORE", "XB-ASSESS", "XB-SC", "XB-SPLIT", "DSL-31"],
        "module": "zhengxin.transfers",
    },
]

# The risks considered every year and what the code does about each.
RISKS = [
    {
        "id": "R1",
        "risk": "Theft or leak of the database exposes who the persons are",
        "rules": ["PIPL-57", "PIPL-28"],
        "countermeasures": [
            (
                "Names, resident IDs and phone numbers are kept only in the vault, AES-256-GCM encrypted with "
                "rotatable key ids; free texts (dispute reasons, orders) are sealed the same way",
                "zhengxin.identity.vault",
            ),
            (
                "Records, inquiries and log leaves know persons only by an HMAC-SHA256 person token",
                "zhengxin.identity.tokens",
            ),
            (
                "Vault keys rotate: vault entries, quarantined records and sealed texts are re-encrypted under the "
                "new key in one transaction",
                "zhengxin.flows.rotation",
            ),
        ],
    },
    {
        "id": "R2",
        "risk": "A lender queries without a valid authorization or beyond its purpose",
        "rules": ["CR-18", "CM-4", "PIPL-14"],
        "countermeasures": [
            (
                "Every allow or deny on personal data is a Cedar policy decision naming the rules that fired, "
                "kept with the policy revision",
                "zhengxin.policy",
            ),
            ("Decisions are recorded and enforced in the request's unit of work", "zhengxin.decisions"),
            ("Signed authorizations with purpose, scope, expiry, fair-use limits and revocation", "zhengxin.consent"),
        ],
    },
    {
        "id": "R3",
        "risk": "Access or changes go unrecorded, or records of access are altered afterwards",
        "rules": ["CR-22", "PIPL-58"],
        "countermeasures": [
            (
                "Every access, consent change, dispute, export and supervision act is appended to an RFC 6962 "
                "transparency log with signed tree heads, inclusion and consistency proofs",
                "zhengxin.audit",
            ),
            (
                "Independent witnesses cosign tree heads; `zhengxin log verify` recomputes the tree",
                "zhengxin.audit.witness",
            ),
        ],
    },
    {
        "id": "R4",
        "risk": "Data is kept after its retention period",
        "rules": ["CR-16", "PIPL-47"],
        "countermeasures": [
            (
                "A daily retention job erases negative information 5 years after it ends, and other records and "
                "vault entries after their catalog periods, logging each run",
                "zhengxin.flows.retention",
            ),
        ],
    },
    {
        "id": "R5",
        "risk": "Personal or credit data leaves the country without a lawful route",
        "rules": ["CR-24 / XB-CREDIT", "XB-ASSESS", "XB-SC", "DSL-31", "DSL-46"],
        "countermeasures": [
            (
                "Transfer requests pass a gate that counts persons cumulatively and picks the route "
                "(denied, security assessment, standard contract, exempt); credit data never takes the exemptions",
                "zhengxin.transfers",
            ),
        ],
    },
    {
        "id": "R6",
        "risk": "Agency staff read persons' data without need",
        "rules": ["CR-22"],
        "countermeasures": [
            (
                "Staff read a person's data only under a personal staff account and a stated purpose; each read "
                "is a policy decision logged with both",
                "zhengxin.decisions.service",
            ),
        ],
    },
    {
        "id": "R7",
        "risk": "Prohibited or unnecessary data is collected",
        "rules": ["CR-14a", "CR-14b", "CM-7"],
        "countermeasures": [
            (
                "Intake accepts only catalog fields, rejects prohibited categories and holds written-consent-only "
                "fields to their consent; rejected records are quarantined encrypted",
                "zhengxin.furnishing.validation",
            ),
            ("The catalog grades every field and flags PI and sensitive PI", "zhengxin.catalog"),
        ],
    },
    {
        "id": "R8",
        "risk": "Inaccurate records harm persons' access to credit",
        "rules": ["CR-25", "PIPL-46"],
        "countermeasures": [
            (
                "Objections flag the record in every report at once, run on a 20-day clock with escalation, and "
                "corrections are noticed to the lenders that received the old record",
                "zhengxin.disputes",
            ),
        ],
    },
]


def build(conn: Connection, runtime, year: int) -> dict:
    """The DSL-30 risk assessment for `year` (volumes within the year; holdings as of now)."""
    today = clock.today()
    if not FIRST_YEAR <= year <= today.year:
        raise Problem(422, "invalid_year", f"the year must be between {FIRST_YEAR} and {today.year}", rule=RULE)
    start = datetime.combine(date(year, 1, 1), time.min, UTC)
    end = datetime.combine(date(year + 1, 1, 1), time.min, UTC)
    catalog = runtime.catalog
    data = [_record_type(conn, catalog, name) for name in catalog.record_types]
    vault_persons = _count(conn, select(func.count()).select_from(pii_vault))
    identifiers = {
        "description": "Identifiers of the persons furnished (resident ID, name, phone)",
        "fields": {n: _field(f) for n, f in catalog.common.fields.items() if f.pi},
        "grade": _highest(f.grade for f in catalog.common.fields.values()),
        "sensitive": any(f.sensitive for f in catalog.common.fields.values()),
        "stored_in": "pii_vault (AES-256-GCM, keyed by person token)",
        "persons": vault_persons,
        "vault_keys": len(runtime.settings.vault_keys),
        "active_key_id": runtime.settings.vault_active_key,
    }
    roles = dict(conn.execute(select(parties.c.role, func.count()).where(parties.c.active.is_(True))
                              .group_by(parties.c.role)).all())  # fmt: skip
    in_year = _volumes(conn, start, end)
    grades = {d["grade"] for d in data} | {identifiers["grade"]}
    return {
        "format": FORMAT,
        "title": f"Data security risk assessment {year}",
        "rule": RULE,
        "interval": INTERVAL,
        "year": year,
        "period": {"from": start.date(), "to": date(year, 12, 31)},
        "agency": runtime.settings.agency_name,
        "generated_at": clock.now(),
        "catalog": {"version": catalog.version, "digest": catalog.digest},
        "important_data": bool(grades & {"important", "core"}),
        "core_data": "core" in grades,
        "data": {"identifiers": identifiers, "record_types": data},
        "holdings": {
            "persons_in_vault": vault_persons,
            "persons_with_records": _persons_with_records(conn),
            "parties": {role: int(roles.get(role, 0)) for role in ROLES},
        },
        "volumes": in_year,
        "processing_activities": [_activity(a, in_year) for a in ACTIVITIES],
        "controls": _controls(conn, start, end),
        "risks": [
            {
                "id": r["id"],
                "risk": r["risk"],
                "rules": r["rules"],
                "countermeasures": [
                    {"measure": measure, "module": module, "in_place": _present(module)}
                    for measure, module in r["countermeasures"]
                ],
            }
            for r in RISKS
        ],
    }


def _record_type(conn: Connection, catalog, name: str) -> dict:
    rt = catalog.record_types[name]
    fields = rt.fields
    store = STORES[rt.store]
    where = [store.c.record_type == name] if rt.store == "generic" else []
    rows = _count(conn, select(func.count()).select_from(store).where(*where))
    persons = _count(conn, select(func.count(distinct(store.c.person_token))).where(*where))
    out = {
        "record_type": name,
        "description": rt.description,
        "grade": _highest(f.grade for f in fields.values()),
        "pi": any(f.pi for f in fields.values()),
        "sensitive": rt.separate_consent or any(f.sensitive for f in fields.values()),
        "separate_consent": rt.separate_consent,
        "pi_fields": sorted(n for n, f in fields.items() if f.pi),
        "sensitive_fields": sorted(n for n, f in fields.items() if f.sensitive),
        "written_consent_fields": sorted(n for n, f in fields.items() if f.written_consent),
        "purposes": list(rt.purposes),
        "retention": rt.retention,
        "retention_months": rt.retention_months,
        "store": store.name,
        "rows": rows,
        "persons": persons,
    }
    if rt.store == "accounts":
        accounts = select(account_snapshots.c.furnisher_id, account_snapshots.c.account_id).distinct().subquery()
        out["accounts"] = _count(conn, select(func.count()).select_from(accounts))
    return out


def _persons_with_records(conn: Connection) -> int:
    tokens = union(*(select(t.c.person_token) for t in STORES.values())).subquery()
    return _count(conn, select(func.count()).select_from(tokens))


def _volumes(conn: Connection, start: datetime, end: datetime) -> dict:
    def within(col):
        return (col >= start) & (col < end)

    intake = conn.execute(
        select(func.count(), func.coalesce(func.sum(batches.c.accepted), 0),
               func.coalesce(func.sum(batches.c.rejected), 0))
        .where(within(batches.c.created_at))
    ).one()  # fmt: skip
    by_product = dict(conn.execute(
        select(inquiries.c.product, func.count()).where(within(inquiries.c.created_at)).group_by(inquiries.c.product)
    ).all())  # fmt: skip
    runs = conn.execute(select(retention_runs.c.erased).where(within(retention_runs.c.started_at))).scalars().all()
    erased: dict[str, int] = {}
    for run in runs:
        for kind, n in (run or {}).items():
            erased[kind] = erased.get(kind, 0) + int(n)
    return {
        "intake": {"batches": int(intake[0]), "records_accepted": int(intake[1]), "records_rejected": int(intake[2])},
        "inquiry": {"inquiries": sum(by_product.values()), "by_product": {k: int(v) for k, v in by_product.items()}},
        "self_query": {
            "self_queries": _count(conn, select(func.count()).where(within(self_queries.c.created_at))),
        },
        "disputes": {
            "opened": _count(conn, select(func.count()).where(within(disputes.c.opened_at))),
            "closed": _count(conn, select(func.count()).where(within(disputes.c.closed_at))),
        },
        "retention": {"runs": len(runs), "erased": erased},
        # Exports keep no table of their own: counted from the log (events sequenced so far).
        "export": {
            "exports": _count(
                conn, select(func.count()).where(log_leaves.c.kind == "rights.export", within(log_leaves.c.created_at))
            )
        },
        "transfer": _transfers(conn, start, end),
    }


def _transfers(conn: Connection, start: datetime, end: datetime) -> dict | None:
    """The year's transfer requests by route and status, if this deployment has the transfers
    feature (its table is looked up, not assumed)."""
    if not inspect(conn).has_table("transfers"):
        return None
    transfers = Table("transfers", MetaData(), autoload_with=conn)  # reflected: built by another feature
    where = []
    if "created_at" in transfers.c:
        where = [transfers.c.created_at >= start, transfers.c.created_at < end]
    out: dict = {"requests": _count(conn, select(func.count()).select_from(transfers).where(*where))}
    if "persons" in transfers.c:
        out["persons"] = _count(conn, select(func.coalesce(func.sum(transfers.c.persons), 0)).where(*where))
    for dimension in ("route", "status"):
        if dimension in transfers.c:
            col = transfers.c[dimension]
            out[f"by_{dimension}"] = {
                str(k): int(v) for k, v in conn.execute(select(col, func.count()).where(*where).group_by(col))
            }
    return out


def _controls(conn: Connection, start: datetime, end: datetime) -> dict:
    """Evidence that the countermeasures ran this year."""
    in_year = (policy_decisions.c.created_at >= start) & (policy_decisions.c.created_at < end)
    decided = conn.execute(
        select(policy_decisions.c.allowed, func.count()).where(in_year).group_by(policy_decisions.c.allowed)
    ).all()
    counts = {bool(a): int(n) for a, n in decided}
    return {
        "policy_decisions": {"allowed": counts.get(True, 0), "denied": counts.get(False, 0)},
        "staff_reads": _count(
            conn,
            select(func.count()).where(
                in_year, policy_decisions.c.action == "staff_read", policy_decisions.c.allowed.is_(True)
            ),
        ),  # fmt: skip
        "transparency_log": {
            "tree_size": _count(conn, select(func.coalesce(func.max(log_state.c.tree_size), 0))),
            "signed_heads": _count(conn, select(func.count()).select_from(log_heads)),
        },
    }


def _activity(activity: dict, volumes: dict) -> dict:
    return {**activity, "in_place": _present(activity["module"]), "volume": volumes.get(activity["id"])}


def _field(spec) -> dict:
    return {"grade": spec.grade, "pi": spec.pi, "sensitive": spec.sensitive}


def _highest(grades) -> str:
    return max(grades, key=GRADES.index, default="general")


def _count(conn: Connection, query) -> int:
    return int(conn.execute(query).scalar_one() or 0)


def _present(module: str) -> bool:
    """Whether this build has the module a countermeasure names (claims nothing it lacks)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
