"""The overseers' pages: the log browser (entries, signed heads, a consistency check between two
heads verified here with the same code as `zhengxin log verify`), complaints, and the periodic
personal-information protection report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse

from zhengxin.audit import service as audit
from zhengxin.audit.verify import VerificationError, verify_consistency, verify_head
from zhengxin.complaints import service as complaints
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import gettext_for
from zhengxin.oversight import render as oversight_render
from zhengxin.oversight import service as oversight
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import CsrfChecked, OverseerUser, PortalRoute, flash, locale_of, redirect, render

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
PAGE = 50
MEDIA = {"html": "text/html", "pdf": "application/pdf", "json": "application/json"}


@router.get("/overseer")
def log_browser(
    request: Request,
    actor: OverseerUser,
    runtime: RuntimeDep,
    start: int | None = None,
    first: int = 0,
    second: int = 0,
):
    """Entries page by page (newest page first), the signed heads, and the consistency check."""
    audit.sequence_all(runtime.engine)
    with runtime.reading() as conn:
        size = audit.tree_size(conn)
        heads = [
            {**h, "signed_at": datetime.fromtimestamp(h["timestamp"] / 1000, UTC)} for h in audit.recent_heads(conn)
        ]
        begin = max(0, size - PAGE) if start is None else max(0, min(start, max(0, size - 1)))
        entries = audit.entries(conn, actor, begin, begin + PAGE)["entries"] if size else []
        entries = [{**e, "event": json.loads(e["leaf"]) if e["leaf"] else {}} for e in entries]
        check = _consistency(conn, runtime, first, second) if first and second else None
    sizes = [h["tree_size"] for h in heads] or [0]
    return render(
        request, "overseer/log.html", size=size, heads=heads, entries=entries, start=begin, page=PAGE, check=check,
        first=first or sizes[-1], second=second or sizes[0],
    )  # fmt: skip


def _consistency(conn, runtime, first: int, second: int) -> dict:
    """Is the tree of `second` leaves an extension of the one of `first`? Both heads' signatures
    and the proof between them are checked here, from the stored heads and nodes."""
    older, newer = audit.head_at(conn, first), audit.head_at(conn, second)
    keys = audit.log_signer(runtime).public_keys()
    proof = audit.consistency_proof(conn, first, second)
    try:
        verify_head(older, keys)
        verify_head(newer, keys)
        verify_consistency(
            first, second, [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(older["root_hash"]), bytes.fromhex(newer["root_hash"]),
        )  # fmt: skip
    except VerificationError as e:
        return {"ok": False, "first": older, "second": newer, "proof": proof["proof"], "error": str(e)}
    return {"ok": True, "first": older, "second": newer, "proof": proof["proof"]}


@router.get("/overseer/complaints")
def complaint_list(request: Request, actor: OverseerUser, runtime: RuntimeDep):
    """Complaints without texts or persons (as GET /v1/complaints): subject, dates, lateness."""
    with runtime.reading() as conn:
        found = complaints.list_all(conn)
    return render(request, "overseer/complaints.html", complaints=found)


def _report_dir(runtime, label: str) -> Path:
    return runtime.settings.data_dir / "oversight" / label


@router.get("/overseer/report")
def report_page(request: Request, actor: OverseerUser, runtime: RuntimeDep, period: str = ""):
    """The protection report of a period: build it, then read its numbers and download it."""
    built = None
    if period:
        chosen = oversight.parse_period(period)
        path = _report_dir(runtime, chosen.label) / "report.json"
        if path.exists():
            built = json.loads(path.read_text(encoding="utf-8"))
    _ = gettext_for(locale_of(request))
    return render(request, "overseer/report.html", period=period, built=built,
                  label=lambda code: _(oversight_render.CELL_LABELS.get(code, code)))  # fmt: skip


@router.post("/overseer/report", dependencies=[CsrfChecked])
def build_report(request: Request, actor: OverseerUser, runtime: RuntimeDep, period: Annotated[str, Form()]):
    """As `zhengxin oversight report`: counts with fresh OpenDP noise, each build spending the
    period's budget (recorded), so averaging builds is visible in the published spend."""
    chosen = oversight.parse_period(period.strip())
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        content = oversight.report(conn, runtime, chosen)
    written = oversight_render.write(content, _report_dir(runtime, chosen.label))
    with runtime.transaction() as conn:
        oversight.record_publication(conn, chosen, content["privacy"]["epsilon_total"], written["sha256"])
    audit.sequence_all(runtime.engine)
    flash(request, gettext_for(locale_of(request))("The report for %(period)s was built.") % {"period": chosen.label})
    return redirect(f"/portal/overseer/report?period={chosen.label}")


@router.get("/overseer/report/{label}/{kind}")
def report_file(request: Request, label: str, kind: str, actor: OverseerUser, runtime: RuntimeDep):
    """The built report's JSON, or its HTML or PDF in the reader's language."""
    chosen = oversight.parse_period(label)
    if kind not in MEDIA:
        raise Problem(404, "not_found", "the report is html, pdf or json")
    path = _report_dir(runtime, chosen.label) / oversight_render.file_name(kind, locale_of(request))
    if not path.exists():
        raise Problem(404, "report_not_built", f"no report built for {chosen.label} yet")
    return FileResponse(path, media_type=MEDIA[kind], filename=f"protection-report-{chosen.label}.{kind}")
