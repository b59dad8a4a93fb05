"""`zhengxin supervision run`: refresh the lake, run the supervision analytics, store the run.

The command joins the `supervision` commands (zhengxin.supervision.cli) from here, so the
analytics keep their own module; importing this module registers it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from zhengxin.cli_common import DbOpt, DirOpt, console
from zhengxin.config import load_settings
from zhengxin.kit.errors import Problem
from zhengxin.supervision.cli import supervision_app


def run_command(
    lake: Annotated[Path | None, typer.Option("--lake", help="The lake directory (default: <data dir>/lake)")] = None,
    backend: Annotated[
        str | None, typer.Option(help="duckdb | pyspark (default: the analytics_backend setting, duckdb)")
    ] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Judge by this day (default: today)")
    ] = None,
    export: Annotated[
        bool, typer.Option(help="Refresh the lake from the store first (--no-export: read it as is)")
    ] = True,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Export the lake, run the supervision views (obligations, co-lending, multi-lending,
    inquiries, disputes, outstanding) on DuckDB or PySpark, and store the run that
    GET /v1/supervision/... serves."""
    from zhengxin.analytics.flows import run_supervision
    from zhengxin.runtime import Runtime

    settings = load_settings(data_dir, db)
    runtime = Runtime(settings)
    lake_dir = lake or settings.data_dir / "lake"
    try:
        with console.status(f"supervision analytics on {backend or settings.analytics_backend}"):
            run = run_supervision(
                runtime, lake_dir, backend=backend, as_of=as_of.date() if as_of else None, export=export
            )
    except Problem as p:
        console.print(f"[red]error[/red] {p.code}: {p.detail}" + (f" ({p.rule})" if p.rule else ""))
        raise typer.Exit(2) from None
    finally:
        runtime.engine.dispose()
    rows = {name: len(view) for name, view in run["results"].items()}
    console.print(
        f"supervision run {run['id']} as of {run['as_of'].isoformat()} on {run['backend']} in "
        f"{run['seconds']:.2f} s over {lake_dir}: " + ", ".join(f"{name} {n:,}" for name, n in rows.items())
    )
    typer.echo(
        json.dumps({
            "id": run["id"], "as_of": run["as_of"].isoformat(), "backend": run["backend"], "seconds": run["seconds"],
            "lake": str(lake_dir), "exported": run["exported"], "rows": rows,
        })
    )  # fmt: skip


supervision_app.command("run")(run_command)
