"""`zhengxin federation …`: a member node joins (takes the regulator's signed member list) and
shows the members it knows."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from zhengxin.cli_common import DbOpt, DirOpt, console, fail, open_runtime

federation_app = typer.Typer(help="The federation of agencies: its members.", no_args_is_help=True)


@federation_app.command("join")
def join(
    regulator: Annotated[str, typer.Option(help="The regulator's node, e.g. https://fed.example")],
    api_key: Annotated[str, typer.Option(help="This agency's API key at the regulator", envvar="ZHENGXIN_FED_KEY")],
    regulator_key: Annotated[
        list[str], typer.Option(help="KEY_ID=HEX: a regulator public key, given out of band (repeatable)")
    ],
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Fetch the regulator's member list, check its signature against the regulator keys given
    here (never against keys the same server sends), and make it this node's list: requests
    from members no longer listed are refused from now on. Run it again to follow changes."""
    from zhengxin.federation import members
    from zhengxin.kit import clock
    from zhengxin.kit.errors import Problem

    keys = dict(k.split("=", 1) for k in regulator_key if "=" in k)
    if len(keys) != len(regulator_key):
        fail(Problem(422, "invalid_arguments", "--regulator-key takes KEY_ID=HEX"))
    try:
        signed = members.fetch_list(regulator, api_key)
        with open_runtime(data_dir, db).transaction() as conn:
            changed = members.adopt(conn, signed, keys, now=clock.now())
    except Problem as p:
        fail(p)
    console.print(", ".join(f"{k}: {len(v)}" for k, v in changed.items()))
    typer.echo(json.dumps(changed))


@federation_app.command("members")
def list_members(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """The current members this node knows, with their addresses and signing keys."""
    from rich.table import Table

    from zhengxin.federation import members

    with open_runtime(data_dir, db).reading() as conn:
        rows = members.current(conn)
    table = Table("USCC", "name", "base URL", "signing key", "admitted")
    for m in rows:
        table.add_row(m["uscc"], m["name"], m["base_url"], m["signing_key"][:16] + "…", m["admitted_at"].isoformat())
    console.print(table)


@federation_app.command("psi")
def psi_run(
    peer: Annotated[str, typer.Option(help="The other member's USCC")],
    month: Annotated[str, typer.Option(help="YYYY-MM: persons with an open loan at its end")],
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Run the regulator's monthly PSI cardinality with another member, as its initiator: the
    regulator's node learns how many persons hold open loans at both, nobody learns who, and
    this member learns only the size of the other's set. Meant for a monthly schedule."""
    from zhengxin.federation.flows import run_psi
    from zhengxin.kit.errors import Problem

    try:
        result = run_psi(open_runtime(data_dir, db), peer, month)
    except Problem as p:
        fail(p)
    console.print(f"run {result['run_id']} for {month} with {peer}: {result['own_persons']:,} persons here, "
                  f"{result['peer_persons']:,} there; {result['bytes_sent']:,} bytes sent")  # fmt: skip
    typer.echo(json.dumps(result))
