"""What every `zhengxin` command shares: the deployment options, opening the runtime they name,
the console, and how a refused request ends a command. The feature CLIs (lake, supervision,
analytics, oversight) and zhengxin.cli import it; it imports none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from zhengxin.config import load_settings
from zhengxin.kit.errors import Problem

console = Console(stderr=True)

DirOpt = Annotated[Path | None, typer.Option("--dir", help="Embedded (SQLite) deployment directory")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL, e.g. postgresql+psycopg://…")]


def open_runtime(data_dir: Path | None, db: str | None):
    """The deployment in `data_dir` (SQLite), at `db`, or named by ZHENGXIN_DATABASE_URL."""
    from zhengxin.runtime import Runtime  # the web stack, only for commands that open a deployment

    return Runtime(load_settings(data_dir, db))


def fail(problem: Problem) -> None:
    """End the command with the problem's code, detail and rule, exit status 2."""
    console.print(f"[red]error[/red] {problem.code}: {problem.detail}" + (f" ({problem.rule})" if problem.rule else ""))
    raise typer.Exit(2)
