"""`zhengxin oversight report`: the oversight body's periodic protection report (PIPL-58)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from zhengxin.cli_common import DbOpt, DirOpt, console, open_runtime

oversight_app = typer.Typer(help="The oversight body: the periodic protection report (PIPL-58).", no_args_is_help=True)


@oversight_app.command("report")
def report(
    period: Annotated[str, typer.Option(help="A quarter (2026-Q4), a month (2026-11) or a year (2026), UTC")],
    out: Annotated[Path, typer.Option(help="Where report.json and the HTML and PDF (Chinese; .en. English) go")],
    epsilon: Annotated[
        float | None, typer.Option(help="The report's privacy budget (default: the oversight_epsilon setting)")
    ] = None,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Count the period's persons, organisations, inquiries, denials, disputes, rights requests,
    staff reads, erasures and transfers; publish them with OpenDP noise at the stated privacy
    budget as JSON, and as HTML and PDF in Chinese (report.html, report.pdf) and English
    (report.en.html, report.en.pdf), tied to the log's signed tree head; log the publication."""
    from zhengxin.audit.service import sequence_all
    from zhengxin.kit.errors import Problem
    from zhengxin.oversight import render, service

    runtime = open_runtime(data_dir, db)
    try:
        chosen = service.parse_period(period)
        sequence_all(runtime.engine)  # the report counts log events and signs the log as it stands
        with runtime.transaction() as conn:
            content = service.report(conn, runtime, chosen, epsilon)
        written = render.write(content, out)
        with runtime.transaction() as conn:
            service.record_publication(conn, chosen, content["privacy"]["epsilon_total"], written["sha256"])
    except Problem as p:
        console.print(f"[red]error[/red] {p.code}: {p.detail}" + (f" ({p.rule})" if p.rule else ""))
        raise typer.Exit(2) from None
    sequence_all(runtime.engine)
    runtime.engine.dispose()
    privacy = content["privacy"]
    for kind, path in written["paths"].items():
        console.print(f"{kind}: {path}")
    console.print(
        f"period {chosen.label}: {len(privacy['releases'])} releases at ε = {privacy['epsilon_total']:g} "
        f"(ε = {privacy['period_epsilon_spent']:g} spent on this period in all); log tree size "
        f"{content['log']['tree_size']}"
    )
    typer.echo(json.dumps({
        "period": chosen.label, "epsilon": privacy["epsilon_total"], "sha256": written["sha256"],
        "files": {kind: str(path) for kind, path in written["paths"].items()},
        "log_tree_size": content["log"]["tree_size"], "period_epsilon_spent": privacy["period_epsilon_spent"],
    }))  # fmt: skip
