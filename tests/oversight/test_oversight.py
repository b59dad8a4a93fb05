"""The oversight body's protection report (PIPL-58): true counts from a hand-built bureau,
OpenDP noise within its stated bound, and the CLI's JSON, HTML and PDF tied to the log."""

from __future__ import annotations

import hashlib
import io
import json
import re
import statistics
import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from tests.bureau import Bureau
from tests.records import consumption, loan
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_heads, log_leaves
from zhengxin.cli import app
from zhengxin.flows import retention
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import merged_catalog
from zhengxin.oversight import render, service
from zhengxin.oversight.service import Release
from zhengxin.parties.tables import parties
from zhengxin.records.tables import account_snapshots, consumption_summaries

PURPOSES = ("loan_application", "credit_card_application", "post_loan_management", "guarantee_review",
            "account_opening")  # fmt: skip


def this_quarter() -> str:
    today = clock.today()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


@pytest.fixture
def bureau(client, parties, runtime) -> Bureau:
    """Four persons with records (three with accounts), one lender, two allowed inquiries and
    one denied, two disputes (one withdrawn), a denied and an allowed staff read, a self-query,
    an export, three complaints (one answered) and a retention run that erases a fifth person's stale spending."""
    b = Bureau(client, parties)
    bank = b.lender("Bank A", 1)
    p1, p2, p3 = b.person(1), b.person(2), b.person(3)
    b.furnish([loan(4), consumption(5, month="2022-01", as_of="2022-01-31")])
    g1 = b.grant(p1, bank)
    assert b.inquire(bank, p1, g1["id"]).status_code == 201
    assert b.inquire(bank, p1, g1["id"]).json()["code"] == "fair_use_exceeded"  # CR-18
    g2 = b.grant(p2, bank, purpose="credit_card_application")
    assert b.inquire(bank, p2, g2["id"], purpose="credit_card_application").status_code == 201
    d1 = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "repaid"}, headers=p1.headers)
    d2 = client.post("/v1/me/disputes", json={"account_id": "ACC-000002", "reason": "not mine"}, headers=p2.headers)
    assert d1.status_code == d2.status_code == 201
    assert client.post(f"/v1/me/disputes/{d2.json()['id']}/withdraw", headers=p2.headers).status_code == 200
    _, clerk = parties.add("agency", "Clerk Wang", staff=True)
    shared = client.get(f"/v1/disputes/{d1.json()['id']}", params={"purpose": "complaint"}, headers=b.agency)
    assert shared.json()["code"] == "staff_account_required"  # CR-22: never under a shared key
    assert client.get(f"/v1/disputes/{d1.json()['id']}", params={"purpose": "complaint"}, headers=clerk).is_success
    assert client.get("/v1/me/report", headers=p3.headers).status_code == 200
    assert client.get("/v1/me/export", headers=p3.headers).status_code == 200
    complaint = client.post("/v1/me/complaints", json={"subject": "inquiry", "text": "Who asked?"}, headers=p1.headers)
    assert client.post(f"/v1/complaints/{complaint.json()['id']}/answer", json={"text": "Bank A, with consent."},
                       headers=clerk).status_code == 200  # fmt: skip
    client.post("/v1/me/complaints", json={"subject": "score", "text": "Too low"}, headers=p1.headers)
    client.post("/v1/me/complaints", json={"subject": "score", "text": "Still too low"}, headers=p1.headers)
    with runtime.transaction() as conn:
        assert retention.run(conn, runtime, clock.today())["persons"] == 1
    sequence_all(runtime.engine)
    return b


def test_true_counts_of_a_small_bureau(runtime, bureau):
    with runtime.reading() as conn:
        counts = service.counts(conn, runtime, service.parse_period(this_quarter()))
    cells = {r.key: r.cells for r in counts.releases}
    exact = {f.key: f.cells for f in counts.exact}
    assert cells["persons"] == {"persons": 4}  # the fifth person's only record was erased
    # Organisations, rules, runs and transfer requests are no person's data: published exactly, never noised.
    assert "organisations" not in cells and exact["organisations"] == {"furnishers": 1, "lenders": 1}
    forbids = {r["rule"] for r in runtime.policy.rules() if r["effect"] == "forbid"}
    assert exact["rules"]["legal_rules"] == len(forbids) > 10 and exact["rules"]["permissions"] > 0
    assert cells["inquiries"] == dict.fromkeys(PURPOSES, 0) | {"loan_application": 1, "credit_card_application": 1}
    denials = cells["denials"]
    assert {k: v for k, v in denials.items() if v} == {"CR-18": 1, "CR-22": 1}
    assert {"DEFAULT-DENY", "other", "PIPL-15", "CR-16"} <= denials.keys()  # fixed labels, zeros included
    assert cells["disputes"] == {"opened": 2, "escalated": 0, "corrected": 0, "verified": 0, "unconfirmable": 0,
                                 "withdrawn": 1}  # fmt: skip
    assert cells["rights"] == {"self_queries": 1, "exports": 1}
    # the clerk read a dispute for a complaint, and read the complaint they answered
    assert cells["staff_reads"] == {"dispute_handling": 0, "rights_request": 0, "complaint": 2}
    assert cells["retention"] == {"persons_erased": 1} and exact["retention_runs"] == {"runs": 1}
    # p1 filed three and had one answered: four events, of which the cap of 3 counts the first three.
    assert cells["complaints"]["filed_inquiry"] == 1 and cells["complaints"]["answered_on_time"] == 1
    assert sum(cells["complaints"].values()) == 3
    if "transfers" in exact:  # the deployment's transfer requests, none made here: fixed labels, all zero
        assert exact["transfers"] == {f"route: {r}": 0 for r in service.TRANSFER_ROUTES} | {
            f"status: {s}": 0 for s in service.TRANSFER_STATUSES
        }
    # Sensitivities as the module states them.
    sens = {r.key: (r.unit, r.sensitivity) for r in counts.releases}
    assert sens["persons"] == ("person", 1) and sens["inquiries"] == ("person", service.CONTRIBUTION_CAP)

    # A smaller cap counts only each person's first events: the person's export came after their self-query.
    with runtime.reading() as conn:
        capped = service.counts(conn, runtime, service.parse_period(this_quarter()), cap=1)
    assert capped.figure("rights").cells == {"self_queries": 1, "exports": 0}
    assert capped.figure("rights").sensitivity == 1

    # Another period holds none of it (the furnished records are as of 2026-10-31 or earlier).
    with runtime.reading() as conn:
        before = service.counts(conn, runtime, service.parse_period("2026-01"))
    assert before.figure("inquiries").cells == dict.fromkeys(PURPOSES, 0)
    assert before.figure("organisations").cells == {"furnishers": 0, "lenders": 0}


def test_periods_parse_in_utc_and_refuse_nonsense():
    q4 = service.parse_period("2026-q4")
    assert (q4.label, q4.start.isoformat(), q4.end.isoformat()) == (
        "2026-Q4",
        "2026-10-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )
    month = service.parse_period("2026-02")
    assert (month.start.month, month.end.month) == (2, 3)
    assert service.parse_period("2025").end.year == 2026
    for bad in ("2026-Q5", "2026-13", "26-Q1", "Q4 2026", ""):
        with pytest.raises(Problem) as e:
            service.parse_period(bad)
        assert e.value.code == "invalid_period"
    with pytest.raises(Problem) as e:
        service.parse_period(f"{clock.today().year + 1}-Q1")
    assert e.value.code == "future_period"


RELEASES = [
    Release("persons", "Persons", "person", 1, "one person counts once", {"persons": 50}),
    Release("inquiries", "Inquiries", "person", 3, "capped", {"a": 0, "b": 7, "c": 60}),
    Release("orgs", "Organisations", "organisation", 1, "no person", {"x": 2, "y": 0}),
]


def assert_honest_noise(releases: list[Release], epsilon_total: float, runs: int = 200) -> dict:
    """Publish `runs` times: every cell within its stated 95% bound at least 90% of the time,
    its mean near the truth, and only noisy values published. Returns the first run's releases."""
    truth = {(r.key, label): v for r in releases for label, v in r.cells.items()}
    draws: dict[tuple, list[int]] = {}
    first = None
    for _ in range(runs):
        published = service.noisy(releases, epsilon_total=epsilon_total)
        first = first or {r["key"]: r for r in published["releases"]}
        for r in published["releases"]:
            assert set(r) >= {"scale", "error_bound_95", "epsilon", "sensitivity", "basis"} and "true" not in r
            for cell in r["cells"]:
                assert set(cell) == {"label", "value"} and cell["value"] >= 0  # clamped, noisy only
                draws.setdefault((r["key"], cell["label"]), []).append(cell["value"])
    assert draws.keys() == truth.keys()
    for key, values in draws.items():
        bound, scale = first[key[0]]["error_bound_95"], first[key[0]]["scale"]
        within = sum(abs(v - truth[key]) <= bound for v in values) / len(values)
        assert within >= 0.9, (key, within)
        mean = statistics.fmean(values)
        if truth[key] >= bound:  # clamping at 0 cannot bite: unbiased
            assert abs(mean - truth[key]) <= 0.5 * scale, (key, mean)
        else:  # clamping lifts the mean of a small count a little, never lowers it much
            assert -0.5 * scale <= mean - truth[key] <= scale, (key, mean)
        assert len(set(values)) > 1, key  # it is noise: no cell comes out the same every time
    return first


def test_noisy_counts_stay_within_the_stated_bound_and_centre_on_the_truth():
    first = assert_honest_noise(RELEASES, epsilon_total=3.0)
    # epsilon 1 per release: the discrete Laplace scale is the sensitivity; OpenDP's accuracy at 95%.
    assert first["persons"]["scale"] == pytest.approx(1.0) and first["inquiries"]["scale"] == pytest.approx(3.0)
    # P(|error| >= t) = 2a^t / (1 + a), a = exp(-1/scale): 0.027 for t = 4 at scale 1, 0.042 for t = 10 at 3
    assert first["persons"]["error_bound_95"] == 3 and first["inquiries"]["error_bound_95"] == 9
    assert all(r["epsilon"] == pytest.approx(1.0) for r in first.values())
    assert service.noisy(RELEASES, epsilon_total=3.0)["epsilon_spent"] == pytest.approx(3.0)


def test_the_bureaus_noisy_counts_stay_within_their_bounds(runtime, bureau):
    with runtime.reading() as conn:
        counts = service.counts(conn, runtime, service.parse_period(this_quarter()))
    first = assert_honest_noise(counts.releases, epsilon_total=2.0 * len(counts.releases))
    assert first["persons"]["scale"] == pytest.approx(0.5)


def test_a_smaller_budget_means_more_noise_and_bad_budgets_are_refused():
    wide = service.noisy(RELEASES, epsilon_total=0.3)
    scales = {r["key"]: r["scale"] for r in wide["releases"]}
    assert scales["persons"] == pytest.approx(10.0) and scales["inquiries"] == pytest.approx(30.0)
    assert wide["epsilon_spent"] <= 0.3 * (1 + 1e-9)
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(Problem) as e:
            service.noisy(RELEASES, epsilon_total=bad)
        assert e.value.code == "invalid_epsilon"


def _signing_env(runtime) -> dict:
    s = runtime.settings
    keys = {k: v.get_secret_value() for k, v in s.log_signing_keys.items()}
    return {"ZHENGXIN_LOG_SIGNING_KEYS": json.dumps(keys), "ZHENGXIN_LOG_ACTIVE_KEY": s.log_active_key}


def test_the_cli_publishes_json_html_and_a_real_pdf_tied_to_the_log(runtime, bureau, tmp_path: Path):
    out = tmp_path / "report"
    period = this_quarter()
    result = CliRunner().invoke(
        app, ["oversight", "report", "--period", period, "--out", str(out), "--epsilon", "2", "--db",
              runtime.settings.url], env=_signing_env(runtime),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["period"] == period and summary["epsilon"] == 2.0
    assert set(summary["files"]) == {"json", "html", "pdf", "html.en", "pdf.en"}

    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 5_000
    page = (out / "report.html").read_text()  # Chinese by default
    assert '<html lang="zh-CN">' in page and "<svg" in page and "放贷机构按用途的查询" in page and "PIPL-58" in page
    english = (out / "report.en.html").read_text()
    assert '<html lang="en">' in english and "Lenders' inquiries by purpose" in english
    assert (out / "report.en.pdf").read_bytes().startswith(b"%PDF-")
    body = (out / "report.json").read_bytes()
    report = json.loads(body)
    assert summary["sha256"] == hashlib.sha256(body).hexdigest()
    assert report["period"]["label"] == period and report["privacy"]["epsilon_total"] == 2.0
    releases = {r["key"]: r for r in report["privacy"]["releases"]}
    assert {"persons", "inquiries", "denials", "disputes", "rights", "staff_reads", "retention",
            "complaints"} == releases.keys()  # fmt: skip
    exact = {f["key"]: f for f in report["exact"]}
    assert {"organisations", "rules", "retention_runs"} <= exact.keys() and "organisations" not in releases
    assert exact["organisations"]["cells"] == [{"label": "furnishers", "value": 1}, {"label": "lenders", "value": 1}]
    assert all(c["value"] >= 0 for r in releases.values() for c in r["cells"])
    for r in releases.values():  # the stated bound is in the page beside each figure
        assert f"± {r['error_bound_95']}" in page

    # The signed tree head in the report is one the log holds, and the publication is logged.
    with runtime.engine.connect() as conn:
        head = conn.execute(select(log_heads).where(log_heads.c.tree_size == report["log"]["tree_size"])).one()
        events = [json.loads(x) for x in conn.execute(
            select(log_leaves.c.leaf).where(log_leaves.c.kind == "oversight.report")).scalars()]  # fmt: skip
        tokens = set(conn.execute(select(account_snapshots.c.person_token)).scalars())
        tokens |= set(conn.execute(select(consumption_summaries.c.person_token)).scalars())
        tokens |= {t for t in conn.execute(select(parties.c.person_token)).scalars() if t}
    assert (head.root_hash, head.signature) == (report["log"]["root_hash"], report["log"]["signature"])
    assert [(e["period"], e["epsilon"], e["sha256"], e["rule"]) for e in events] == [
        (period, 2.0, summary["sha256"], "PIPL-58")
    ]
    assert "person" not in events[0]

    # No person token anywhere in what was published.
    assert len(tokens) >= 4
    for token in tokens:
        assert token not in page and token not in body.decode() and token.encode() not in pdf

    # A second report on the same period says what the period has cost in all.
    again = CliRunner().invoke(
        app, ["oversight", "report", "--period", period, "--out", str(tmp_path / "again"), "--db",
              runtime.settings.url], env=_signing_env(runtime),
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    second = json.loads((tmp_path / "again" / "report.json").read_text())["privacy"]
    assert second["epsilon_total"] == runtime.settings.oversight_epsilon == 1.0
    assert (second["period_reports"], second["period_epsilon_spent"]) == (2, pytest.approx(3.0))


def test_the_cli_refuses_a_bad_period_or_budget(runtime, tmp_path: Path):
    for args, code in ((["--period", "2026-Q9"], "invalid_period"), (["--period", "2026-Q1", "--epsilon", "0"],
                                                                        "invalid_epsilon")):  # fmt: skip
        result = CliRunner().invoke(
            app, ["oversight", "report", *args, "--out", str(tmp_path / "r"), "--db", runtime.settings.url],
            env=_signing_env(runtime),
        )  # fmt: skip
        assert result.exit_code == 2 and code in result.output, result.output
    assert not (tmp_path / "r" / "report.json").exists()


# Chinese first ---------------------------------------------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S))


def _embedded_font_programs(pdf: Path) -> list[TTFont]:
    """Every font program embedded in the PDF, parsed by fontTools (the subsets keep their cmap)."""
    fonts = []
    for page in PdfReader(pdf).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described["/FontDescriptor"].get_object()
            stream = next(descriptor[k] for k in ("/FontFile3", "/FontFile2", "/FontFile") if k in descriptor)
            fonts.append(TTFont(io.BytesIO(stream.get_object().get_data())))
    return fonts


def test_every_message_of_the_report_has_a_chinese_translation(runtime, bureau):
    with runtime.transaction() as conn:
        content = service.report(conn, runtime, service.parse_period(this_quarter()))
    catalog = merged_catalog("zh_CN")
    figures = [*content["privacy"]["releases"], *content["exact"]]
    messages = {f["title"] for f in figures} | {f["basis"] for f in content["privacy"]["releases"] if f["basis"]}
    messages |= {f["why"] for f in content["exact"]} | set(content["notes"])
    labels = {c["label"] for f in figures for c in f["cells"]}
    messages |= {render.CELL_LABELS[label] for label in labels if label in render.CELL_LABELS}
    missing = sorted(m for m in messages if m not in catalog)
    assert not missing, missing
    # Only rule ids go untranslated, as the law names them.
    raw = labels - render.CELL_LABELS.keys()
    assert raw and all(re.fullmatch(r"[A-Z]+-[A-Z0-9/-]+", label) for label in raw), raw
    page = render.html(content, "zh_CN")
    english_words = re.findall(r"\b[a-z]{4,}\b", _visible_text(page))
    assert len(english_words) < 30, english_words  # the odd library name or code, not sentences


def test_the_chinese_pdf_embeds_fonts_that_draw_every_chinese_character(runtime, bureau, tmp_path: Path):
    with runtime.transaction() as conn:
        content = service.report(conn, runtime, service.parse_period(this_quarter()))
    written = render.write(content, tmp_path)
    needed = set(CJK.findall(_visible_text(written["paths"]["html"].read_text())))
    assert len(needed) > 150  # the whole report is in Chinese, not a title
    pdf = written["paths"]["pdf"]

    fonts = _embedded_font_programs(pdf)
    drawn = {chr(code) for font in fonts for code, glyph in font.getBestCmap().items() if glyph != ".notdef"}
    assert needed <= drawn, f"no embedded glyph for {''.join(sorted(needed - drawn))}"
    assert any("CJK" in font["name"].getDebugName(1) for font in fonts)

    listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = listing.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows), listing  # every font embedded
    extracted = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "个人信息保护报告" in extracted and needed <= set(CJK.findall(extracted))
