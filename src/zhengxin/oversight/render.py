"""The report's files: report.json (what was published), report.html (Jinja2, charts as inline
SVG drawn here, so no chart library or network is needed) and report.pdf (WeasyPrint)."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from zhengxin.kit.errors import Problem

CHART_WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 90
ROW_HEIGHT = 22
BAR_HEIGHT = 14


def report_json(report: dict) -> bytes:
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()


def chart(release: dict) -> dict:
    """Horizontal bars for one release: each published value with its 95% error bound as a
    whisker, on a common scale. Coordinates only; the template draws them."""
    bound = release["error_bound_95"]
    area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    top = max([c["value"] + bound for c in release["cells"]] + [1])
    x = lambda v: LABEL_WIDTH + area * v / top  # noqa: E731
    bars = []
    for i, cell in enumerate(release["cells"]):
        y = i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        bars.append({
            "label": cell["label"].replace("_", " "), "value": cell["value"], "y": y, "mid": y + BAR_HEIGHT / 2,
            "x0": LABEL_WIDTH, "width": x(cell["value"]) - LABEL_WIDTH,
            "low": x(max(0, cell["value"] - bound)), "high": x(cell["value"] + bound),
        })  # fmt: skip
    return {"width": CHART_WIDTH, "height": len(bars) * ROW_HEIGHT, "bar_height": BAR_HEIGHT, "bars": bars,
            "value_x": CHART_WIDTH - VALUE_WIDTH + 8}  # fmt: skip


def html(report: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("zhengxin.oversight"), autoescape=select_autoescape())
    charts = {r["key"]: chart(r) for r in report["privacy"]["releases"]}
    return env.get_template("report.html").render(report=report, charts=charts)


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
    """Write report.json, report.html and report.pdf into `out`; the paths and the SHA-256 of
    report.json (what the log's `oversight.report` event names)."""
    out.mkdir(parents=True, exist_ok=True)
    body = report_json(report)
    page = html(report)
    document = pdf(page)
    paths = {"json": out / "report.json", "html": out / "report.html", "pdf": out / "report.pdf"}
    paths["json"].write_bytes(body)
    paths["html"].write_text(page, encoding="utf-8")
    paths["pdf"].write_bytes(document)
    return {"paths": paths, "sha256": hashlib.sha256(body).hexdigest()}
