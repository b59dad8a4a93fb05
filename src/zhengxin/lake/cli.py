"""`zhengxin lake …`: export the store to the Parquet lake the analytics read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from zhengxin.cli_common import DbOpt, DirOpt, console, fail, open_runtime

lake_app = typer.Typer(help="The analytics lake: Parquet snapshots of the store, tokens only.", no_args_is_help=True)


@lake_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The lake directory (created if new)", file_okay=False)],
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Bring the lake in --out up to date: new months and changed months of accounts,
    consumption and travel, new inquiries, denials, batches, rejections and log entries, and
    the small tables when they changed. A second run with nothing new writes no data file.
    Prints a summary as JSON on its last line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from zhengxin.kit.errors import Problem
    from zhengxin.lake.export import export

    runtime = open_runtime(data_dir, db)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console,
        ) as progress:  # fmt: skip
            tasks: dict[str, int] = {}

            def tick(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=max(total, 1))
                progress.update(tasks[table], completed=done if total else 1, total=max(total, 1))

            summary = export(runtime, out, progress=tick)
    except Problem as p:
        fail(p)
    finally:
        runtime.engine.dispose()
    table = Table("table", "rows", "files", "partitions", "removed", "seconds", title=f"lake {out}")
    for name, t in summary["tables"].items():
        table.add_row(name, f"{t['rows']:,}", str(t["files"]), _months(t["partitions"]), _months(t["removed"]),
                      f"{t['seconds']:.2f}")  # fmt: skip
    console.print(table)
    console.print(
        f"{summary['rows']:,} rows in {summary['files']} file(s) in {summary['seconds']:.1f} s"
        if summary["files"]
        else "the lake was up to date: nothing written"
    )
    typer.echo(json.dumps(summary))


def _months(months: list[str]) -> str:
    if len(months) > 4:
        return f"{len(months)} months, {months[0]} … {months[-1]}"
    return ", ".join(months) or "-"
