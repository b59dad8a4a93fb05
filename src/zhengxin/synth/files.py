"""Furnisher files of a synthetic population: one folder per platform, one file per record type."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from zhengxin.synth.population import PLATFORMS, Population

COLUMNS = {
    "loan": [
        "record_type", "person_id", "name", "phone", "consent_ref", "as_of", "account_id", "product", "opened_on",
        "principal_fen", "credit_limit_fen", "balance_fen", "overdue_fen", "days_past_due", "status", "closed_on",
        "platform_share", "co_lender_uscc", "payment_history", "negative_notice_ref",
    ],
    "consumption": ["record_type", "person_id", "name", "consent_ref", "as_of", "month", "category", "amount_fen",
                    "orders"],
    "travel": ["record_type", "person_id", "name", "consent_ref", "as_of", "month", "trips", "cities",
               "separate_consent_ref"],
}  # fmt: skip


def write_files(pop: Population, out: Path, formats: Sequence[str] = ("csv", "jsonl", "parquet")) -> list[Path]:
    out = Path(out)
    written: list[Path] = []
    frames = {"loan": pop.loans, "consumption": pop.consumption, "travel": pop.travel}
    for platform in PLATFORMS:
        folder = out / platform.slug
        for record_type, frame in frames.items():
            rows = frame.filter(pl.col("furnisher") == platform.slug).select(COLUMNS[record_type])
            if rows.height == 0:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for fmt in formats:
                path = folder / f"{record_type}.{fmt}"
                if fmt == "csv":
                    rows.write_csv(path)
                elif fmt == "jsonl":
                    rows.write_ndjson(path)
                elif fmt == "parquet":
                    rows.write_parquet(path)
                else:
                    raise ValueError(f"unknown format {fmt}")
                written.append(path)
    out.mkdir(parents=True, exist_ok=True)
    pop.persons.write_parquet(out / "persons.parquet")
    written.append(out / "persons.parquet")
    return written
