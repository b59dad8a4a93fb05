"""Finding personal identifiers in log text: resident IDs (by pattern and checksum), mobile
numbers, and the names of the synthetic population the tests furnish."""

from __future__ import annotations

import re
from functools import cache

from stdnum.cn import ric

RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
TEST_NAMES = ("张伟", "李娜", "王芳")  # tests/records.py


@cache
def synthetic_names() -> frozenset[str]:
    """The names of the demo population the browser tests and the CLI tests build."""
    from zhengxin.synth import generate

    return frozenset(generate(300, seed=0).persons["name"].to_list()) | frozenset(TEST_NAMES)


def identifiers_in(text: str, names: frozenset[str] | None = None) -> list[str]:
    """Every resident ID, mobile number or known name in `text`."""
    found = [m for m in RESIDENT_ID.findall(text) if ric.is_valid(m.upper())]
    found += MOBILE.findall(text)
    found += sorted(n for n in (synthetic_names() if names is None else names) if n in text)
    return found
