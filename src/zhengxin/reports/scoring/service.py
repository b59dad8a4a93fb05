"""The model registry and scoring a person: register a trained scorecard (content-addressed,
immutable), make one version live, score with the live one and keep every score with the
model version and the inputs behind it, so a score can be explained later (CM-3, PIPL-24).
Like every service here, it never commits: the caller's unit of work does."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, delete, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.kit.db import Read, read, write
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.reports.model import Score, ScoreReason
from zhengxin.reports.scoring.features import of_rows
from zhengxin.reports.scoring.model import MODEL_FORMAT, score
from zhengxin.reports.scoring.tables import scores, scoring_models, scoring_monitoring
from zhengxin.reports.service import Assembled

REVIEW = (
    "A score is one input to a lender's decision, never the decision alone. You may ask the agency to have a "
    "person review it (a rights request citing the score id), and object to any record behind it "
    "(POST /v1/me/disputes) (PIPL-24, CR-25)."
)

# A registered version never changes, so its parsed table can be kept for the process's life.
_parsed: dict[str, dict] = {}


@dataclass(frozen=True)
class Scored:
    id: str
    model_version: str
    score: int | None  # none: no loan account to score
    reasons: list[dict]
    features: dict
    inputs: list[str]  # record types the features read


def model_digest(model: dict) -> str:
    """The sha256 the version names: of the points table without its version."""
    body = {k: v for k, v in model.items() if k != "version"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def register(conn: Connection, model: dict, card: dict, *, now: datetime) -> dict:
    """Add a trained model and its card. The content must match the digest its version and card
    name (a model edited after training is refused); registering the same model again is a no-op."""
    if model.get("format") != MODEL_FORMAT or not model.get("features") or not model.get("version"):
        raise Problem(422, "invalid_model", f"not a {MODEL_FORMAT} model")
    digest = model_digest(model)
    if (
        card.get("model_sha256") != digest
        or not model["version"].endswith(digest[:8])
        or card.get("version") != (model["version"])
    ):
        raise Problem(422, "model_digest_mismatch", "the model's content does not match its version and card")
    existing = conn.execute(
        select(scoring_models.c.model_sha256).where(scoring_models.c.version == model["version"])
    ).scalar()
    if existing is None:
        conn.execute(
            insert(scoring_models).values(
                version=model["version"], model=json.dumps(model, sort_keys=True), model_sha256=digest, card=card,
                active=False, registered_at=now,
            )
        )  # fmt: skip
        audit.enqueue(conn, [audit.event("model.registered", None, version=model["version"], sha256=digest)])
    return get(conn, model["version"])


def activate(conn: Connection, version: str, *, now: datetime) -> dict:
    """Make `version` the live model; the one live before is retired (kept, never deleted:
    every score names the version that produced it)."""
    if get(conn, version) is None:
        raise Problem(404, "model_not_found", f"no registered model {version!r}")
    live = conn.execute(select(scoring_models.c.version).where(scoring_models.c.active)).scalar()
    if live != version:
        if live is not None:
            conn.execute(
                update(scoring_models).where(scoring_models.c.version == live).values(active=False, retired_at=now)
            )
        conn.execute(
            update(scoring_models)
            .where(scoring_models.c.version == version)
            .values(active=True, activated_at=now, retired_at=None)
        )
        audit.enqueue(conn, [audit.event("model.activated", None, version=version, replaced=live)])
    return get(conn, version)


def deactivate(conn: Connection, *, now: datetime) -> str | None:
    """Take the live model down: the score product is unavailable until another is activated."""
    live = conn.execute(select(scoring_models.c.version).where(scoring_models.c.active)).scalar()
    if live is not None:
        conn.execute(
            update(scoring_models).where(scoring_models.c.version == live).values(active=False, retired_at=now)
        )
        audit.enqueue(conn, [audit.event("model.deactivated", None, version=live)])
    return live


_SUMMARY = (
    scoring_models.c.version, scoring_models.c.model_sha256, scoring_models.c.active, scoring_models.c.registered_at,
    scoring_models.c.activated_at, scoring_models.c.retired_at, scoring_models.c.card,
)  # fmt: skip


def get(conn: Connection, version: str) -> dict | None:
    row = conn.execute(select(*_SUMMARY).where(scoring_models.c.version == version)).mappings().first()
    return None if row is None else _summary(row)


def list_models(conn: Connection) -> list[dict]:
    rows = conn.execute(select(*_SUMMARY).order_by(scoring_models.c.registered_at.desc())).mappings().all()
    return [_summary(r) for r in rows]


def _summary(row) -> dict:
    card = row["card"]
    return {
        "version": row["version"],
        "model_sha256": row["model_sha256"],
        "active": row["active"],
        "registered_at": row["registered_at"],
        "activated_at": row["activated_at"],
        "retired_at": row["retired_at"],
        "trained_at": card.get("trained_at"),
        "metrics": card.get("metrics"),
        "features": [f["name"] for f in card.get("features", [])],
    }


def card(conn: Connection, version: str) -> dict:
    found = conn.execute(select(scoring_models.c.card).where(scoring_models.c.version == version)).scalar()
    if found is None:
        raise Problem(404, "model_not_found", f"no registered model {version!r}")
    return found


def model(conn: Connection, version: str) -> dict:
    """A registered version's points table."""
    text = conn.execute(select(scoring_models.c.model).where(scoring_models.c.version == version)).scalar()
    if text is None:
        raise Problem(404, "model_not_found", f"no registered model {version!r}")
    return json.loads(text)


def live_model(conn: Connection) -> dict | None:
    """The active model's points table, or None: with no live model nothing is scored."""
    return model_of(conn, read(conn, live_version_read()))


def live_version_read() -> Read:
    """The active model's version (None: no live model), to read with other facts."""
    return Read(_LIVE_VERSION, {}, lambda rows: rows[0][0] if rows else None)


_LIVE_VERSION = select(scoring_models.c.version).where(scoring_models.c.active)


def model_of(conn: Connection, version: str | None) -> dict | None:
    """A model's points table, parsed once per process (a version never changes)."""
    if version is None:
        return None
    if version not in _parsed:
        text = conn.execute(select(scoring_models.c.model).where(scoring_models.c.version == version)).scalar_one()
        _parsed[version] = json.loads(text)
    return _parsed[version]


def score_person(model: dict, person_token: str, built: Assembled, *, scopes: list[str], as_of: date) -> Scored:
    """Score one person from the records a report just read (`built`: accounts within their
    retention periods, recent inquiries, spending when in scope), with only the record types
    in `scopes`: a feature outside them is scored as missing. No loan account, no score."""
    inputs = [t for t in ("loan", "consumption", "liability", "public_record") if t in scopes]
    if not built.accounts:
        return Scored(new_id("scr"), model["version"], None, [], {}, inputs)
    features = of_rows(
        person_token, as_of, accounts=built.accounts, asked_on=built.asked_on,
        spend=built.spend if "consumption" in scopes else None,
        liabilities=built.liabilities if "liability" in scopes else None,
        public_records=built.public_records if "public_record" in scopes else None,
    )  # fmt: skip
    value, reasons = score(model, features)
    return Scored(new_id("scr"), model["version"], value, reasons, features, inputs)


def section(model: dict, scored: Scored, as_of: date) -> Score:
    """The score as a report shows it, with the explanation PIPL-24 asks for."""
    scaling = model["scaling"]
    low = sum(min(_every_points(f)) for f in model["features"])
    high = sum(max(_every_points(f)) for f in model["features"])
    explanation = (
        f"A points scorecard (model {model['version']}): each of {len(model['features'])} factors from your records "
        f"adds points, and the total is the score. {scaling['base_points']} points mean odds of "
        f"{scaling['base_odds']:g} to 1 that a borrower repays over the next year, and every {scaling['pdo']:g} "
        "points more double those odds. The reasons are the factors that cost you the most points against their "
        "best value, with how many."
        if scored.score is not None
        else "No score: there is no loan account in the records this score may read."
    )
    return Score(
        score_id=scored.id, model_version=scored.model_version, score=scored.score, min_score=round(low),
        max_score=round(high), as_of=as_of, inputs=scored.inputs,
        reasons=[ScoreReason(**r) for r in scored.reasons], explanation=explanation, review=REVIEW,
    )  # fmt: skip


def _every_points(f: dict) -> list[float]:
    return [*f["points"], f["missing_points"], *([f["special_points"]] if "special_points" in f else [])]


def record_monitoring(conn: Connection, version: str, months: list[dict], *, data_sha256: str, now: datetime) -> None:
    """Keep a monitoring run's months for `version` (a month monitored again is replaced)."""
    if get(conn, version) is None:
        raise Problem(404, "model_not_found", f"no registered model {version!r}")
    labels = [m["month"] for m in months]
    conn.execute(delete(scoring_monitoring).where(scoring_monitoring.c.model_version == version,
                                                  scoring_monitoring.c.month.in_(labels)))  # fmt: skip
    conn.execute(insert(scoring_monitoring), [
        {"id": new_id("mon"), "model_version": version, "month": m["month"], "rows": m["rows"], "psi": m["psi"],
         "flag": m["flag"], "csi": m["csi"], "mean_score": m["mean_score"], "data_sha256": data_sha256,
         "computed_at": now} for m in months])  # fmt: skip
    audit.enqueue(conn, [audit.event("model.monitored", None, version=version, months=labels,
                                     flags=sorted({m["flag"] for m in months}))])  # fmt: skip


def monitoring(conn: Connection, version: str) -> list[dict]:
    """A model's monitored months, oldest first."""
    c = scoring_monitoring.c
    rows = conn.execute(
        select(c.month, c.rows, c.psi, c.flag, c.csi, c.mean_score, c.computed_at)
        .where(c.model_version == version).order_by(c.month)
    ).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


def record(
    conn: Connection, scored: Scored, person_token: str, *, now: datetime, inquiry_id: str | None = None,
    self_query_id: str | None = None,
) -> None:  # fmt: skip
    write(conn, _INSERT_SCORE, {
        "id": scored.id, "person_token": person_token, "inquiry_id": inquiry_id, "self_query_id": self_query_id,
        "model_version": scored.model_version, "score": scored.score, "reasons": scored.reasons,
        "features": scored.features, "created_at": now,
    })  # fmt: skip


_INSERT_SCORE = insert(scores)


def history(conn: Connection, person_token: str) -> list[dict]:
    """The person's scores, newest first: which model, what score, why."""
    rows = conn.execute(
        select(scores.c.id, scores.c.inquiry_id, scores.c.self_query_id, scores.c.model_version, scores.c.score,
               scores.c.reasons, scores.c.created_at)
        .where(scores.c.person_token == person_token)
        .order_by(scores.c.created_at.desc())
    ).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]
