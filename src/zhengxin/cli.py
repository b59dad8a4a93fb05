"""The `zhengxin` command line: deployments, parties, synthetic data, furnishing, the demo."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from zhengxin.analytics import cli as _analytics_cli  # noqa: F401 - adds `supervision run`
from zhengxin.cli_common import DbOpt, DirOpt, console, fail, open_runtime
from zhengxin.config import load_settings
from zhengxin.federation.cli import federation_app
from zhengxin.furnishing.flows import furnish_file
from zhengxin.kit.errors import Problem
from zhengxin.lake.cli import lake_app
from zhengxin.oversight.cli import oversight_app
from zhengxin.supervision.cli import supervision_app

app = typer.Typer(help="zhengxin: a supervised personal-credit data exchange.", no_args_is_help=True)
parties_app = typer.Typer(help="Register parties and issue API keys.", no_args_is_help=True)
vault_app = typer.Typer(help="The PII vault: key rotation.", no_args_is_help=True)
log_app = typer.Typer(help="The transparency log: verify, sign, witness, check receipts.", no_args_is_help=True)
app.add_typer(parties_app, name="parties")
app.add_typer(vault_app, name="vault")
app.add_typer(log_app, name="log")
authorizations_app = typer.Typer(help="Authorizations: check a signed artefact offline.", no_args_is_help=True)
app.add_typer(authorizations_app, name="authorizations")
app.add_typer(oversight_app, name="oversight")
app.add_typer(supervision_app, name="supervision")
app.add_typer(lake_app, name="lake")
app.add_typer(federation_app, name="federation")


@app.command()
def init(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """Create (or migrate) a deployment's database; an embedded one also gets fresh secrets."""
    from zhengxin.deployment import init_deployment

    settings = init_deployment(data_dir, db)
    console.print(f"database ready ({settings.url.split(':')[0]})")


@app.command()
def serve(
    data_dir: DirOpt = None,
    db: DbOpt = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request: method, route template, status, time, party (never a raw URL)")
    ] = True,
) -> None:
    """Serve the API (and portal) of an existing deployment."""
    import os

    import uvicorn

    from zhengxin.app import create_app

    console.print(f"serving on http://{host}:{port}: the portal at /portal/, API docs at /docs")
    os.environ["ZHENGXIN_ACCESS_LOG"] = "true" if access_log else "false"  # our own logger (see app.RequestMetrics)
    if workers == 1:
        uvicorn.run(create_app(runtime=open_runtime(data_dir, db)), host=host, port=port, log_level="info",
                    access_log=False, log_config=_log_config())  # fmt: skip
        return
    # Each worker process builds its own app from the environment.
    if data_dir is not None:
        os.environ["ZHENGXIN_DATA_DIR"] = str(data_dir.resolve())
    if db is not None:
        os.environ["ZHENGXIN_DATABASE_URL"] = db
    _serve_workers(host, port, workers)


def _serve_workers(host: str, port: int, workers: int) -> None:
    """N request workers and one background worker (zhengxin.background). The workers run
    under uvicorn's multiprocess supervisor on a listening socket we bind ourselves: uvicorn's
    own leaves `proto` at 0, so asyncio never sets TCP_NODELAY on accepted connections and
    each keep-alive request waits ~40 ms for a delayed ACK (Kludex/uvicorn#3149, open)."""
    import multiprocessing
    import os
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ["ZHENGXIN_LOG_SCHEDULE"] = "false"  # the workers serve; one background worker does the rest
    keeper = multiprocessing.get_context("spawn").Process(target=_keep_log_forever, name="background", daemon=True)
    keeper.start()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    config = uvicorn.Config("zhengxin.app:serve_app", factory=True, host=host, port=port, workers=workers,
                            log_level="info", access_log=False, log_config=_log_config())  # fmt: skip
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        keeper.terminate()


def _log_config() -> dict:
    """uvicorn's logging, plus our `zhengxin` loggers (the access log among them) on its handler.
    uvicorn's own access log stays off: it prints raw paths and query strings."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["zhengxin"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _keep_log_forever() -> None:
    import threading

    from zhengxin.background import keep
    from zhengxin.runtime import Runtime

    keep(Runtime(load_settings()), threading.Event())


@parties_app.command("add")
def parties_add(
    kind: Annotated[str, typer.Argument(help="agency | furnisher | lender | individual | regulator | overseer")],
    name: Annotated[str, typer.Argument()],
    uscc: Annotated[str | None, typer.Option(help="Unified social credit code (furnishers, lenders)")] = None,
    person_id: Annotated[str | None, typer.Option(help="Resident ID (individuals)")] = None,
    staff: Annotated[bool, typer.Option(help="An agency account for one named member of staff")] = False,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Register a party and print its API key (shown once)."""
    from zhengxin.parties.service import add_party

    runtime = open_runtime(data_dir, db)
    try:
        with runtime.transaction() as conn:
            row, key = add_party(
                conn, runtime.settings, role=kind, name=name, uscc=uscc, person_id=person_id, staff=staff
            )
    except Problem as p:
        fail(p)
    typer.echo(json.dumps({"id": row["id"], "role": kind, "name": name, "api_key": key}))


@app.command()
def synth(
    persons: Annotated[int, typer.Option(min=1)] = 10_000,
    out: Annotated[Path, typer.Option()] = Path("synth"),
    seed: Annotated[int, typer.Option()] = 0,
    formats: Annotated[str, typer.Option(help="Comma-separated: csv,jsonl,parquet")] = "csv,jsonl,parquet",
) -> None:
    """Write a synthetic population's furnisher files (one folder per platform)."""
    from zhengxin.synth import generate, write_files

    with console.status(f"generating {persons:,} persons"):
        population = generate(persons, seed=seed)
    with console.status("writing files"):
        paths = write_files(population, out, [f.strip() for f in formats.split(",") if f.strip()])
        # The scorecard's training set: features computed by the serving code, and the outcomes.
        from zhengxin.reports.scoring.features import from_population

        training = out / "training.parquet"
        from_population(population, population.loans["as_of"].max()).write_parquet(training)
        paths.append(training)
    console.print(
        f"{persons:,} persons, {population.loans.height:,} loans, {population.consumption.height:,} consumption "
        f"and {population.travel.height:,} travel records in {len(paths)} files under {out}"
    )


model_app = typer.Typer(help="Credit scoring models: train, register and activate scorecards.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _names(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@model_app.command("train")
def model_train(
    data: Annotated[Path, typer.Option(help="CSV or Parquet with feature columns and the target")],
    target: Annotated[str, typer.Option(help="The binary outcome column: 1 = default")],
    out: Annotated[Path, typer.Option(help="Where the model and its card go")] = Path("model"),
    seed: Annotated[int, typer.Option()] = 0,
    test_share: Annotated[float, typer.Option(min=0.05, max=0.9)] = 0.3,
    data_dir: DirOpt = None,
    db: DbOpt = None,
    activate: Annotated[bool, typer.Option(help="Also make it the live model (with --dir or --db)")] = False,
    features: Annotated[str | None, typer.Option(help="Comma-separated columns to use (protected: only so)")] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated columns to bin as categories")] = None,
    exclude: Annotated[str | None, typer.Option(help="Comma-separated columns never to use")] = None,
    monotonic: Annotated[list[str] | None, typer.Option(help="COL=ascending|descending|auto (repeatable)")] = None,
    special: Annotated[list[str] | None, typer.Option(help="COL=V1,V2: codes binned apart")] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Dates count back from it")] = None,
    groups: Annotated[str | None, typer.Option(help="Comma-separated columns for the fairness report")] = None,
    cutoff: Annotated[float | None, typer.Option(help="Approval score for the fairness report")] = None,
) -> None:
    """Train a points scorecard (optimal binning, monotonic trends, logistic regression) on a
    held-out split and write model.json with its model card (JSON and HTML). Numbers, categories
    (strings, booleans, or columns named with --categorical) and dates (months before --as-of)
    are all used; every column left out is listed with its reason. With --dir or --db the model
    is also registered in that deployment (and, with --activate, made live)."""
    import hashlib

    import polars as pl

    from zhengxin.reports.scoring.columns import plan
    from zhengxin.reports.scoring.model import read_training_data, train, write_card

    try:
        frame = read_training_data(data)
    except (ValueError, OSError, pl.exceptions.PolarsError) as e:
        fail(Problem(422, "unreadable_training_data", str(e)))
    source = {"file": data.name, "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    with console.status(f"training on {frame.height:,} rows"):
        try:
            chosen = plan(frame, target, named=_names(features), categorical=_names(categorical),
                          exclude=_names(exclude), monotonic=monotonic, special=special,
                          as_of=as_of.date() if as_of else None)  # fmt: skip
            for s in chosen.specs:
                console.print(f"feature {s.name}: {s.kind}" + (f", trend {s.trend}" if s.kind != "categorical" else "")
                              + (f", special codes {s.special}" if s.special else "") + f" ({s.chosen})")
            for x in chosen.left_out:
                console.print(f"not used: {x['column']}: {x['reason']}" + (f" ({x['rule']})" if x["rule"] else ""))
            model, card = train(frame, target, plan=chosen, test_share=test_share, seed=seed, source=source,
                                groups=_names(groups), cutoff=cutoff)  # fmt: skip
        except ValueError as e:
            fail(Problem(422, "invalid_training_data", str(e)))
    paths = write_card(model, card, out)
    test = card["metrics"]["test"]
    console.print(
        f"model {model['version']}: holdout AUC {test['auc']}, KS {test['ks']}, Gini {test['gini']}, "
        f"PSI {card['metrics']['psi_train_test']:.4f}; wrote {', '.join(str(p) for p in paths)}"
    )
    if data_dir is not None or db is not None:
        _register(data_dir, db, model, card, activate)
    typer.echo(json.dumps({"version": model["version"], "metrics": card["metrics"]}))


def _register(data_dir: Path | None, db: str | None, model: dict, card: dict, activate: bool) -> None:
    from zhengxin.kit import clock
    from zhengxin.reports.scoring import service as scoring

    runtime = open_runtime(data_dir, db)
    try:
        with runtime.transaction() as conn:
            scoring.register(conn, model, card, now=clock.now())
            if activate:
                scoring.activate(conn, model["version"], now=clock.now())
    except Problem as p:
        fail(p)
    console.print(f"registered {model['version']}" + (" and made it live" if activate else ""))


@model_app.command("register")
def model_register(
    model_dir: Annotated[Path, typer.Argument(help="A directory `model train` wrote (model.json, model-card.json)")],
    data_dir: DirOpt = None,
    db: DbOpt = None,
    activate: Annotated[bool, typer.Option(help="Also make it the live model")] = False,
) -> None:
    """Register a trained model in a deployment; its content must match its version's digest."""
    try:
        model = json.loads((model_dir / "model.json").read_text())
        card = json.loads((model_dir / "model-card.json").read_text())
    except (OSError, ValueError) as e:
        fail(Problem(422, "invalid_model", f"cannot read the model in {model_dir}: {e}"))
    _register(data_dir, db, model, card, activate)


@model_app.command("monitor")
def model_monitor(
    data: Annotated[Path, typer.Option(help="CSV or Parquet of a later population, with the model's columns")],
    model_dir: Annotated[Path | None, typer.Option("--model", help="A directory `model train` wrote")] = None,
    version: Annotated[str | None, typer.Option(help="A version registered in the deployment (--dir or --db)")] = None,
    month: Annotated[str | None, typer.Option(help="The date or YYYY-MM column to group by month")] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Dates count back from it")] = None,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Population stability of the score (PSI) and characteristic stability of every feature
    (CSI) against the training sample, by month; 0.10 or more is flagged watch, 0.25 or more act.
    With --model the card in that directory shows it; with --dir or --db the deployment keeps
    it for the agency's model page."""
    import hashlib

    import polars as pl

    from zhengxin.reports.scoring import service as scoring
    from zhengxin.reports.scoring.model import read_training_data, render_card
    from zhengxin.reports.scoring.monitoring import monitor

    if (model_dir is None) == (version is None):
        fail(Problem(422, "invalid_arguments", "name the model with --model DIR or --version V (not both)"))
    deployed = data_dir is not None or db is not None
    try:
        if model_dir is not None:
            model = json.loads((model_dir / "model.json").read_text())
            card = json.loads((model_dir / "model-card.json").read_text())
        else:
            if not deployed:
                fail(Problem(422, "invalid_arguments", "--version needs the deployment: --dir or --db"))
            with open_runtime(data_dir, db).reading() as conn:
                model, card = scoring.model(conn, version), scoring.card(conn, version)
        frame = read_training_data(data)
    except (OSError, ValueError, pl.exceptions.PolarsError) as e:
        fail(Problem(422, "invalid_model_or_data", str(e)))
    except Problem as p:
        fail(p)
    with console.status(f"monitoring {model['version']} on {frame.height:,} rows"):
        try:
            months = monitor(model, card, frame, month=month, as_of=as_of.date() if as_of else None)
        except ValueError as e:
            fail(Problem(422, "invalid_monitoring_data", str(e)))
    table = Table("month", "rows", "PSI", "flag", "features flagged")
    for m in months:
        flagged = ", ".join(f"{n} {c['csi']:.3f} ({c['flag']})" for n, c in m["csi"].items() if c["flag"] != "stable")
        table.add_row(m["month"], f"{m['rows']:,}", f"{m['psi']:.4f}", m["flag"], flagged or "—")
    console.print(table)
    if model_dir is not None:
        (model_dir / "monitoring.json").write_text(json.dumps(months, indent=2))
        (model_dir / "model-card.html").write_text(render_card(card, monitoring=months))
    if deployed:
        from zhengxin.kit import clock

        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        try:
            with open_runtime(data_dir, db).transaction() as conn:
                scoring.record_monitoring(conn, model["version"], months, data_sha256=digest, now=clock.now())
        except Problem as p:
            fail(p)
    typer.echo(json.dumps({"version": model["version"], "months": months}))


@model_app.command("activate")
def model_activate(
    version: Annotated[str, typer.Argument(help="A registered model version (sc-…)")],
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Make a registered model version live; every score from now on names it."""
    from zhengxin.kit import clock
    from zhengxin.reports.scoring import service as scoring

    runtime = open_runtime(data_dir, db)
    try:
        with runtime.transaction() as conn:
            scoring.activate(conn, version, now=clock.now())
    except Problem as p:
        fail(p)
    console.print(f"{version} is live")


@model_app.command("deactivate")
def model_deactivate(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """Take the live model down: the score product answers 409 until one is activated."""
    from zhengxin.kit import clock
    from zhengxin.reports.scoring import service as scoring

    with open_runtime(data_dir, db).transaction() as conn:
        version = scoring.deactivate(conn, now=clock.now())
    console.print(f"{version} is no longer live" if version else "no model was live")


@model_app.command("list")
def model_list(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """Registered models, newest first, with their holdout figures."""
    from zhengxin.reports.scoring import service as scoring

    with open_runtime(data_dir, db).reading() as conn:
        models = scoring.list_models(conn)
    table = Table("version", "live", "trained", "test AUC", "test KS", "PSI")
    for m in models:
        metrics = m["metrics"] or {}
        table.add_row(
            m["version"], "yes" if m["active"] else "", m["trained_at"] or "", str(metrics.get("test", {}).get("auc")),
            str(metrics.get("test", {}).get("ks")), f"{metrics.get('psi_train_test', 0):.4f}",
        )  # fmt: skip
    Console().print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:>10,} records"),
        TimeRemainingColumn(),
        console=console,
    )


@app.command()
def furnish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    furnisher: Annotated[str, typer.Option(help="The furnisher's party name")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv | jsonl | parquet (default: by suffix)")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Default: the file's SHA-256")] = None,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Furnish a file of records as a furnisher, with a progress bar."""
    runtime = open_runtime(data_dir, db)
    try:
        with _progress() as progress:
            batch = furnish_file(runtime, furnisher, file, fmt, idempotency_key, progress)
    except Problem as p:
        fail(p)
    word = "already furnished" if batch["replayed"] else "furnished"
    console.print(
        f"{word}: batch {batch['id']} received {batch['received']:,}, accepted {batch['accepted']:,}, "
        f"rejected {batch['rejected']:,}"
    )
    if batch["rejected"]:
        console.print(f"error report: GET /v1/furnishing/batches/{batch['id']}/errors")
    typer.echo(json.dumps({k: batch[k] for k in ("id", "received", "accepted", "rejected", "replayed")}))


@vault_app.command("rotate")
def vault_rotate(
    key_id: Annotated[str | None, typer.Option(help="Rotate to this configured key (default: a new key)")] = None,
    data_dir: DirOpt = None,
    db: DbOpt = None,
) -> None:
    """Re-encrypt every vault value and quarantined record under a new (or the given) key."""
    from zhengxin.flows.rotation import rotate_keys

    settings = load_settings(data_dir, db)
    try:
        result = rotate_keys(settings, data_dir if db is None else None, key_id)
    except Problem as p:
        fail(p)
    console.print(
        f"active key {result['key_id']}: re-encrypted {result['vault']:,} vault values and "
        f"{result['quarantine']:,} quarantined records"
    )


@log_app.command("verify")
def log_verify(
    data_dir: DirOpt = None,
    db: DbOpt = None,
    remote: Annotated[str | None, typer.Option(help="Verify a running server at this URL instead")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="ZHENGXIN_API_KEY", help="For --remote")] = None,
    state: Annotated[Path | None, typer.Option(help="For --remote: the last verified head, kept here")] = None,
) -> None:
    """Recompute the tree from the leaves and check every signed head; exit 1 on any mismatch."""
    from zhengxin.audit.check import verify_remote, verify_store
    from zhengxin.audit.service import log_signer

    if remote:
        if not api_key:
            console.print("[red]error[/red] --remote needs --api-key (or ZHENGXIN_API_KEY)")
            raise typer.Exit(2)
        result = verify_remote(remote, api_key, state)
    else:
        runtime = open_runtime(data_dir, db)
        with runtime.engine.connect() as conn, console.status("verifying") as status:
            result = verify_store(
                conn, log_signer(runtime).public_keys(), lambda n: status.update(f"verifying: {n:,} leaves read")
            )
        runtime.engine.dispose()
    for problem in result["problems"]:
        console.print(f"[red]mismatch[/red] {problem}")
    if result["problems"]:
        console.print(f"[red]the log does not verify[/red]: {len(result['problems'])} problem(s)")
        raise typer.Exit(1)
    console.print(
        f"log verified: {result['tree_size']:,} leaves, {result.get('heads', 1)} signed head(s), "
        f"{result['cosignatures']} cosignature(s)"
    )
    if result.get("queued"):
        console.print(f"{result['queued']:,} event(s) queued for the sequencer, not yet in the tree")


@app.command("worker")
def worker(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """Run the background worker until stopped: sequence the log, sign heads, push webhooks
    (for deployments whose servers run with ZHENGXIN_LOG_SCHEDULE=false)."""
    import threading

    from zhengxin.background import JOBS, keep

    runtime = open_runtime(data_dir, db)
    console.print(f"background worker: {', '.join(job.name for job in JOBS)} (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        keep(runtime, threading.Event())


@log_app.command("keep")
def log_keep(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """The background worker under its first name (`zhengxin worker`): sequences and signs the
    log, and pushes webhooks, until stopped."""
    worker(data_dir, db)


@log_app.command("sign")
def log_sign(data_dir: DirOpt = None, db: DbOpt = None) -> None:
    """Sequence queued log events and sign a tree head now."""
    from zhengxin.audit.service import log_signer, sequence_all, sign_head

    runtime = open_runtime(data_dir, db)
    sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        head = sign_head(conn, log_signer(runtime))
    typer.echo(json.dumps(head))


@log_app.command("check-receipt")
def log_check_receipt(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    public_key: Annotated[str | None, typer.Option(help="The log's key (hex) from a source you trust")] = None,
) -> None:
    """Check a receipt offline: leaf, inclusion proof and signed tree head."""
    from zhengxin.audit.verify import VerificationError, verify_receipt

    receipt = json.loads(file.read_text())
    key_id = receipt["sth"]["key_id"]
    if public_key is None:
        public_key = receipt["log_key"]["public_key"]
        console.print("[yellow]note[/yellow] using the key inside the receipt; pin it with --public-key")
    try:
        verify_receipt(receipt, {key_id: public_key})
    except (VerificationError, KeyError) as e:
        console.print(f"[red]receipt does not verify[/red]: {e}")
        raise typer.Exit(1) from None
    console.print(
        f"receipt verified: leaf {receipt['leaf_index']} is in the log of {receipt['sth']['tree_size']:,} "
        f"leaves signed by {key_id}"
    )


@log_app.command("witness")
def log_witness(
    url: Annotated[str, typer.Option(help="The server to witness")],
    key_file: Annotated[Path, typer.Option(help="Your Ed25519 witness key (32-byte seed, hex); created if missing")],
    api_key: Annotated[str, typer.Option(envvar="ZHENGXIN_API_KEY")],
    state: Annotated[Path, typer.Option(help="The last head you cosigned")] = Path("witness-state.json"),
) -> None:
    """Cosign the latest tree head after checking it extends the last one you cosigned."""
    import os
    import secrets

    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from zhengxin.audit.verify import VerificationError
    from zhengxin.audit.witness import cosign_latest

    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_file.read_text().strip()))
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            head = cosign_latest(http, api_key, key, state)
    except VerificationError as e:
        console.print(f"[red]refusing to cosign[/red]: {e}")
        raise typer.Exit(1) from None
    console.print(f"cosigned the head at size {head['tree_size']:,}")


@authorizations_app.command("verify")
def authorizations_verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The authorization as the API returns it")],
    public_key: Annotated[str, typer.Option(help="The agency's key (hex), from GET /v1/authorizations/keys")],
    person_id: Annotated[str | None, typer.Option(help="Also check it was given by this resident ID")] = None,
) -> None:
    """Check an authorization offline: the agency's signature over the exact artefact bytes,
    and (with --person-id) that the person who gave it holds this resident ID (opening the
    artefact's commitment with the `person_secret` handed out beside it)."""
    from zhengxin.consent.artefact import InvalidArtefact, is_about, verify
    from zhengxin.identity.resident_id import InvalidIdentifier, validate

    held = json.loads(file.read_text())
    try:
        body = verify(held["artefact"], held["signature"], {held["key_id"]: public_key})
    except (InvalidArtefact, KeyError) as e:
        console.print(f"[red]authorization does not verify[/red]: {e}")
        raise typer.Exit(1) from None
    if person_id is not None:
        try:
            given_by_them = is_about(body, validate(person_id), held.get("person_secret"))
        except InvalidIdentifier as e:
            console.print(f"[red]error[/red] {e.code}: {e}")
            raise typer.Exit(2) from None
        except InvalidArtefact as e:
            console.print(f"[red]authorization does not verify[/red]: {e}")
            raise typer.Exit(1) from None
        if not given_by_them:
            console.print("[red]authorization does not verify[/red]: it was given by another person")
            raise typer.Exit(1)
    console.print(
        f"authorization {body['id']} verified: {body['lender']['name']} may query for {body['purpose']} "
        f"({', '.join(body['scopes'])}) until {body['expires_on']}"
    )


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--dir")] = Path("zhengxin-demo"),
    persons: Annotated[int, typer.Option(min=100)] = 10_000,
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    agencies: Annotated[
        int, typer.Option(min=1, max=3, help="2 or 3: a federation of agencies in DIR/agency-k, each serving on "
                          "PORT+k-1, and the regulator's node in DIR/regulator on PORT+N")  # fmt: skip
    ] = 1,
) -> None:
    """Build an embedded demo deployment through the real intake path, then serve it."""
    if agencies > 1:
        _federation_demo(data_dir, agencies=agencies, persons=persons, seed=seed, port=port, no_serve=no_serve)
        return
    from zhengxin.demo import build_demo

    for name in ("zhengxin.db", "zhengxin.db-wal", "zhengxin.db-shm", "secrets.env", "credentials.json"):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / "synth", ignore_errors=True)
    shutil.rmtree(data_dir / "witnesses", ignore_errors=True)
    with _progress() as progress:
        summary = build_demo(data_dir, persons=persons, seed=seed, progress=progress)
    _demo_summary(f"zhengxin demo in {data_dir}", summary)
    console.print(f"credentials: {data_dir / 'credentials.json'}")
    if not no_serve:
        serve(data_dir=data_dir, db=None, host="127.0.0.1", port=port, workers=1, access_log=True)


def _demo_summary(title: str, summary: dict) -> None:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    console.print(table)


def _federation_demo(data_dir: Path, *, agencies: int, persons: int, seed: int, port: int, no_serve: bool) -> None:
    """The federation demo: the regulator's node and every agency but the first serve in their
    own processes while this one serves agency 1 (or, with --no-serve, all stop once built)."""
    from zhengxin.demo_federation import build_federation_demo

    with _progress() as progress:
        summary, servers = build_federation_demo(data_dir, agencies=agencies, persons=persons, seed=seed, port=port,
                                                 progress=progress)  # fmt: skip
    try:
        _demo_summary(f"zhengxin federation demo in {data_dir}", summary)
        for k in range(1, agencies + 1):
            console.print(f"agency {k}: http://127.0.0.1:{port + k - 1}, credentials {data_dir / f'agency-{k}'}"
                          "/credentials.json")  # fmt: skip
        console.print(f"the regulator's node: http://127.0.0.1:{port + agencies}")
        if not no_serve:
            serve(data_dir=data_dir / "agency-1", db=None, host="127.0.0.1", port=port, workers=1, access_log=True)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)


retention_app = typer.Typer(help="Lawful forgetting: erase what is past its retention period.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(
    data_dir: DirOpt = None,
    db: DbOpt = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Judge by this day (default: today)")
    ] = None,
) -> None:
    """Erase what is past its retention period: negative information 5 years after the
    delinquency ended (CR-16), closed accounts, consumption, travel and other records after their
    catalog periods, and PII vault entries nothing needs any more (PIPL-47). Logs one event per
    affected person and records the run; a second run the same day erases nothing.

    Meant to run once a day, scheduled by cron (`15 2 * * * zhengxin retention run --dir DIR`)
    or a systemd timer (OnCalendar=daily) beside the server.
    """
    from zhengxin.audit.service import sequence_all
    from zhengxin.flows import retention
    from zhengxin.kit import clock

    runtime = open_runtime(data_dir, db)
    day = as_of.date() if as_of is not None else clock.today()
    try:
        with (
            Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=console,
            ) as progress,
            runtime.transaction() as conn,
        ):  # fmt: skip
            tasks: dict[str, int] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=max(total, 1))
                progress.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

            result = retention.run(conn, runtime, day, progress=tick)
    except Problem as p:
        fail(p)
    sequence_all(runtime.engine)  # no server may be running to do it
    runtime.engine.dispose()
    erased = result["erased"]
    console.print(
        f"retention run {result['id']} as of {day.isoformat()}: {result['persons']:,} person(s) affected"
        + ("".join(f"\n  {kind}: {n:,}" for kind, n in erased.items()) if erased else ", nothing to erase")
    )
    typer.echo(json.dumps({"id": result["id"], "as_of": day.isoformat(), "persons": result["persons"],
                           "erased": erased}))  # fmt: skip


def main() -> None:  # pragma: no cover
    app(prog_name="zhengxin")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
