"""Screenshots of each role's main portal page for the README's tour.

    .venv/bin/python scripts/screenshots.py [--dir DEMO_DIR] [--out docs/screenshots] [--lang zh_CN]

Builds a 300-person demo in a temporary directory unless --dir names an existing one, serves
it on a free port, signs in as each role in the machine's Chromium and saves one PNG per role.
Then the model card of a scorecard trained on a lender's mixed-type application data
(`synth.applications`), monitored on a later month whose applicants shifted: model-card.png.
With --federation: a lender's report at agency 1 of a two-agency demo federation, with agency
2's summary (`zhengxin demo --agencies 2`): lender-federation.png.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from zhengxin.app import create_app
from zhengxin.config import load_settings
from zhengxin.demo import build_demo
from zhengxin.runtime import Runtime

PAGES = [  # (role, which of that role's credentials, page, file)
    ("individual", 0, "/portal/me", "individual.png"),
    # The demo's tenth person: two bank cards, and a bank that spells their name otherwise.
    ("individual", 9, "/portal/me", "individual-cards.png"),
    ("lender", 0, "/portal/lender/inquiries", "lender.png"),
    ("furnisher", 0, "/portal/furnisher", "furnisher.png"),
    ("regulator", 0, "/portal/regulator", "regulator.png"),
    ("overseer", 0, "/portal/overseer", "overseer.png"),
    ("agency", 0, "/portal/agency", "agency.png"),
    ("agency", 0, "/portal/agency/models", "agency-models.png"),
]


def serve(data_dir: Path) -> tuple[str, uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=Runtime(load_settings(data_dir))), port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--lang", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--federation", action="store_true", help="only the federation report")
    args = parser.parse_args()
    if args.federation:
        return federation_report(args)
    data_dir = args.dir
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="zhengxin-shots-"))
        build_demo(data_dir, persons=300)
    credentials = json.loads((data_dir / "credentials.json").read_text())
    base, server = serve(data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
        for role, index, url, name in PAGES:
            party = [c for c in credentials if c["role"] == role][index]
            context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page = context.new_page()
            page.goto(f"{base}/portal/lang/{args.lang}?next=/portal/signin")
            page.fill("input[name=api_key]", party["api_key"])
            if role == "individual":
                page.fill("input[name=person_id]", party["person_id"])
            page.press("input[name=api_key]", "Enter")
            page.wait_for_load_state()
            page.goto(base + url)
            if role == "individual":  # the person's report is fetched on request
                page.click("form[action='/portal/me/report'] button")
            page.wait_for_load_state("networkidle")
            charts = page.locator("div.chart")
            for i in range(charts.count()):
                charts.nth(i).locator("svg").first.wait_for(timeout=15_000)
            page.screenshot(path=str(args.out / name), full_page=True)
            print(f"{role:11} {url:22} -> {args.out / name}")
            context.close()
        card = args.out.parent / "model-card.html"  # beside the screenshots only while shooting
        card.write_text(_mixed_type_card(args.lang))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(card.resolve().as_uri())
        page.screenshot(path=str(args.out / "model-card.png"), full_page=True)
        card.unlink()
        print(f"model card {'':16} -> {args.out / 'model-card.png'}")
        browser.close()
    server.should_exit = True


def federation_report(args) -> None:
    """A person both agencies hold authorizes the lender at agency 1 with the federation scope;
    the lender runs the inquiry in the portal."""
    import httpx

    from zhengxin.demo_federation import build_federation_demo

    data_dir = Path(tempfile.mkdtemp(prefix="zhengxin-federation-shots-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] % 40_000 + 20_000
    _, servers = build_federation_demo(data_dir, agencies=2, persons=600, seed=0, port=port)
    try:
        agency1 = data_dir / "agency-1"
        one = json.loads((agency1 / "credentials.json").read_text())
        both = {c["person_id"] for c in json.loads((data_dir / "agency-2" / "credentials.json").read_text())
                if c["role"] == "individual"}  # fmt: skip
        person = next(c for c in one if c["role"] == "individual" and c["person_id"] in both)
        lender = next(c for c in one if c["role"] == "lender")
        base, server = serve(agency1)
        granted = httpx.post(f"{base}/v1/authorizations", headers={"Authorization": f"Bearer {person['api_key']}"},
                             json={"lender": lender["name"], "purpose": "loan_application",
                                   "scopes": ["loan", "federation"]}).json()  # fmt: skip
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/portal/lang/{args.lang}?next=/portal/signin")
            page.fill("input[name=api_key]", lender["api_key"])
            page.press("input[name=api_key]", "Enter")
            page.wait_for_load_state()
            page.goto(f"{base}/portal/lender")
            page.fill("input[name=person_id]", person["person_id"])
            page.fill("input[name=authorization_id]", granted["id"])
            page.click("form[action='/portal/lender'] button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(args.out / "lender-federation.png"), full_page=True)
            browser.close()
        server.should_exit = True
        print(f"lender, federation report -> {args.out / 'lender-federation.png'}")
    finally:
        for proc in servers:
            proc.kill()


def _mixed_type_card(lang: str) -> str:
    import polars as pl

    from zhengxin.reports.scoring.columns import plan
    from zhengxin.reports.scoring.model import render_card, train
    from zhengxin.reports.scoring.monitoring import monitor
    from zhengxin.synth.applications import applications

    data = applications(5000, seed=1)
    model, card = train(data, "bad", plan=plan(data, "bad", special=["months_since_delinquency=-1"]), seed=1)
    later = pl.concat([
        applications(3000, seed=2).with_columns(month=pl.lit("2026-11")),
        applications(3000, seed=3).filter(pl.col("checking_account") != "none").with_columns(month=pl.lit("2026-12")),
    ])  # fmt: skip
    return render_card(card, monitoring=monitor(model, card, later, month="month"), locale=lang)


if __name__ == "__main__":
    main()
