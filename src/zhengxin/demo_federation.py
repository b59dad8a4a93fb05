"""`zhengxin demo --agencies N`: a federation of agencies on one machine (issue 20).

One synthetic population; each platform furnishes every person's loans to one agency or
another (by person and platform, so many persons' loans are split between agencies), the banks,
the courts and the spending and travel records go to agency 1, which alone trains a scorecard
(the others hold too few kinds of record for one). The regulator's node (its own
deployment, holding the OPRF key and the member list) is built and served first; each agency is
a whole `zhengxin demo` deployment in DIR/agency-k with its own secrets, keys and log, admitted
by the regulator and joined as `zhengxin federation join` joins; the last agency is built once
the others serve, so its persons' inquiries show the other agencies' summaries. Agency k serves
on PORT+k-1, the regulator's node on PORT+N.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
from rich.progress import Progress

from zhengxin.config import SECRETS_FILE, load_settings
from zhengxin.demo import DEMO_INDIVIDUALS, build_demo
from zhengxin.deployment import ensure_secrets, init_deployment
from zhengxin.federation import members
from zhengxin.kit import clock
from zhengxin.kit.signing import SigningKeys
from zhengxin.parties.service import Actor, add_party
from zhengxin.runtime import Runtime
from zhengxin.synth import Population, generate
from zhengxin.synth.population import empty


def agency_uscc(k: int) -> str:
    """A valid USCC for demo agency k (the check digit computed, as for every party)."""
    from stdnum.cn import uscc

    body = f"9111000071FED{k:04d}"
    return body + uscc.calc_check_digit(body)


def split(population: Population, agencies: int) -> tuple[list[Population], list[str]]:
    """Each agency's share, and the persons whose loans more than one agency holds."""
    agency = (pl.concat_str("person_id", "furnisher").hash(seed=20) % agencies).alias("agency")
    loans = population.loans.with_columns(agency)
    shares = []
    for k in range(agencies):
        mine = loans.filter(pl.col("agency") == k).drop("agency")
        if k == 0:
            shares.append(Population(population.persons, mine, population.consumption, population.travel,
                                     population.bank_accounts, population.liabilities, population.public_records))
        else:
            shares.append(Population(population.persons, mine, population.consumption.clear(),
                                     population.travel.clear(), empty("loan"), empty("liability"),
                                     empty("public_record")))  # fmt: skip
    both = (loans.filter(pl.col("status").is_in(["current", "overdue"])).group_by("person_id", maintain_order=True)
            .agg(pl.col("agency").n_unique().alias("n")).filter(pl.col("n") == agencies)["person_id"])  # fmt: skip
    return shares, both.head(DEMO_INDIVIDUALS - 3).to_list()


def _secrets(directory: Path, lines: dict[str, str]) -> None:
    ensure_secrets(directory)
    with open(directory / SECRETS_FILE, "a") as f:
        f.writelines(f"{k}={v}\n" for k, v in lines.items())


def _serve(directory: Path, port: int) -> subprocess.Popen:
    log = open(directory / "server.log", "ab")  # noqa: SIM115 (the process keeps it)
    proc = subprocess.Popen([sys.executable, "-c", "from zhengxin.cli import main; main()", "serve", "--dir",
                             str(directory), "--port", str(port), "--no-access-log"], stdout=log, stderr=log,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{directory} did not start serving on port {port}: see {directory / 'server.log'}")


def build_federation_demo(
    data_dir: Path, *, agencies: int, persons: int, seed: int, port: int, progress: Progress | None = None
) -> tuple[dict, list[subprocess.Popen]]:
    """Build the federation in DIR; returns its summary and the servers left running (the
    regulator's node and every agency but the first, which the caller serves or not)."""
    regulator_dir = data_dir / "regulator"
    dirs = [data_dir / f"agency-{k}" for k in range(1, agencies + 1)]
    for directory in (regulator_dir, *dirs):
        shutil.rmtree(directory, ignore_errors=True)
    regulator_url = f"http://127.0.0.1:{port + agencies}"
    _secrets(regulator_dir, {"ZHENGXIN_FEDERATION__OPRF_KEY": secrets.token_hex(32)})
    seeds = []
    for k, directory in enumerate(dirs, start=1):
        seeds.append(secrets.token_bytes(32))
        _secrets(directory, {"ZHENGXIN_FEDERATION__USCC": agency_uscc(k), "ZHENGXIN_FEDERATION__SIGNING_KEY":
                             seeds[-1].hex(), "ZHENGXIN_FEDERATION__REGULATOR_URL": regulator_url})  # fmt: skip
    join_keys = _regulator_node(regulator_dir, dirs, seeds, port)
    servers = [_serve(regulator_dir, port + agencies)]
    shares, both = split(generate(persons, seed=seed), agencies)
    summary: dict = {"agencies": agencies, "persons in more than one agency (shown)": len(both)}
    try:
        for k in range(agencies, 0, -1):  # the first agency last: the others answer its inquiries
            directory = dirs[k - 1]
            _join(directory, regulator_url, join_keys[k - 1])
            built = build_demo(directory, persons=persons, seed=seed, progress=progress, population=shares[k - 1],
                               first_individuals=both, train_model=k == 1)  # fmt: skip
            summary[f"agency {k}: records accepted"] = built["records accepted"]
            summary[f"agency {k}: inquiries allowed"] = built["inquiries allowed"]
            if k > 1:
                servers.append(_serve(directory, port + k - 1))
        summary.update(_national_view(data_dir, dirs))
    except BaseException:
        for proc in servers:
            proc.kill()
        raise
    return summary, servers


def _national_view(data_dir: Path, dirs: list[Path]) -> dict:
    """This month's PSI cardinality runs, agency 1 with each other agency, as the regulator's
    node counts them (the demo reads its figures from the node's database)."""
    from zhengxin.federation import psi_runs
    from zhengxin.federation.flows import run_psi

    month = clock.today().strftime("%Y-%m")
    first = Runtime(load_settings(dirs[0], None))
    for k in range(2, len(dirs) + 1):
        run_psi(first, agency_uscc(k), month)
    first.engine.dispose()
    regulator = Runtime(load_settings(data_dir / "regulator", None))
    with regulator.reading() as conn:
        runs = psi_runs.results(conn)
    regulator.engine.dispose()
    number = {agency_uscc(k): k for k in range(1, len(dirs) + 1)}
    return {f"persons with open loans at agencies 1 and {number[r['responder']]} ({month}, PSI)": r["count"]
            for r in runs}  # fmt: skip


def _regulator_node(directory: Path, dirs: list[Path], seeds: list[bytes], port: int) -> list[str]:
    """The regulator's deployment: its party, each agency's account there (what `federation
    join` authenticates with) and each agency admitted. Returns the agencies' API keys there."""
    settings = init_deployment(directory, None)
    runtime = Runtime(settings)
    keys = []
    with runtime.transaction() as conn:
        row, key = add_party(conn, settings, role="regulator", name="People's Bank of China, federation node (demo)")
        regulator = Actor(row["id"], "regulator", row["name"])
        credentials = [{"role": "regulator", "name": row["name"], "api_key": key}]
        for k, (agency_dir, seed) in enumerate(zip(dirs, seeds, strict=True), start=1):
            agency_settings = load_settings(agency_dir, None)
            public = SigningKeys({"request": seed}, "request").public_keys()["request"]
            artefact_keys = _artefact_keys(agency_settings)
            members.admit(conn, regulator, name=f"Demo Credit Reference Agency {k}", uscc=agency_uscc(k),
                          base_url=f"http://127.0.0.1:{port + k - 1}", signing_key=public,
                          artefact_keys=artefact_keys, now=clock.now())  # fmt: skip
            _, agency_key = add_party(conn, settings, role="agency", name=f"Demo Credit Reference Agency {k}")
            keys.append(agency_key)
            credentials.append({"role": "agency", "name": f"Demo Credit Reference Agency {k}", "api_key": agency_key})
    path = directory / "credentials.json"
    path.write_text(json.dumps(credentials, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    runtime.engine.dispose()
    return keys


def _join(directory: Path, regulator_url: str, api_key: str) -> None:
    """What `zhengxin federation join` does, with the regulator key read from its directory
    (out of band: the same machine)."""
    public = _artefact_keys(load_settings(directory.parent / "regulator", None))
    signed = members.fetch_list(regulator_url, api_key)
    runtime = Runtime(init_deployment(directory, None))
    with runtime.transaction() as conn:
        members.adopt(conn, signed, public, now=clock.now())
    runtime.engine.dispose()


def _artefact_keys(settings) -> dict[str, str]:
    return SigningKeys(settings.artefact_key_bytes(), settings.artefact_active_key).public_keys()
