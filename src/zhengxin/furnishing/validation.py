"""Column-wise validation of furnished records against the catalog.

Every check is a Polars expression over a whole chunk, so a million records cost a few
vector operations per field rather than a million Python calls. Each problem has a stable
code (and the rule id where a legal rule decided); messages never repeat a value, since a
value may be a resident ID, a name or a phone number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl
from stdnum.cn import uscc as stdnum_uscc

from zhengxin.catalog import Catalog, FieldSpec, RecordType
from zhengxin.identity import resident_id
from zhengxin.identity.tokens import person_tokens
from zhengxin.records.history import PAYMENT_SYMBOLS

INTERNAL = {"__line", "__pos", "__id_problem"}  # bookkeeping columns; any other name is checked
_REF = r"^[A-Za-z0-9._:\-]{1,64}$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_PHONE = r"^1[3-9][0-9]{9}$"
_EARLIEST = date(1900, 1, 1)

ID_MESSAGES = {
    "resident_id_length": "person_id must have 18 characters",
    "resident_id_format": "person_id must be 17 digits and a check character (0-9 or X)",
    "resident_id_checksum": "person_id fails the ISO 7064 MOD 11-2 checksum",
    "resident_id_birth_date": "person_id holds no valid birth date",
    "resident_id_region": "person_id holds an unknown region code",
}


@dataclass
class Verdict:
    accepted: dict[str, pl.DataFrame]  # record type -> typed records with person_token and __line
    rejected: pl.DataFrame  # __line, record_type, field, code, rule, message, errors


def typed(name: str, spec: FieldSpec) -> pl.Expr:
    """The value of a String column as its catalog type (null where it does not parse)."""
    col = pl.col(name)
    if spec.type in ("integer", "money"):
        return col.cast(pl.Int64, strict=False)
    if spec.type == "fraction":
        return col.cast(pl.Float64, strict=False)
    if spec.type == "date":
        return pl.when(col.str.contains(_DATE)).then(col.str.to_date("%Y-%m-%d", strict=False))
    if spec.type == "resident_id":
        return resident_id.normalised_expr(name)
    if spec.type == "uscc":
        return col.str.to_uppercase()
    return col


class SeenKeys:
    """64-bit hashes of keys met earlier in a batch: memory grows by 8 bytes a key, not a record."""

    def __init__(self):
        self.keys = pl.Series("k", [], dtype=pl.UInt64)

    def fresh(self, keys: pl.Series) -> pl.Series:
        """True where a key is met for the first time in the batch; remembers those keys."""
        first = keys.is_first_distinct() & ~keys.is_in(self.keys.implode())
        self.keys = pl.concat([self.keys, keys.filter(first)])
        return first


class Validator:
    def __init__(
        self, catalog: Catalog, pepper: bytes, today: date, withdrawn: dict[str, list[str]] | None = None, *,
        child_age: int = 14, account_owners: Callable[[list[str]], pl.DataFrame] | None = None,
    ):  # fmt: skip
        self.catalog = catalog
        self.pepper = pepper
        self.today = today  # the legal day of intake (Beijing)
        self.child_age = child_age  # PIPL-28, PIPL-31
        # Whom the furnisher's accounts already belong to in the store (records.repository), and
        # in this batch so far (64-bit hashes: 16 bytes an account).
        self._account_owners = account_owners
        self._batch_owners = pl.DataFrame(schema={"__account": pl.UInt64, "__owner": pl.UInt64})
        self.known = catalog.all_field_names()
        self._seen = SeenKeys()  # record keys met earlier in the batch
        # Person tokens by record type whose consent the person withdrew (PIPL-15), read once a batch.
        self._withdrawn = {t: pl.Series("t", tokens, dtype=pl.String) for t, tokens in (withdrawn or {}).items()}

    def check(self, frame: pl.DataFrame) -> Verdict:
        values = [c for c in frame.columns if c not in INTERNAL]
        frame = frame.with_columns(
            [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in values]
            + [pl.int_range(pl.len(), dtype=pl.Int64).alias("__pos")]
        )
        if "person_id" in frame.columns:
            frame = frame.with_columns(resident_id.problems(frame["person_id"], today=self.today).alias("__id_problem"))
        checks = _Checks(frame)
        self._column_checks(checks, values)
        rt = pl.col("record_type") if "record_type" in frame.columns else pl.lit(None, dtype=pl.String)
        checks.add(rt.is_null(), "record_type", "missing_field", "record_type is required")
        checks.add(
            rt.is_not_null() & ~rt.is_in(list(self.catalog.record_types)),
            "record_type",
            "invalid_enum",
            f"record_type must be one of {', '.join(self.catalog.record_types)}",
        )
        for name, spec in self.catalog.record_types.items():
            self._record_type_checks(checks, rt == name, name, spec, values)
        self._consent_checks(checks, frame, values)
        errors = checks.collect()
        clean = frame.join(errors.select("__pos").unique(), on="__pos", how="anti")
        accepted, duplicates = self._accept(clean)
        if duplicates.height:
            errors = pl.concat([errors, duplicates], how="vertical_relaxed")
        rejected = _rejections(frame, errors)
        return Verdict(accepted=accepted, rejected=rejected)

    # Field names: minimisation (CM-7) and the prohibited categories (CR-14a, CR-14b).
    def _column_checks(self, checks: _Checks, values: list[str]) -> None:
        for name in values:
            if name in self.known:
                continue
            present = pl.col(name).is_not_null()
            if self.catalog.prohibited.matches(name):
                rule = self.catalog.prohibited.rule
                checks.add(present, name, "prohibited_field", f"field {name!r} is a prohibited category", rule)
            elif self.catalog.written_consent_only.matches(name):
                rule = self.catalog.written_consent_only.rule
                checks.add(
                    present,
                    name,
                    "written_consent_required",
                    f"field {name!r} may only be furnished with written consent and is not in the catalog",
                    rule,
                )
            else:
                checks.add(
                    present, name, "unknown_field", f"field {name!r} is not in the catalog (minimisation)", "CM-7"
                )

    def _record_type_checks(
        self, checks: _Checks, is_type: pl.Expr, rt_name: str, spec: RecordType, values: list[str]
    ) -> None:
        fields = self.catalog.fields_of(rt_name)
        for name in values:
            if name in self.known and name not in fields:
                checks.add(
                    is_type & pl.col(name).is_not_null(),
                    name,
                    "unknown_field",
                    f"field {name!r} is not part of a {rt_name} record (minimisation)",
                    "CM-7",
                )
        for name, fspec in fields.items():
            if name == "record_type":
                continue
            if name not in values:
                if fspec.required:
                    checks.add(is_type, name, fspec.missing_code, f"{name} is required", fspec.rule)
                continue
            col = pl.col(name)
            if fspec.required:
                checks.add(is_type & col.is_null(), name, fspec.missing_code, f"{name} is required", fspec.rule)
            for bad, code, message in self._type_checks(name, fspec):
                checks.add(is_type & col.is_not_null() & bad, name, code, message)
        present = set(values)
        for c in spec.constraints:
            if c.kind == "one_of":
                have = [pl.col(f).is_not_null() for f in c.fields if f in present]
                none = ~pl.any_horizontal(have) if have else pl.lit(True)
                checks.add(is_type & none, c.fields[0], c.code, f"one of {', '.join(c.fields)} is required", c.rule)
            elif c.kind == "required_when_negative":
                negative = self._negative(fields, present)
                missing = pl.col(c.field).is_null() if c.field in present else pl.lit(True)
                checks.add(
                    is_type & negative & missing,
                    c.field,
                    c.code,
                    f"{c.field} is required on negative information (overdue or written off)",
                    c.rule,
                )
            elif c.kind == "required_when":
                when = pl.col(c.other).is_in(list(c.values)).fill_null(False) if c.other in present else pl.lit(False)
                missing = pl.col(c.field).is_null() if c.field in present else pl.lit(True)
                checks.add(is_type & when & missing, c.field, c.code,
                           f"{c.field} is required when {c.other} is {' or '.join(c.values)}", c.rule)  # fmt: skip
            elif c.field in present and c.other in present:
                a, b = typed(c.field, fields[c.field]), typed(c.other, fields[c.other])
                word = "later than" if c.kind == "not_after" else "greater than"
                checks.add(is_type & (a > b).fill_null(False), c.field, c.code, f"{c.field} is {word} {c.other}")

    def _consent_checks(self, checks: _Checks, frame: pl.DataFrame, values: list[str]) -> None:
        """A child's record needs the guardian's consent (PIPL-31); a written-consent field needs
        the written consent's reference (CR-14b)."""
        if "person_id" in values:
            adult_on = resident_id.coming_of_age_expr(resident_id.normalised_expr("person_id"), self.child_age)
            child = pl.col("__id_problem").is_null() & (adult_on > self.today)
            no_guardian = pl.col("guardian_consent_ref").is_null() if "guardian_consent_ref" in values else pl.lit(True)
            checks.add(child.fill_null(False) & no_guardian, "guardian_consent_ref", "guardian_consent_required",
                       f"the person is under {self.child_age}: a record needs guardian_consent_ref, the reference "
                       "to the guardian's consent", "PIPL-31")  # fmt: skip
        no_written = pl.col("written_consent_ref").is_null() if "written_consent_ref" in values else pl.lit(True)
        rt = pl.col("record_type") if "record_type" in values else pl.lit(None, dtype=pl.String)
        for rt_name in self.catalog.record_types:
            for name, fspec in self.catalog.fields_of(rt_name).items():
                if fspec.written_consent and name in values:
                    checks.add((rt == rt_name) & pl.col(name).is_not_null() & no_written, "written_consent_ref",
                               "written_consent_required", f"{name} needs written_consent_ref, the reference to "
                               "the written consent given after notice of the consequences", "CR-14b")  # fmt: skip

    def _one_owner_per_account(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """An account of a furnisher belongs to one person: a record naming another person for
        an account already held (in the store, earlier in the batch or the chunk) is refused, and
        the holder's file stays theirs. A furnisher that really assigned an account to the wrong
        person moves it with a reassignment (furnishing.flows.reassign), which both files show."""
        account = pl.col("account_id").hash(seed=11).alias("__account")
        stored = self._account_owners(rows["account_id"].unique().to_list()).select(
            account, pl.col("owner_token").hash(seed=11).alias("__owner")
        )
        known = pl.concat([self._batch_owners, stored]).unique("__account", keep="first")
        rows = rows.with_columns(account, pl.col("person_token").hash(seed=11).alias("__person"))
        rows = rows.join(known, on="__account", how="left", maintain_order="left").with_columns(
            pl.coalesce("__owner", pl.col("__person").first().over("__account")).alias("__owner")
        )
        clash = rows["__owner"] != rows["__person"]
        kept = rows.filter(~clash)
        self._batch_owners = pl.concat(
            [self._batch_owners, kept.select("__account", pl.col("__person").alias("__owner")).unique("__account")]
        ).unique("__account", keep="first")
        errors = rows.filter(clash).select(
            "__pos",
            pl.lit("account_id").alias("field"),
            pl.lit("account_of_another_person").alias("code"),
            pl.lit("PIPL-46").alias("rule"),
            pl.lit("this account_id already belongs to another person at this furnisher; a reassignment "
                   "goes through POST /v1/furnishing/reassignments").alias("message"),
            pl.lit(8_000).alias("order"),
        )  # fmt: skip
        return kept.drop("__account", "__person", "__owner"), errors

    @staticmethod
    def _negative(fields: dict[str, FieldSpec], present: set[str]) -> pl.Expr:
        parts = []
        if "days_past_due" in present:
            parts.append(typed("days_past_due", fields["days_past_due"]) > 0)
        if "overdue_fen" in present:
            parts.append(typed("overdue_fen", fields["overdue_fen"]) > 0)
        if "status" in present:
            parts.append(pl.col("status").is_in(["overdue", "written_off"]))
        return pl.any_horizontal(parts).fill_null(False) if parts else pl.lit(False)

    def _type_checks(self, name: str, spec: FieldSpec) -> list[tuple[pl.Expr, str, str]]:
        col = pl.col(name)
        value = typed(name, spec)
        t = spec.type
        if t == "resident_id":
            problem = pl.col("__id_problem")
            return [(problem == code, code, msg) for code, msg in ID_MESSAGES.items()]
        if t == "uscc":
            return [
                (
                    ~value.map_batches(_uscc_valid, return_dtype=pl.Boolean),
                    "invalid_uscc",
                    f"{name} is not a valid unified social credit code",
                )
            ]
        if t == "name":
            return [
                (
                    (col.str.len_chars() > 64) | col.str.contains(r"[\x00-\x1f0-9@]"),
                    "invalid_name",
                    f"{name} must be a personal name of at most 64 characters",
                )
            ]
        if t == "phone":
            return [
                (
                    ~col.str.replace(r"^(\+86|0086)", "").str.contains(_PHONE),
                    "invalid_phone",
                    f"{name} must be an 11-digit mainland mobile number",
                )
            ]
        if t == "ref":
            return [(~col.str.contains(_REF), "invalid_ref", f"{name} must be 1-64 of A-Z a-z 0-9 . _ : -")]
        if t == "string":
            return [(col.str.len_chars() > 200, "too_long", f"{name} is longer than 200 characters")]
        if t == "enum":
            return [(~col.is_in(list(spec.values)), "invalid_enum", f"{name} must be one of {', '.join(spec.values)}")]
        if t == "date":
            return [
                (value.is_null(), "invalid_date", f"{name} must be a date YYYY-MM-DD"),
                (value < _EARLIEST, "invalid_date", f"{name} is before 1900"),
                (value > self.today, "future_date", f"{name} is in the future"),
            ]
        if t == "month":
            return [
                (~col.str.contains(_MONTH), "invalid_month", f"{name} must be a month YYYY-MM"),
                (col > self.today.strftime("%Y-%m"), "future_date", f"{name} is in the future"),
            ]
        if t in ("integer", "money"):
            checks = [(value.is_null(), "invalid_integer", f"{name} must be a whole number")]
            if t == "money":
                checks.append((value < 0, "negative_amount", f"{name} must not be negative (amounts are fen >= 0)"))
            if spec.min is not None:
                checks.append((value < spec.min, "out_of_range", f"{name} must be at least {spec.min}"))
            if spec.max is not None:
                checks.append((value > spec.max, "out_of_range", f"{name} must be at most {spec.max}"))
            return checks
        if t == "fraction":
            return [
                (value.is_null() | value.is_nan(), "invalid_number", f"{name} must be a number"),
                ((value < 0) | (value > 1), "out_of_range", f"{name} must be between 0 and 1"),
            ]
        if t == "payment_history":
            return [
                (
                    ~col.str.contains(f"^[{PAYMENT_SYMBOLS}]{{24}}$"),
                    "invalid_payment_history",
                    f"{name} must be 24 symbols of {PAYMENT_SYMBOLS}, newest month first",
                )
            ]
        raise ValueError(f"no checks for field type {t}")

    def _accept(self, clean: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
        """Typed frames per record type, and the errors found on the way: records of a type the
        person withdrew consent to, duplicate records."""
        accepted: dict[str, pl.DataFrame] = {}
        duplicates: list[pl.DataFrame] = []
        if clean.height == 0:
            return accepted, _Checks.empty()
        clean = clean.with_columns(person_id=resident_id.normalised_expr("person_id"))
        clean = clean.with_columns(person_token=person_tokens(self.pepper, clean["person_id"]))
        for rt_name, spec in self.catalog.record_types.items():
            rows = clean.filter(pl.col("record_type") == rt_name)
            if rows.height == 0:
                continue
            fields = self.catalog.fields_of(rt_name)
            rows = rows.with_columns(
                [
                    (typed(n, f) if n in rows.columns else pl.lit(None)).cast(_dtype(f)).alias(n)
                    for n, f in fields.items()
                    if n != "record_type"
                ]
            ).with_columns([pl.col(n).fill_null(f.default) for n, f in fields.items() if f.default is not None])
            key = [*spec.key, "person_token"] if spec.store != "accounts" else [*spec.key, "__month"]
            rows = rows.with_columns(pl.col("as_of").dt.strftime("%Y-%m").alias("__month"))
            rows = rows.with_columns(
                pl.concat_str([pl.lit(rt_name), *[pl.col(k).cast(pl.String) for k in key]], separator="\x1f")
                .hash(seed=7)
                .alias("__key")
            )
            if spec.store == "accounts" and self._account_owners is not None:
                rows, clashes = self._one_owner_per_account(rows)
                if clashes.height:
                    duplicates.append(clashes)
            withdrawn = self._withdrawn.get(rt_name)
            if withdrawn is not None:
                refused = rows["person_token"].is_in(withdrawn.implode())
                if refused.any():
                    duplicates.append(
                        rows.filter(refused).select(
                            "__pos",
                            pl.lit("record_type").alias("field"),
                            pl.lit("consent_withdrawn").alias("code"),
                            pl.lit("PIPL-15").alias("rule"),
                            pl.lit(f"the person has withdrawn consent to {rt_name} records").alias("message"),
                            pl.lit(9_000).alias("order"),
                        )
                    )
                    rows = rows.filter(~refused)
            dup = ~self._seen.fresh(rows["__key"])
            if dup.any():
                duplicates.append(
                    rows.filter(dup).select(
                        "__pos",
                        pl.lit(spec.key[0]).alias("field"),
                        pl.lit("duplicate_record").alias("code"),
                        pl.lit(None, dtype=pl.String).alias("rule"),
                        pl.lit(
                            f"an earlier {rt_name} record in this batch has the same key ({', '.join(spec.key)}"
                            + (", month)" if spec.store == "accounts" else ")")
                        ).alias("message"),
                        pl.lit(10_000).alias("order"),
                    )
                )
                rows = rows.filter(~dup)
            accepted[rt_name] = rows.select("__line", "person_token", *[n for n in fields if n != "record_type"])
        return accepted, pl.concat(duplicates) if duplicates else _Checks.empty()


def _dtype(spec: FieldSpec) -> pl.DataType:
    return {
        "integer": pl.Int64,
        "money": pl.Int64,
        "fraction": pl.Float64,
        "date": pl.Date,
    }.get(spec.type, pl.String)


def _uscc_valid(values: pl.Series) -> pl.Series:
    verdict = {}
    for v in values.drop_nulls().unique().to_list():
        try:
            stdnum_uscc.validate(v)
            verdict[v] = True
        except Exception:
            verdict[v] = False
    return values.replace_strict(verdict, default=True, return_dtype=pl.Boolean)


class _Checks:
    """Collects (row, field, code, rule, message) for every failing check, in check order."""

    SCHEMA = {
        "__pos": pl.Int64,
        "field": pl.String,
        "code": pl.String,
        "rule": pl.String,
        "message": pl.String,
        "order": pl.Int32,
    }

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame
        self.checks: list[tuple[pl.Expr, str, str, str, str | None]] = []

    def add(self, failing: pl.Expr, field: str, code: str, message: str, rule: str | None = None) -> None:
        self.checks.append((failing.fill_null(False), field, code, message, rule))

    def collect(self) -> pl.DataFrame:
        """One pass computes every check as a boolean column; only failing rows are unpivoted."""
        if not self.checks:
            return self.empty()
        verdicts = self.frame.select(
            pl.col("__pos"), *[expr.alias(f"c{i}") for i, (expr, *_) in enumerate(self.checks)]
        )
        failing = verdicts.filter(pl.any_horizontal(pl.exclude("__pos")))
        if failing.height == 0:
            return self.empty()
        long = failing.unpivot(index="__pos", variable_name="check", value_name="failed").filter("failed")
        meta = pl.DataFrame(
            {
                "check": [f"c{i}" for i in range(len(self.checks))],
                "field": [c[1] for c in self.checks],
                "code": [c[2] for c in self.checks],
                "rule": [c[4] for c in self.checks],
                "message": [c[3] for c in self.checks],
                "order": list(range(len(self.checks))),
            },
            schema={"check": pl.String, **{k: v for k, v in self.SCHEMA.items() if k != "__pos"}},
        )
        return long.join(meta, on="check").select(list(self.SCHEMA))

    @classmethod
    def empty(cls) -> pl.DataFrame:
        return pl.DataFrame(schema=cls.SCHEMA)


def _rejections(frame: pl.DataFrame, errors: pl.DataFrame) -> pl.DataFrame:
    """One row per rejected record: its first problem, and all of them in `errors`."""
    if errors.height == 0:
        return pl.DataFrame(
            schema={
                "__pos": pl.Int64,
                "__line": pl.Int64,
                "record_type": pl.String,
                "field": pl.String,
                "code": pl.String,
                "rule": pl.String,
                "message": pl.String,
                "errors": pl.String,
            }
        )
    ordered = errors.cast({"order": pl.Int32}).sort(["__pos", "order"])
    grouped = ordered.group_by("__pos", maintain_order=True).agg(
        pl.col("field").first(),
        pl.col("code").first(),
        pl.col("rule").first(),
        pl.col("message").first(),
        pl.struct("field", "code", "rule", "message").alias("all"),
    )
    encoded = pl.col("all").list.eval(pl.element().struct.json_encode()).list.join(",")
    grouped = grouped.with_columns(pl.concat_str([pl.lit("["), encoded, pl.lit("]")]).alias("errors"))
    rt = (
        [pl.col("record_type")]
        if "record_type" in frame.columns
        else [pl.lit(None, dtype=pl.String).alias("record_type")]
    )
    lines = frame.select("__pos", "__line", *rt)
    return grouped.join(lines, on="__pos").select(
        "__pos", "__line", "record_type", "field", "code", "rule", "message", "errors"
    )
