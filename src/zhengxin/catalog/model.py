"""Catalog schema and loader; a catalog that contradicts itself fails at start, not at intake."""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

DEFAULT_PATH = Path(__file__).with_name("catalog.toml")

FieldType = Literal[
    "resident_id",
    "uscc",
    "name",
    "phone",
    "ref",
    "string",
    "enum",
    "date",
    "month",
    "integer",
    "money",
    "fraction",
    "payment_history",
]
Grade = Literal["general", "important", "core"]
Store = Literal["accounts", "consumption", "travel", "generic"]


# Names a catalog defines, as request fields: the schema bounds the text, the OpenAPI document
# lists the values of the catalog in force (`x-catalog`, filled in by kit/openapi.py), and the
# service refuses any other with its own code. A deployment's catalog may name other purposes.
CATALOG_NAME = r"^[a-z][a-z0-9_]{0,63}$"


def catalog_name(kind: Literal["purposes", "record_types"], description: str = "") -> FieldInfo:
    return Field(pattern=CATALOG_NAME, description=description or None, json_schema_extra={"x-catalog": kind})


Purpose = Annotated[str, catalog_name("purposes", "The purpose of the query, as the catalog names it")]
RecordTypeName = Annotated[str, catalog_name("record_types")]
# What an authorization may name: the catalog's record types, and the scopes beyond them
# (`authorization_scopes`: the federation's summaries, consent.FEDERATION_SCOPE).
AuthorizationScope = Annotated[
    str, Field(pattern=CATALOG_NAME, json_schema_extra={"x-catalog": ["record_types", "authorization_scopes"]})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    type: FieldType
    required: bool = False
    grade: Grade = "general"
    pi: bool = False
    sensitive: bool = False
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    default: int | None = None
    rule: str | None = None
    missing_code: str = "missing_field"
    written_consent: bool = False  # CR-14b categories, accepted only with written_consent_ref


class Constraint(_Strict):
    kind: Literal["one_of", "required_when_negative", "required_when", "not_after", "not_greater"]
    code: str
    fields: tuple[str, ...] = ()
    field: str | None = None
    other: str | None = None
    values: tuple[str, ...] = ()  # required_when: `field` is required when `other` holds one of these
    rule: str | None = None


class RecordType(_Strict):
    description: str
    store: Store
    key: tuple[str, ...]
    consent: Literal["written"] = "written"
    separate_consent: bool = False
    # Credit information kept for its period whatever the person's consent (CR-16): a
    # withdrawal of consent cannot erase it.
    credit_record: bool = False
    retention: str
    retention_months: int = Field(gt=0)
    # The date field the retention period runs from (a record without it, still open, is kept);
    # none: from the record's as_of.
    retention_from: str | None = None
    purposes: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()
    fields: dict[str, FieldSpec]


class PatternList(_Strict):
    rule: str
    patterns: tuple[str, ...]

    def matches(self, field: str) -> bool:
        words = field.strip().lower().replace("-", "_").split("_")
        runs = {"_".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
        return any(fnmatch.fnmatchcase(run, p) for run in runs for p in self.patterns)


class Common(_Strict):
    fields: dict[str, FieldSpec]


class Catalog(_Strict):
    version: str
    purposes: dict[str, str]
    prohibited: PatternList
    written_consent_only: PatternList
    common: Common
    record_types: dict[str, RecordType]
    digest: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        for need in ("record_type", "person_id", "name", "consent_ref", "as_of"):
            if need not in self.common.fields:
                raise ValueError(f"common field {need!r} is missing")
        for rt_name, rt in self.record_types.items():
            overlap = set(rt.fields) & set(self.common.fields)
            if overlap:
                raise ValueError(f"{rt_name}: fields {sorted(overlap)} repeat common fields")
            every = {**self.common.fields, **rt.fields}
            for purpose in rt.purposes:
                if purpose not in self.purposes:
                    raise ValueError(f"{rt_name}: unknown purpose {purpose!r}")
            for key in rt.key:
                if key not in rt.fields or not rt.fields[key].required:
                    raise ValueError(f"{rt_name}: key field {key!r} must be a required field")
            for name, spec in every.items():
                if self.prohibited.matches(name):
                    raise ValueError(f"{rt_name}.{name} is a prohibited category ({self.prohibited.rule})")
                if self.written_consent_only.matches(name) and not spec.written_consent:
                    raise ValueError(
                        f"{rt_name}.{name} needs written_consent = true ({self.written_consent_only.rule})"
                    )
                if spec.type == "enum" and not spec.values and name != "record_type":
                    raise ValueError(f"{rt_name}.{name}: an enum needs values")
            for c in rt.constraints:
                named = [*c.fields, *(x for x in (c.field, c.other) if x)]
                for f in named:
                    if f not in every:
                        raise ValueError(f"{rt_name}: constraint {c.kind} names unknown field {f!r}")
            if misnamed := [c.kind for c in rt.constraints if (c.kind == "required_when") != bool(c.values)]:
                raise ValueError(f"{rt_name}: required_when, and only it, names values ({misnamed})")
            start = rt.fields.get(rt.retention_from) if rt.retention_from else None
            if rt.retention_from and (rt.store != "generic" or start is None or start.type != "date"):
                raise ValueError(f"{rt_name}: retention_from must name a date field of a generic record type")
            if rt.separate_consent and "separate_consent_ref" not in rt.fields:
                raise ValueError(f"{rt_name}: separate consent needs a separate_consent_ref field")
        return self

    def names(self) -> dict[str, list[str]]:
        """What `x-catalog` fields may hold, by kind."""
        return {"purposes": list(self.purposes), "record_types": list(self.record_types)}

    def fields_of(self, record_type: str) -> dict[str, FieldSpec]:
        common = dict(self.common.fields)
        common["record_type"] = common["record_type"].model_copy(update={"values": tuple(self.record_types)})
        return {**common, **self.record_types[record_type].fields}

    def all_field_names(self) -> set[str]:
        names = set(self.common.fields)
        for rt in self.record_types.values():
            names |= set(rt.fields)
        return names


def parse_catalog(text: str) -> Catalog:
    data = tomllib.loads(text)
    data["digest"] = hashlib.sha256(text.encode()).hexdigest()
    return Catalog.model_validate(data)


@lru_cache(maxsize=8)
def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate the catalog (the packaged one unless a path is given)."""
    return parse_catalog(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
