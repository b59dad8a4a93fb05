"""The furnisher's pages: upload a file, its batches and quarantined records, obligations,
disputes on its records, revenue statements."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from zhengxin.billing import service as billing
from zhengxin.disputes import service as disputes
from zhengxin.furnishing import readers, service
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import gettext_for
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import (
    CsrfChecked,
    FurnisherUser,
    PortalRoute,
    flash,
    locale_of,
    problem_message,
    redirect,
    render,
)

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
ERROR_COLUMNS = ("line", "record_type", "field", "code", "rule", "message", "raw")
PAGE = 10_000  # the most rejects the errors API gives at once
SHOWN = 500  # rejects shown on the batch page; the CSV holds them all
# Stable codes shown as words (msgids: the templates translate them).
LABELS = {
    "on_time": "On time", "late": "Late", "missing": "Missing", "pending": "Pending", "open": "Open",
    "answered": "Answered", "closed": "Closed", "daily": "Daily", "weekly": "Weekly", "monthly": "Monthly",
    "verification": "Verified", "correction": "Corrected",
}  # fmt: skip


@router.get("/furnisher")
def batches(request: Request, actor: FurnisherUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        rows = service.list_batches(conn, actor, 100)
    return render(request, "furnisher/batches.html", batches=rows, max_bytes=runtime.settings.max_batch_bytes)


@router.post("/furnisher/batches", dependencies=[CsrfChecked])
def upload(request: Request, actor: FurnisherUser, runtime: RuntimeDep, file: Annotated[UploadFile, File()]):
    """The intake of POST /v1/furnishing/batches, for a file chosen in the browser: the format
    comes from the file's name (or its type), and a resend of the same file changes nothing."""
    gettext = gettext_for(locale_of(request))
    try:
        name = Path(file.filename or "")
        fmt = readers.format_for(path=name) or readers.format_for(content_type=file.content_type)
        if fmt is None:
            raise Problem(415, "unsupported_media_type", "the file must be CSV, JSON lines or Parquet")
        with service.Upload(runtime, fmt) as upload:
            for block in iter(lambda: file.file.read(1 << 20), b""):
                upload.write(block)
            result = upload.submit(actor, None)
    except Problem as p:
        flash(request, problem_message(request, p), "error")
        return redirect("/portal/furnisher", request)
    batch = result.batch
    if result.replayed:
        flash(request, gettext("This file was already received; nothing changed."), "warn")
    else:
        flash(
            request,
            gettext("Received %(received)s records: %(accepted)s accepted, %(rejected)s rejected.")
            % {k: batch[k] for k in ("received", "accepted", "rejected")},
        )
    return redirect(f"/portal/furnisher/batches/{batch['id']}", request)


def _all_errors(conn, runtime, actor, batch_id: str, code: str | None = None) -> dict:
    """Every quarantined record of the batch, page by page from the errors service."""
    out = service.batch_errors(conn, runtime, actor, batch_id, 0, PAGE, code)
    while len(out["errors"]) < out["total"]:
        more = service.batch_errors(conn, runtime, actor, batch_id, len(out["errors"]), PAGE, code)
        if not more["errors"]:
            break
        out["errors"] += more["errors"]
    return out


@router.get("/furnisher/batches/{batch_id}")
def batch(request: Request, batch_id: str, actor: FurnisherUser, runtime: RuntimeDep, code: str = "", field: str = ""):
    with runtime.reading() as conn:
        row = service.get_batch(conn, actor, batch_id)
        found = _all_errors(conn, runtime, actor, batch_id)
    fields = sorted({e["field"] for e in found["errors"]})
    shown = [e for e in found["errors"] if (not code or e["code"] == code) and (not field or e["field"] == field)]
    query = urlencode({k: v for k, v in (("code", code), ("field", field)) if v})
    return render(
        request, "furnisher/batch.html", batch=row, by_code=found["by_code"], fields=fields, code=code, field=field,
        errors=shown[:SHOWN], matching=len(shown), query=query,
    )  # fmt: skip


@router.get("/furnisher/batches/{batch_id}/rejects.csv")
def rejects_csv(
    request: Request, batch_id: str, actor: FurnisherUser, runtime: RuntimeDep, code: str = "", field: str = ""
):
    """The rejected records with their reasons, as the errors API gives them (raw text for its sender)."""
    with runtime.reading() as conn:
        found = _all_errors(conn, runtime, actor, batch_id, code or None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERROR_COLUMNS)
    for e in found["errors"]:
        if not field or e["field"] == field:
            writer.writerow(["" if e.get(c) is None else e[c] for c in ERROR_COLUMNS])
    headers = {"Content-Disposition": f'attachment; filename="{batch_id}-rejects.csv"'}
    return Response(buffer.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/furnisher/obligations")
def obligations(request: Request, actor: FurnisherUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        rows = service.list_obligations(conn, actor)
    for row in rows:  # the next day something is due, for the table
        row["next_due_on"] = next((p["due_on"] for p in row["periods"] if p["status"] == "pending"), None)
    return render(request, "furnisher/obligations.html", obligations=rows, labels=LABELS)


def _disputes_page(request: Request, actor, runtime, status_code: int = 200, error: str | None = None):
    with runtime.reading() as conn:
        queue = disputes.furnisher_queue(conn, runtime, actor)
        own = service.list_batches(conn, actor, 20)
    return render(
        request,
        "furnisher/disputes.html",
        status_code=status_code,
        disputes=queue,
        batches=own,
        error=error,
        labels=LABELS,
    )


@router.get("/furnisher/disputes")
def dispute_queue(request: Request, actor: FurnisherUser, runtime: RuntimeDep):
    return _disputes_page(request, actor, runtime)


@router.post("/furnisher/disputes/{dispute_id}/answer", dependencies=[CsrfChecked])
def answer(
    request: Request,
    dispute_id: str,
    actor: FurnisherUser,
    runtime: RuntimeDep,
    action: Annotated[str, Form()],
    batch_id: Annotated[str, Form()] = "",
    evidence_ref: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
):
    """As POST /v1/furnishing/disputes/{id}/answer: a correction names its batch, a verification its evidence."""
    try:
        with runtime.transaction() as conn:
            disputes.answer(
                conn, runtime, actor, dispute_id, action=action, batch_id=batch_id.strip() or None,
                evidence_ref=evidence_ref.strip() or None, note=note.strip() or None,
            )  # fmt: skip
    except Problem as p:
        return _disputes_page(request, actor, runtime, p.status, problem_message(request, p))
    flash(request, gettext_for(locale_of(request))("Your answer was sent to the agency."))
    return redirect("/portal/furnisher/disputes")


@router.get("/furnisher/statements")
def statements(request: Request, actor: FurnisherUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        rows = billing.statements(conn, actor)
    return render(request, "furnisher/statements.html", statements=rows, labels=LABELS)
