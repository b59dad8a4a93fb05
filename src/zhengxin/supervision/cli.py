"""`zhengxin supervision ...`: the regulator's and the agency's supervision documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from zhengxin.config import load_settings
from zhengxin.kit.errors import Problem

supervision_app = typer.Typer(help="Supervision: the yearly risk assessment and other regulator views.",
                              no_args_is_help=True)  # fmt: skip
console = Console(stderr=True)

DirOpt = Annotated[Path | None, typer.Option("--dir", help="Embedded (SQLite) deployment directory")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL, e.g. postgresql+psycopg://…")]


@supervision_app.command("risk-assessment")
def risk_assessment(
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the assessment (JSON)")],
    year: Annotated[int | None, typer.Option(help="The year assessed (default: this year)")] = None,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Build the yearly data-security risk assessment (DSL-30) from the catalog and the stores,
    and write it as JSON."""
    from fastapi.encoders import jsonable_encoder

    from zhengxin.kit import clock
    from zhengxin.runtime import Runtime
    from zhengxin.supervision import assessment

    runtime = Runtime(load_settings(data_dir, db))
    try:
        with runtime.reading() as conn:
            document = assessment.build(conn, runtime, year or clock.today().year)
    except Problem as p:
        console.print(f"[red]error[/red] {p.code}: {p.detail}" + (f" ({p.rule})" if p.rule else ""))
        raise typer.Exit(2) from None
    finally:
        runtime.engine.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(jsonable_encoder(document), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    missing = [c["module"] for r in document["risks"] for c in r["countermeasures"] if not c["in_place"]]
    console.print(
        f"risk assessment {document['year']} ({document['rule']}): {len(document['data']['record_types'])} record "
        f"types, {document['holdings']['persons_in_vault']:,} persons held, "
        f"{document['volumes']['inquiry']['inquiries']:,} inquiries in the year; written to {out}"
    )
    if missing:
        console.print(f"[yellow]countermeasures not in this build[/yellow]: {', '.join(sorted(set(missing)))}")
