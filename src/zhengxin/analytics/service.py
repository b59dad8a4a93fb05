"""Supervision runs: keep one run's results, and serve the latest run's views."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from zhengxin.analytics import VIEWS
from zhengxin.analytics.tables import supervision_runs
from zhengxin.audit import service as audit
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id


def record_run(
    conn: Connection,
    *,
    as_of: date,
    backend: str,
    started_at: datetime,
    finished_at: datetime,
    lake_dir: str,
    results: dict[str, list[dict]],
) -> dict:
    """Store a run's results and log that it happened (counts only)."""
    unknown = set(results) - set(VIEWS)
    if unknown:
        raise Problem(422, "unknown_view", f"not supervision views: {', '.join(sorted(unknown))}")
    row = {
        "id": new_id("sup"),
        "as_of": as_of,
        "backend": backend,
        "started_at": started_at,
        "finished_at": finished_at,
        "seconds": round((finished_at - started_at).total_seconds(), 3),
        "lake_dir": lake_dir,
        "results": results,
    }
    conn.execute(insert(supervision_runs).values(**row))
    audit.enqueue(
        conn,
        [
            audit.event(
                "supervision.run", None, None, run_id=row["id"], as_of=as_of.isoformat(), backend=backend,
                rows={name: len(rows) for name, rows in results.items()},
            )
        ],
    )  # fmt: skip
    return row


def latest_run(conn: Connection) -> dict | None:
    row = (
        conn.execute(
            select(supervision_runs).order_by(supervision_runs.c.finished_at.desc(), supervision_runs.c.id.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def latest_view(conn: Connection, name: str) -> dict:
    """One view of the latest run, with the run's identity; 404 before any run."""
    if name not in VIEWS:
        raise Problem(404, "unknown_view", f"no supervision view {name!r}")
    run = latest_run(conn)
    if run is None:
        raise Problem(
            404, "no_supervision_run", "the supervision analytics have not run yet: `zhengxin supervision run`"
        )
    return {
        "run_id": run["id"],
        "as_of": run["as_of"],
        "backend": run["backend"],
        "generated_at": run["finished_at"],
        "rows": run["results"].get(name, []),
    }
