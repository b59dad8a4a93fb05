"""Resident identity numbers (GB 11643) and unified social credit codes (GB 32100).

`validate` is python-stdnum's check for one value. `problems` is the same check written as
Polars expressions so that intake can test a million IDs column-wise; a property test holds
the two equal. Each region code's periods are read from stdnum's database once.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl
from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric, uscc

# ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 for the 17 body digits.
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdentifier(ValueError):
    """A malformed identifier; `code` says how. The message never repeats the value."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def normalise(value: str) -> str:
    return value.strip().replace(" ", "").upper()


def validate(value: str, *, today: date | None = None) -> str:
    """Return the normalised resident ID or raise InvalidIdentifier."""
    number = normalise(value)
    # stdnum's ric.validate, step by step, with each region's periods read once (_region_periods):
    # its own lookup reads the region database on every call, on the path of every inquiry.
    if len(number) != 18:
        raise InvalidIdentifier("resident_id_length", "resident ID must have 18 characters")
    if not (number[:-1].isascii() and number[:-1].isdigit()):
        raise InvalidIdentifier("resident_id_format", "resident ID must be 17 digits and a check character")
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdentifier("resident_id_checksum", "resident ID fails the ISO 7064 MOD 11-2 checksum")
    try:
        birth = ric.get_birth_date(number)
    except stdnum_errors.InvalidComponent:
        raise InvalidIdentifier("resident_id_birth_date", "resident ID has no valid birth date") from None
    if not _region_valid(number[:6], birth.year):
        raise InvalidIdentifier("resident_id_region", "resident ID has an unknown region code")
    if not _EARLIEST_BIRTH <= birth <= (today or date.today()):
        raise InvalidIdentifier("resident_id_birth_date", "resident ID birth date is out of range")
    return number


def validate_uscc(value: str) -> str:
    """Return the normalised unified social credit code or raise InvalidIdentifier."""
    try:
        return uscc.validate(normalise(value))
    except stdnum_errors.ValidationError:
        raise InvalidIdentifier("invalid_uscc", "not a valid unified social credit code") from None


def _region_valid(region: str, year: int) -> bool:
    """Whether a county had this code in the birth year: stdnum's get_birth_place on its region
    database, with each code's periods read once (a lookup there costs ~0.4 ms, and a per
    (region, year) cache missed on most inquiries of a large population)."""
    periods = _region_periods(region)
    return periods is not None and any(
        (start is None or year >= start) and (end is None or year <= end) for start, end in periods
    )


@cache  # a few thousand codes exist
def _region_periods(region: str) -> tuple[tuple[int | None, int | None], ...] | None:
    """The years each county with this code held it ((None, None): every year); None for an
    unknown code."""
    info = {k: v for _, props in numdb.get("cn/loc").info(region) for k, v in props.items()}
    if "county" not in info:
        return None
    periods = []
    for county in info["county"].split(","):
        if not county.startswith("["):
            periods.append((None, None))
            continue
        start, end = county[1:].split("]")[0].split("-")
        periods.append((int(start) if start else None, int(end) if end else None))
    return tuple(periods)


def normalised_expr(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(" ", "", literal=True).str.strip_chars().str.to_uppercase()


def birth_date_expr(normalised: pl.Expr) -> pl.Expr:
    """The birth date a normalised ID carries (null where it holds none)."""
    return normalised.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)


def coming_of_age_expr(normalised: pl.Expr, years: int) -> pl.Expr:
    """The day a normalised ID's holder turns `years` (null where the ID holds no birth date)."""
    return birth_date_expr(normalised).dt.offset_by(f"{years}y")


def problems(ids: pl.Series, *, today: date | None = None) -> pl.Series:
    """For each ID: null when valid, else the problem code (same verdict as `validate`)."""
    frame = pl.DataFrame({"id": ids.cast(pl.String)}).with_columns(normalised_expr("id").alias("n"))
    n = pl.col("n")
    total = pl.sum_horizontal([n.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(_WEIGHTS)])
    check = (12 - total % 11) % 11
    expected = pl.when(check == 10).then(pl.lit("X")).otherwise(check.cast(pl.String))
    birth = birth_date_expr(n)
    frame = frame.with_columns(
        pl.when(n.is_null() | (n.str.len_chars() != 18))
        .then(pl.lit("resident_id_length"))
        .when(~n.str.contains(r"^[0-9]{17}[0-9X]$"))
        .then(pl.lit("resident_id_format"))
        .when(n.str.slice(17, 1) != expected)
        .then(pl.lit("resident_id_checksum"))
        .when(birth.is_null() | (birth < _EARLIEST_BIRTH) | (birth > (today or date.today())))
        .then(pl.lit("resident_id_birth_date"))
        .otherwise(None)
        .alias("problem"),
        n.str.slice(0, 6).alias("region"),
        birth.dt.year().alias("year"),
    )
    pairs = frame.filter(pl.col("problem").is_null()).select("region", "year").unique()
    if pairs.height:
        invalid = [(r, y) for r, y in pairs.iter_rows() if not _region_valid(r, y)]
        if invalid:
            bad = pl.DataFrame(invalid, schema={"region": pl.String, "year": pl.Int32}, orient="row")
            bad = bad.with_columns(pl.lit(True).alias("bad_region"))
            frame = frame.join(bad, on=["region", "year"], how="left", maintain_order="left")
            frame = frame.with_columns(
                pl.when(pl.col("problem").is_null() & pl.col("bad_region").fill_null(False))
                .then(pl.lit("resident_id_region"))
                .otherwise(pl.col("problem"))
                .alias("problem")
            )
    return frame["problem"]
