"""`zhengxin demo`: a whole embedded deployment built through the real paths.

Parties are registered with the parties service and every record reaches the store through
furnishing intake, exactly as a furnisher's upload would; credentials.json then lets a
person (or a test) act as any party.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import polars as pl
from rich.progress import Progress

from zhengxin.deployment import ensure_secrets, init_deployment
from zhengxin.furnishing.service import add_obligation
from zhengxin.kit import clock
from zhengxin.parties.service import Actor, add_party
from zhengxin.runtime import Runtime
from zhengxin.synth import LENDERS, PLATFORMS, PUBLIC_RECORDS, Population, generate, write_files

# Formats rotate over the platforms so the demo exercises all three intake parsers.
PLATFORM_FORMATS = ["csv", "parquet", "jsonl", "csv", "parquet"]
DEMO_INDIVIDUALS = 12
WEEKS = 3  # weekly loan files in the demo's furnishing history ...
HISTORY_DAYS = 21  # ... which starts this many days before the demo is built


def build_demo(
    data_dir: Path,
    *,
    persons: int,
    seed: int = 0,
    progress: Progress | None = None,
    database_url: str | None = None,
    population: Population | None = None,
    first_individuals: list[str] = (),
    train_model: bool = True,
) -> dict:
    """The demo in DIR; its database is DIR's SQLite file unless `database_url` names another
    (the browser tests build the same deployment on PostgreSQL). Secrets stay in DIR. A
    federation's agency is given its share of a population, and the persons both agencies
    hold come first among its individuals (demo_federation.py)."""
    ensure_secrets(data_dir)
    settings = init_deployment(data_dir, database_url)
    runtime = Runtime(settings)
    credentials: list[dict] = []

    def register(role: str, name: str, **extra) -> dict:
        with runtime.transaction() as conn:
            row, key = add_party(conn, settings, role=role, name=name, **extra)
        entry = {"role": role, "name": name, "api_key": key}
        if extra.get("person_id"):
            entry["person_id"] = extra["person_id"]
        credentials.append(entry)
        return row

    with clock.frozen_at(_instant(clock.today() - timedelta(days=HISTORY_DAYS))):  # before the furnishing history
        agency, desk, platform_rows, lender_rows, regulator, witnesses = _organisations(register)

    actor = Actor(party_id=regulator["id"], role="regulator", name=regulator["name"])
    population = population or generate(persons, seed=seed)
    totals, population = _furnish_all(runtime, actor, population, platform_rows, data_dir / "synth", progress)

    # Individuals who have furnished loans, each with their own credential; the last three are
    # named differently at their bank, have a public record, and guarantee another's loan.
    borrowers = _demo_borrowers(population, first_individuals)
    # Account names are pseudonyms: a party name is not a place for a real name.
    individuals = [
        (register("individual", f"demo-person-{n:02d}", person_id=person_id), person_id)
        for n, person_id in enumerate(borrowers["person_id"].to_list(), start=1)
    ]
    model_version = _train_and_activate(runtime, population, data_dir / "model") if train_model else None
    inquiries = _authorize_and_inquire(
        runtime, population, agency, individuals, lender_rows, scores=bool(model_version)
    )
    rights = _exercise_rights(runtime, population, desk, individuals, platform_rows)

    supervised = _supervise(runtime, data_dir, agency, regulator, platform_rows, lender_rows)

    _sign_and_witness(runtime, data_dir, witnesses)

    path = data_dir / "credentials.json"
    path.write_text(json.dumps(credentials, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    runtime.engine.dispose()
    return {
        "parties": len(credentials),
        "persons": persons,
        "records received": totals["received"],
        "records accepted": totals["accepted"],
        "records rejected": totals["rejected"],
        "live scoring model": model_version or "none (install the scoring extra to train one)",
        **inquiries,
        **rights,
        **supervised,
    }


def _furnish_all(runtime: Runtime, regulator: Actor, population, platforms: list[dict], synth_dir: Path,
                 progress) -> tuple[dict, object]:  # fmt: skip
    """Everything furnished through intake: the platforms' weekly history, one platform's
    flawed corrections (the mistakes intake exists to catch), the banks' and the courts' files.
    Returns the intake totals and the population as the bureau holds it."""
    from zhengxin.furnishing.flows import furnish_file

    write_files(population, synth_dir, sorted(set(PLATFORM_FORMATS)))
    totals, delivered = _furnish_weekly(runtime, regulator, population, platforms, synth_dir / "weeks", progress)
    bad = _flawed_records(population, synth_dir / PLATFORMS[0].slug / "corrections.jsonl")
    batch = furnish_file(runtime, PLATFORMS[0].name, bad, progress=progress)
    for k in totals:
        totals[k] += batch[k]
    _furnish_once(runtime, [*LENDERS, PUBLIC_RECORDS], synth_dir, totals, progress)
    return totals, delivered


def _organisations(register):
    """The agency and its disputes desk, the platforms and the public-records service, the lenders,
    the regulator and the two overseers (the regulator and the overseers witness the log)."""
    agency = register("agency", "zhengxin Credit Reference (demo agency)")
    desk = register("agency", "Wang Fang, disputes desk (demo staff)", staff=True)
    platform_rows = [register("furnisher", p.name, uscc=p.uscc) for p in PLATFORMS]
    register("furnisher", PUBLIC_RECORDS.name, uscc=PUBLIC_RECORDS.uscc)  # courts' and tax offices' cases
    lender_rows = [register("lender", lender.name, uscc=lender.uscc) for lender in LENDERS]
    regulator = register("regulator", "People's Bank of China, Credit Reference Bureau (demo)")
    overseers = [register("overseer", f"Independent Oversight Board member {m} (demo)") for m in "AB"]
    return agency, desk, platform_rows, lender_rows, regulator, [regulator, *overseers]


def _furnish_weekly(
    runtime: Runtime, regulator: Actor, population, platforms: list[dict], out: Path, progress: Progress | None
) -> tuple[dict, object]:
    """Three weeks of furnishing history under a weekly loan obligation the regulator set 20 days
    ago (due 15, 8 and 1 days ago, and in 6 days), so the supervision dashboard shows true
    verdicts on first look. Each platform's loans arrive in three weekly files (its spending and
    travel records with the first), two days before each due day; but the third platform never
    sends its third file (missing) and the fourth sends it today, after the due day (late). Each
    delivery goes through the real intake path at its own past instant. Returns the intake
    totals and the population as the bureau holds it (without the loans never delivered)."""
    from zhengxin.furnishing.flows import furnish_file

    today = clock.today()
    with clock.frozen_at(_instant(today - timedelta(days=HISTORY_DAYS - 1))), runtime.transaction() as conn:
        for row in platforms:
            add_obligation(conn, regulator, furnisher_id=row["id"], record_types=["loan"], frequency="weekly",
                           first_due_on=today - timedelta(days=15), note="Weekly loan status file (demo)",
                           catalog=runtime.catalog)  # fmt: skip
    week = pl.int_range(pl.len()).over("furnisher") % WEEKS
    loans = population.loans.with_columns(week.alias("week"))
    missing, late = PLATFORMS[2].slug, PLATFORMS[3].slug
    withheld = (pl.col("week") == WEEKS - 1) & (pl.col("furnisher") == missing)
    totals = {"received": 0, "accepted": 0, "rejected": 0}
    for k in range(WEEKS):
        first = k == 0
        week_loans = loans.filter((pl.col("week") == k) & ~withheld).drop("week")
        consumption, travel = (population.consumption, population.travel) if first else (
            population.consumption.clear(), population.travel.clear())  # fmt: skip
        part = Population(population.persons, week_loans, consumption, travel)
        folder = out / f"week-{k + 1}"
        write_files(part, folder, sorted(set(PLATFORM_FORMATS)))
        for platform, fmt in zip(PLATFORMS, PLATFORM_FORMATS, strict=True):
            sent_on = today if (platform.slug == late and k == WEEKS - 1) else today - timedelta(days=17 - 7 * k)
            with clock.frozen_at(_instant(sent_on)):
                for path in sorted((folder / platform.slug).glob(f"*.{fmt}")):
                    batch = furnish_file(runtime, platform.name, path, progress=progress)
                    for key in totals:
                        totals[key] += batch[key]
    kept = loans.filter(~withheld).drop("week")
    return totals, dataclasses.replace(population, loans=kept)


def _furnish_once(runtime: Runtime, organisations, synth_dir: Path, totals: dict, progress) -> None:
    """The banks furnish their cards, loans and guarantees, and the public-records service its
    cases, each in one batch a record type (Parquet)."""
    from zhengxin.furnishing.flows import furnish_file

    for org in organisations:
        for path in sorted((synth_dir / org.slug).glob("*.parquet")):
            batch = furnish_file(runtime, org.name, path, progress=progress)
            for k in totals:
                totals[k] += batch[k]


def _demo_borrowers(population: Population, first: list[str] = ()) -> pl.DataFrame:
    """The first persons with a platform loan (those of `first` it holds before the rest), and
    last one each whom a bank names differently, who has an open public record, and who
    guarantees another's loan: what a demo report shows."""
    named = population.bank_accounts.join(population.persons.select("person_id", pl.col("name").alias("own")),
                                          on="person_id").filter(pl.col("name") != pl.col("own"))  # fmt: skip
    listed = population.public_records.filter(pl.col("status") == "open")
    guarantors = population.liabilities.filter(pl.col("status") == "active")
    shown: list[str] = []
    for frame in (named, listed, guarantors):
        shown += frame.filter(~pl.col("person_id").is_in(shown))["person_id"].head(1).to_list()
    borrowers = population.loans.filter(~pl.col("person_id").is_in(shown))["person_id"].unique(maintain_order=True)
    held = set(borrowers.to_list())
    preferred = [p for p in first if p in held]
    borrowers = pl.Series(preferred + [p for p in borrowers.to_list() if p not in set(preferred)])
    return pl.DataFrame({"person_id": borrowers.head(DEMO_INDIVIDUALS - len(shown)).to_list() + shown})


def _instant(day) -> datetime:
    """10:00 in Beijing on `day`, in UTC."""
    return datetime.combine(day, time(2, 0), UTC)


def _train_and_activate(runtime: Runtime, population, out: Path) -> str | None:
    """A scorecard trained on the population's observed outcomes, its card written beside the
    database, registered and made live (what `zhengxin model train --dir … --activate` does).
    Training needs the `scoring` extra; without it the demo runs with no live model."""
    import importlib.util

    if importlib.util.find_spec("optbinning") is None:
        return None
    from zhengxin.reports.scoring import service as scoring
    from zhengxin.reports.scoring.features import from_population
    from zhengxin.reports.scoring.model import train, write_card
    from zhengxin.reports.scoring.monitoring import monitor

    as_of = population.loans["as_of"].max()
    frame = from_population(population, as_of)
    model, card = train(frame, "default_next_12m", source={"file": "the demo's synthetic population"})
    write_card(model, card, out)
    # The population the bureau holds, monitored against the training sample (`model monitor`).
    months = monitor(model, card, frame.with_columns(month=pl.lit(f"{as_of:%Y-%m}")), month="month")
    with runtime.transaction() as conn:
        scoring.register(conn, model, card, now=clock.now())
        scoring.activate(conn, model["version"], now=clock.now())
        digest = hashlib.sha256(frame.write_csv().encode()).hexdigest()
        scoring.record_monitoring(conn, model["version"], months, data_sha256=digest, now=clock.now())
    return model["version"]


def _authorize_and_inquire(
    runtime: Runtime, population, agency: dict, individuals: list[tuple[dict, str]], lenders: list[dict], *,
    scores: bool,
) -> dict:  # fmt: skip
    """Each demo person authorizes a lender and the lender queries their report and score,
    through the same services as the API; a person with an open co-lent loan also allows post-loan monitoring;
    one person revokes, and the lender's next query is denied (and charged nothing)."""
    from zhengxin.billing.service import set_tier
    from zhengxin.consent.service import FEDERATION_SCOPE, grant, revoke
    from zhengxin.federation.pseudonyms import enabled
    from zhengxin.inquiries.flows import inquire
    from zhengxin.kit.errors import Problem

    # A federation's agency asks the other members too, as each person authorizes it.
    beyond = [FEDERATION_SCOPE] if enabled(runtime.settings) else []

    def act(party: dict) -> Actor:
        return Actor(party["id"], party["role"], party["name"], party.get("person_token"))

    with runtime.transaction() as conn:  # the rural bank pays the smaller lenders' price (FEE-1)
        set_tier(conn, runtime.settings, act(agency), lenders[2]["id"], "small")
    counts = {"authorizations": 0, "inquiries allowed": 0, "inquiries denied": 0, "scores sold": 0,
              "fees charged (fen)": 0}  # fmt: skip
    by_uscc = {lender["uscc"]: lender for lender in lenders}
    open_loans = population.loans.filter(pl.col("status").is_in(["current", "overdue"]))

    def query(lender: dict, person_id: str, authorization: dict, purpose: str, product: str = "report") -> None:
        try:
            with runtime.transaction() as conn:
                result = inquire(conn, runtime, act(lender), person_id=person_id, authorization_id=authorization["id"],
                                 purpose=purpose, product=product)  # fmt: skip
            counts["inquiries allowed"] += 1
            counts["scores sold"] += product == "score"
            counts["fees charged (fen)"] += result.inquiry["fee_fen"]
        except Problem:
            counts["inquiries denied"] += 1

    for n, (person, person_id) in enumerate(individuals):
        lender = lenders[n % len(lenders)]
        with runtime.transaction() as conn:
            authorization = grant(conn, runtime, act(person), lender=lender["name"], purpose="loan_application",
                                  scopes=["loan", "consumption", "liability", "public_record", *beyond])  # fmt: skip
        counts["authorizations"] += 1
        query(lender, person_id, authorization, "loan_application")
        if scores:
            query(lender, person_id, authorization, "loan_application", "score")
        colent = open_loans.filter((pl.col("person_id") == person_id) & pl.col("co_lender_uscc").is_not_null())
        if colent.height:
            bank = by_uscc[colent["co_lender_uscc"][0]]
            with runtime.transaction() as conn:
                monitoring = grant(conn, runtime, act(person), lender=bank["name"], purpose="post_loan_management",
                                   scopes=["loan"], expires_on=clock.today() + timedelta(days=365))  # fmt: skip
            counts["authorizations"] += 1
            query(bank, person_id, monitoring, "post_loan_management")
        if n == 0:  # the first person withdraws consent; the lender's next query is refused (PIPL-15)
            with runtime.transaction() as conn:
                revoke(conn, runtime, act(person), authorization["id"])
            query(lender, person_id, authorization, "loan_application")
    return counts


def _exercise_rights(
    runtime: Runtime, population, desk: dict, individuals: list[tuple[dict, str]], platforms: list[dict]
) -> dict:
    """Persons use their rights through the same services as the API: two look at their own
    report, one objects to an account that the platform verifies and the disputes desk closes,
    another objects and waits (their reports show it under dispute) and adds a statement."""
    from zhengxin.disputes import service as disputes
    from zhengxin.rights.service import self_query

    def act(party: dict) -> Actor:
        return Actor(party["id"], party["role"], party["name"], party.get("person_token"), party.get("staff", False))

    by_slug = {p.slug: row for p, row in zip(PLATFORMS, platforms, strict=True)}
    first_account = {}
    for row in population.loans.select("person_id", "account_id", "furnisher").iter_rows(named=True):
        first_account.setdefault(row["person_id"], row)
    (verified_person, verified_id), (waiting_person, waiting_id) = individuals[1], individuals[2]
    with runtime.transaction() as conn:
        for person, _ in individuals[:2]:
            self_query(conn, runtime, act(person))
        account = first_account[verified_id]
        platform = by_slug[account["furnisher"]]
        dispute = disputes.open_dispute(conn, runtime, act(verified_person), account_id=account["account_id"],
                                        reason="I do not recognise this balance")  # fmt: skip
        disputes.answer(
            conn,
            runtime,
            act(platform),
            dispute["id"],
            action="verification",
            evidence_ref="LEDGER-EXTRACT-2026-10",
            note="Loan contract and repayment ledger on file",
        )
        disputes.read(conn, runtime, act(desk), dispute["id"], "dispute_handling")
        disputes.decide(
            conn,
            runtime,
            act(desk),
            dispute["id"],
            outcome="verified",
            note="The platform's ledger shows the balance as reported; the record stands.",
        )
        account = first_account[waiting_id]
        disputes.open_dispute(conn, runtime, act(waiting_person), account_id=account["account_id"],
                              reason="This loan was repaid in full last month")  # fmt: skip
        disputes.add_statement(conn, runtime, act(waiting_person), account_id=account["account_id"],
                               text="Repaid in full; awaiting the platform's correction.")  # fmt: skip
    return {"self-queries": 2, "disputes": 2}


def _supervise(
    runtime: Runtime, data_dir: Path, agency: dict, regulator: dict, platforms: list[dict], lenders: list[dict]
) -> dict:
    """The regulator's side: a lender holds a stake in the agency (neutrality register), an
    app review finds excessive collection, a rectification order goes to a platform, a platform
    asks to send data abroad and waits for the regulator, and a supervision run (lake export and
    the Ibis views on DuckDB) fills the regulator's views."""
    from zhengxin.analytics.flows import run_supervision
    from zhengxin.supervision import service as supervision
    from zhengxin.transfers import service as transfers

    def act(party: dict) -> Actor:
        return Actor(party["id"], party["role"], party["name"])

    with runtime.transaction() as conn:
        supervision.add_shareholder(conn, act(agency), holder=lenders[0]["name"], party=lenders[0]["name"],
                                    stake_bp=1500)  # fmt: skip
        review = supervision.review_app(
            conn, runtime, act(regulator), app=f"{platforms[1]['name']} app", category="online_lending",
            collected=["phone_number", "name", "id_type", "id_number", "id_validity", "id_copy",
                       "bank_card_number", "contact_list", "call_log"],
        )  # fmt: skip
        supervision.issue_order(
            conn, runtime, act(regulator), furnisher=platforms[1]["name"], kind="rectification",
            reason="Stop collecting contact lists and call logs in the lending app (app review "
                   f"{review['id']}).", due_on=review["rectify_by"], rule="APP-NPI",
        )  # fmt: skip
        transfer = transfers.request(
            conn, runtime, act(platforms[0]), destination="SG", recipient="Regional risk analytics partner (demo)",
            record_types=["consumption"], persons=120_000, sensitive_persons=0, data_grade="general",
            separate_consent=True,
        )  # fmt: skip
    run = run_supervision(runtime, data_dir / "lake", backend="duckdb")
    return {"app reviews": 1, "orders": 1, f"transfer request ({transfer['route']})": transfer["status"],
            "supervision run": run["id"]}  # fmt: skip


def _flawed_records(population, path: Path) -> Path:
    """A few realistic furnishing mistakes, each caught with its own code."""
    good = population.loans.filter(pl.col("furnisher") == PLATFORMS[0].slug).drop("furnisher").head(6)
    rows = [{k: v for k, v in r.items() if v is not None} for r in good.iter_rows(named=True)]
    for r in rows:
        r["as_of"] = str(r["as_of"])
        r["opened_on"] = str(r["opened_on"])
        r.pop("closed_on", None)
    rows[0]["person_id"] = rows[0]["person_id"][:-1] + ("0" if rows[0]["person_id"][-1] != "0" else "1")
    rows[1]["blood_type"] = "AB"  # CR-14a
    del rows[2]["consent_ref"]  # CR-29
    rows[3]["product"] = "payday_loan"
    rows[4]["payment_history"] = "NNNN"
    rows[5]["monthly_income"] = 1_200_000  # CR-14b
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _sign_and_witness(runtime: Runtime, data_dir: Path, witnesses: list[dict]) -> None:
    """Sign a tree head and have the regulator and both overseers cosign it, each with a
    witness key kept in DIR/witnesses/ (what `zhengxin log witness` does over HTTP)."""
    import os

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from zhengxin.audit import service as audit
    from zhengxin.audit.verify import cosign_message
    from zhengxin.audit.witness import public_key_hex

    folder = data_dir / "witnesses"
    folder.mkdir(exist_ok=True)
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        head = audit.sign_head(conn, audit.log_signer(runtime))
        for party in witnesses:
            seed = os.urandom(32)
            key_path = folder / f"{party['id']}.key"
            key_path.write_text(seed.hex())
            key_path.chmod(0o600)
            key = Ed25519PrivateKey.from_private_bytes(seed)
            actor = Actor(party_id=party["id"], role=party["role"], name=party["name"])
            audit.register_witness_key(conn, actor, public_key_hex(key))
            body = {k: head[k] for k in ("tree_size", "timestamp", "root_hash")}
            audit.cosign(conn, actor, body, key.sign(cosign_message(body)).hex())
