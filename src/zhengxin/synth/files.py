"""The furnisher files of a synthetic population, as platforms would send them to intake.

One folder per platform (the folder says who furnishes, so records carry no `furnisher`
column), one file per record type and format, plus `persons.parquet`: the ground truth,
with the default target, for training and testing a scorecard.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from zhengxin.synth.population import COLUMNS, LENDERS, PLATFORMS, PUBLIC_RECORDS, SCHEMAS, Population

FURNISHERS = [*PLATFORMS, *LENDERS, PUBLIC_RECORDS]  # the banks furnish their own cards, loans and guarantees

FORMATS = ("csv", "jsonl", "parquet")


def write_files(pop: Population, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write `out/<furnisher slug>/<record type>.<format>` and `out/persons.parquet`; return the paths."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = {"loan": pop.accounts, "consumption": pop.consumption, "travel": pop.travel,
              "liability": pop.liabilities, "public_record": pop.public_records}  # fmt: skip
    written: list[Path] = []
    for record_type, frame in frames.items():
        parts = frame.partition_by("furnisher", as_dict=True, maintain_order=True)
        for platform in FURNISHERS:
            rows = parts.pop((platform.slug,), None)
            if rows is None or rows.height == 0:
                continue  # a platform that does not hold this kind of record sends no file
            rows = rows.select(COLUMNS[record_type]).cast(SCHEMAS[record_type])
            folder = out / platform.slug
            folder.mkdir(exist_ok=True)
            for fmt in formats:
                path = folder / f"{record_type}.{fmt}"
                if fmt == "csv":
                    rows.write_csv(path, null_value="", date_format="%Y-%m-%d")
                elif fmt == "jsonl":
                    _write_jsonl(rows, path)
                else:
                    rows.write_parquet(path, statistics=False)
                written.append(path)
    slugs = [p.slug for p in FURNISHERS]
    written.sort(key=lambda path: slugs.index(path.parent.name))  # furnisher by furnisher
    persons = out / "persons.parquet"
    pop.persons.write_parquet(persons, statistics=False)
    written.append(persons)
    return written


def _write_jsonl(rows: pl.DataFrame, path: Path) -> None:
    """One JSON object per line, nulls omitted (intake reads an absent field as null)."""
    # Record type comes first and is never null, so every null field follows a comma; the
    # pattern cannot match inside a string value, where every quote is escaped.
    lines = rows.select(
        pl.struct(pl.all()).struct.json_encode().str.replace_all(r',"[A-Za-z0-9_]+":null', "", literal=False)
    )
    lines.write_csv(path, include_header=False, quote_style="never")
