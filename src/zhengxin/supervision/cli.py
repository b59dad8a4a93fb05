"""`zhengxin supervision ...`: the regulator's and the agency's supervision documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from zhengxin.cli_common import DbOpt, DirOpt, console, fail, open_runtime
from zhengxin.kit.errors import Problem

supervision_app = typer.Typer(help="Supervision: the yearly risk assessment and other regulator views.",
                              no_args_is_help=True)  # fmt: skip


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
    from zhengxin.supervision import assessment

    runtime = open_runtime(data_dir, db)
    try:
        with runtime.reading() as conn:
            document = assessment.build(conn, runtime, year or clock.today().year)
    except Problem as p:
        fail(p)
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
