"""A synthetic population and its furnisher files, for the demo, tests and benchmarks.

Deterministic under a seed; every resident ID passes python-stdnum; default depends on the
person's features, so a scorecard trained on the records can learn it.
"""

import dataclasses
from datetime import date

import numpy as np

from zhengxin.synth.banks import bank_records
from zhengxin.synth.files import FURNISHERS, write_files
from zhengxin.synth.population import (
    COLUMNS,
    LENDERS,
    PLATFORMS,
    PUBLIC_RECORDS,
    Organisation,
    Population,
    platforms,
)


def generate(persons: int, seed: int = 0, as_of: date = date(2026, 10, 31)) -> Population:
    """A population of `persons` persons: the records their platforms furnish as of `as_of`, then
    their banks' cards, loans and guarantees and the public records about them, drawn from a
    stream of their own (so the platforms' records are the same as before the banks came)."""
    population, people = platforms(persons, seed, as_of)
    accounts, liabilities, public_records = bank_records(np.random.default_rng([seed, 18]), people, as_of)
    return dataclasses.replace(
        population, bank_accounts=accounts, liabilities=liabilities, public_records=public_records
    )


__all__ = [
    "COLUMNS", "FURNISHERS", "LENDERS", "PLATFORMS", "PUBLIC_RECORDS", "Organisation", "Population", "generate",
    "write_files",
]  # fmt: skip
