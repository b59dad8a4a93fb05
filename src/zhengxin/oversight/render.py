"""The report's files: report.json (what was published, once) and, from it, report.html and
report.pdf in each language of the catalogs (Chinese, the default, as report.html/.pdf; English
as report.en.html/.pdf). The HTML is Jinja2 with charts as inline SVG drawn here, so no chart
library or network is needed; the PDF is WeasyPrint's, with the CJK font it finds through
fontconfig (Debian's fonts-noto-cjk) embedded, so Chinese prints as Chinese."""

from __future__ import annotations

import hashlib
import json
import warnings
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader

from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import LOCALES, gettext_for, jinja_environment

CHART_WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 90
ROW_HEIGHT = 22
BAR_HEIGHT = 14

# What each published cell's label means, as English messages the catalogs translate. Rule ids
# (CR-18, PIPL-15 …) are shown as they are: they are the names the law and the errors use.
CELL_LABELS = {
    "persons": "Persons",
    "loan_application": "Loan application", "credit_card_application": "Credit card application",
    "post_loan_management": "Post-loan management", "guarantee_review": "Guarantee review",
    "account_opening": "Account opening",
    "DEFAULT-DENY": "No policy permitted it (DEFAULT-DENY)", "other": "Rules no longer in force",
    "opened": "Disputes opened", "escalated": "Disputes escalated", "corrected": "Closed: record corrected",
    "verified": "Closed: record verified", "unconfirmable": "Closed: could not be confirmed",
    "withdrawn": "Closed: withdrawn by the person",
    "self_queries": "Self-queries", "exports": "Data exports",
    "dispute_handling": "Handling a dispute", "rights_request": "Answering a rights request",
    "complaint": "Answering a complaint",
    "persons_erased": "Persons erased",
    "filed_inquiry": "Filed: an inquiry", "filed_dispute": "Filed: a dispute", "filed_report": "Filed: the report",
    "filed_score": "Filed: the score", "filed_data_use": "Filed: use of data", "filed_other": "Filed: other",
    "answered_on_time": "Answered on time", "answered_late": "Answered late",
    "furnishers": "Furnishers", "lenders": "Lenders",
    "legal_rules": "Legal rules (one forbid policy each)", "permissions": "Permissions (permit policies)",
    "runs": "Runs",
    "route: denied": "Route: denied", "route: security_assessment": "Route: security assessment",
    "route: standard_contract": "Route: standard contract", "route: exempt": "Route: exempt",
    "status: pending": "Status: pending", "status: approved": "Status: approved",
    "status: rejected": "Status: rejected", "status: denied": "Status: denied",
}  # fmt: skip
UNITS = {"person": "person", "organisation": "organisation", "rule": "rule", "run": "run",
         "transfer request": "transfer request"}  # fmt: skip


def file_name(kind: str, locale: str) -> str:
    """report.json; report.html and report.pdf in the default language, report.en.pdf in English."""
    if kind == "json" or locale == LOCALES[0]:
        return f"report.{kind}"
    return f"report.{locale}.{kind}"


def report_json(report: dict) -> bytes:
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()


def chart(cells: list[tuple[str, int]], bound: int) -> dict:
    """Horizontal bars for one figure: each value (label already in the reader's language) with
    its 95% error bound as a whisker (none for exact figures), on a common scale. Coordinates
    only; the template draws them."""
    area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    top = max([value + bound for _, value in cells] + [1])
    x = lambda v: LABEL_WIDTH + area * v / top  # noqa: E731
    bars = []
    for i, (label, value) in enumerate(cells):
        y = i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        bars.append({
            "label": label, "value": value, "y": y, "mid": y + BAR_HEIGHT / 2,
            "x0": LABEL_WIDTH, "width": x(value) - LABEL_WIDTH,
            "low": x(max(0, value - bound)), "high": x(value + bound),
        })  # fmt: skip
    return {"width": CHART_WIDTH, "height": len(bars) * ROW_HEIGHT, "bar_height": BAR_HEIGHT, "bars": bars,
            "value_x": CHART_WIDTH - VALUE_WIDTH + 8, "whiskers": bound > 0}  # fmt: skip


@cache
def _environment(locale: str) -> Environment:
    return jinja_environment(PackageLoader("zhengxin.oversight"), locale)


def html(report: dict, locale: str = LOCALES[0]) -> str:
    """The report as a page in `locale` (a language of the catalogs)."""
    if locale not in LOCALES:
        raise Problem(422, "invalid_language", f"the report is made in {', '.join(LOCALES)}")
    _ = gettext_for(locale)

    def label(code: str) -> str:
        return _(CELL_LABELS[code]) if code in CELL_LABELS else code

    figures = [*report["privacy"]["releases"], *report.get("exact", [])]
    charts = {
        f["key"]: chart([(label(c["label"]), c["value"]) for c in f["cells"]], f.get("error_bound_95", 0))
        for f in figures
    }
    return (
        _environment(locale)
        .get_template("report.html")
        .render(report=report, charts=charts, label=label, unit=lambda u: _(UNITS.get(u, u)))
    )


def pdf(html_text: str) -> bytes:
    try:
        with warnings.catch_warnings():
            # Without Debian's libharfbuzz-subset0 WeasyPrint subsets fonts with fontTools, as well
            # (it only warns that a future version will need the library).
            warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
            from weasyprint import HTML
    except (ImportError, OSError) as e:  # OSError: the system's Pango is missing
        raise Problem(
            500, "pdf_unavailable", f"WeasyPrint cannot run here ({e}); install zhengxin[pdf] and Pango"
        ) from None
    return HTML(string=html_text).write_pdf()


def write(report: dict, out: Path) -> dict:
    """Write report.json and the HTML and PDF in every language into `out`; the paths (keyed
    `json`, `html`, `pdf`, then `html.en`, `pdf.en`) and the SHA-256 of report.json (what the
    log's `oversight.report` event names)."""
    out.mkdir(parents=True, exist_ok=True)
    body = report_json(report)
    paths = {"json": out / file_name("json", LOCALES[0])}
    paths["json"].write_bytes(body)
    for locale in LOCALES:
        page = html(report, locale)
        suffix = "" if locale == LOCALES[0] else f".{locale}"
        paths["html" + suffix] = out / file_name("html", locale)
        paths["html" + suffix].write_text(page, encoding="utf-8")
        paths["pdf" + suffix] = out / file_name("pdf", locale)
        paths["pdf" + suffix].write_bytes(pdf(page))
    return {"paths": paths, "sha256": hashlib.sha256(body).hexdigest()}
