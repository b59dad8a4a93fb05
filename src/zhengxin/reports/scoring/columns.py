"""What each column of a training set becomes: a numeric feature, a categorical one, a date
turned into months, or nothing (with the reason and the rule, never silently).

Inference: numbers are numeric, strings and booleans categorical, dates and datetimes are
months before the data's day (`as_of`). The user overrules with `--features`, `--categorical`,
`--exclude`, `--monotonic COL=trend` and `--special COL=V1,V2` (codes such as -1 for "never"
or 999999 for "not stated", binned on their own like a missing value). The same `prepare`
turns a frame into the model's inputs at training, in monitoring and when scoring a row, so
the three can never read a column differently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import polars as pl

from zhengxin.catalog import load_catalog
from zhengxin.catalog.model import PatternList
from zhengxin.identity.resident_id import problems
from zhengxin.reports.scoring.features import BY_NAME, TRAINED

# Attributes a score must not turn on unless the user names them (PIPL-24: no unreasonable
# differential treatment); they stay in the data for the fairness report.
PROTECTED = PatternList(rule="PIPL-24", patterns=(
    "sex", "gender", "age", "birth*", "dob", "region*", "province*", "hukou", "ethnic*", "nationality", "marital*",
))  # fmt: skip
TRENDS = ("ascending", "descending", "auto", "auto_asc_desc", "peak", "valley")
MAX_CATEGORIES = 50  # more distinct values than this is an identifier or free text, not a category
IDENTIFIER_SHARE = 0.9  # a column whose values are this often valid resident IDs holds identities


@dataclass(frozen=True)
class Spec:
    """One feature as trained: its kind, the trend its bins must follow (numeric and dates), its
    special codes, and how the kind was chosen."""

    name: str
    kind: str = "numeric"  # numeric | categorical | date (months before as_of)
    trend: str = "auto_asc_desc"
    special: list = field(default_factory=list)
    chosen: str = "inferred"  # inferred | named

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    specs: list[Spec]
    left_out: list[dict]  # {column, reason, rule}
    as_of: date | None  # the day dates are counted back from
    resident_id: str | None  # the column the fairness groups are derived from, never a feature


def own_specs(frame: pl.DataFrame) -> list[Spec]:
    """The agency's own features where the data has them, with the domain's trends."""
    return [Spec(n, "numeric", BY_NAME[n].trend) for n in TRAINED if n in frame.columns]


def _options(pairs: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise ValueError(f"{what} takes COLUMN=VALUE, not {pair!r}")
        out[column.strip()] = value.strip()
    return out


def plan(
    frame: pl.DataFrame,
    target: str,
    *,
    named: list[str] | None = None,
    categorical: list[str] | None = None,
    exclude: list[str] | None = None,
    monotonic: list[str] | None = None,
    special: list[str] | None = None,
    as_of: date | None = None,
) -> Plan:
    """Decide every column's part. A category never collected (CR-14a) is refused even when
    named; a protected attribute (PIPL-24) is a feature only when named; a resident ID is used
    for the fairness groups and never as a feature."""
    trends, specials = _options(monotonic, "--monotonic"), _options(special, "--special")
    bad_trends = {c: t for c, t in trends.items() if t not in TRENDS}
    if bad_trends:
        raise ValueError(f"--monotonic takes one of {', '.join(TRENDS)}: {bad_trends}")
    mentioned = set(named or []) | set(categorical or []) | set(exclude or []) | set(trends) | set(specials)
    unknown = sorted(mentioned - set(frame.columns))
    if unknown:
        raise ValueError(f"the options name columns the data does not have: {', '.join(unknown)}")
    own = own_specs(frame)
    if own and not (named or categorical or trends or specials):
        ids = [c for c, t in frame.schema.items() if c != target and _kind(frame[c], t, False) == "identity"]
        return Plan(own, [], as_of, ids[0] if ids else None)
    prohibited = load_catalog().prohibited
    specs, left_out, resident_id = [], [], None
    dates = [c for c, t in frame.schema.items() if t.is_temporal() and c != target]
    if as_of is None and dates:
        latest = max(frame[c].max() for c in dates)
        as_of = latest.date() if hasattr(latest, "date") and callable(latest.date) else latest
    for column, dtype in frame.schema.items():
        if column == target:
            continue
        kind = _kind(frame[column], dtype, column in (categorical or []))
        reason, rule = None, None
        if prohibited.matches(column):
            reason, rule = "a category that is never collected, whatever the consent", prohibited.rule
        elif kind == "identity":
            reason, rule = "a resident ID: it gives the fairness groups and is never a feature", "PIPL-24"
            resident_id = resident_id or column
        elif column in (exclude or []):
            reason = "excluded with --exclude"
        elif named and column not in named:
            reason = "not named in --features"
        elif PROTECTED.matches(column) and not named:
            reason, rule = "a protected attribute: for the fairness report; a feature only when named", PROTECTED.rule
        elif kind is None:
            reason = ("too many distinct values: an identifier or free text, not a category"
                      if dtype == pl.String else "a column of this type cannot be binned")  # fmt: skip
        if reason:
            left_out.append({"column": column, "reason": reason, "rule": rule})
            continue
        chosen = "named" if column in (categorical or []) or column in trends else "inferred"
        if kind == "categorical" and column in trends:
            raise ValueError(f"--monotonic: {column!r} is categorical, its categories have no order")
        trend = "none" if kind == "categorical" else trends.get(column, "auto_asc_desc")
        specs.append(Spec(column, kind, trend, _special(specials.get(column), kind), chosen))
    return Plan(specs, left_out, as_of, resident_id)


def _kind(series: pl.Series, dtype: pl.DataType, named_categorical: bool) -> str | None:
    if dtype == pl.String:
        values = series.drop_nulls()
        if len(values) and problems(values.head(1000)).is_null().mean() >= IDENTIFIER_SHARE:
            return "identity"
    if named_categorical or dtype in (pl.String, pl.Boolean, pl.Categorical, pl.Enum):
        return "categorical" if series.n_unique() <= MAX_CATEGORIES else None
    if dtype.is_temporal():
        return "date"
    return "numeric" if dtype.is_numeric() else None


def _special(values: str | None, kind: str) -> list:
    if not values:
        return []
    codes = [v.strip() for v in values.split(",") if v.strip()]
    if kind == "categorical":
        return codes
    try:
        return [float(v) for v in codes]
    except ValueError:
        raise ValueError(f"--special codes of a {kind} column must be numbers: {values!r}") from None


def category(value) -> str:
    """A categorical value as the model holds it: the same text Polars gives the column."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def prepare(frame: pl.DataFrame, specs: list[dict] | list[Spec], as_of: date | None) -> pl.DataFrame:
    """The model's inputs from raw columns: categories as text, dates as whole months before
    `as_of`, numbers as floats; a column the frame lacks is all missing."""
    from zhengxin.reports.scoring.features import _months

    exprs = []
    for s in specs:
        s = s if isinstance(s, dict) else s.as_dict()
        name, kind = s["name"], s.get("kind", "numeric")
        if name not in frame.columns:
            exprs.append(pl.lit(None, dtype=pl.String if kind == "categorical" else pl.Float64).alias(name))
            continue
        column, dtype = pl.col(name), frame.schema[name]
        if kind == "categorical":
            if dtype.is_float():
                column = pl.when(column == column.round(0)).then(column.cast(pl.Int64).cast(pl.String)).otherwise(
                    column.cast(pl.String))
            exprs.append(column.cast(pl.String).alias(name))
        elif kind == "date":
            exprs.append(_months(as_of, column.cast(pl.Date)).cast(pl.Float64).alias(name))
        else:
            exprs.append(column.cast(pl.Float64).alias(name))
    return frame.select(exprs)
