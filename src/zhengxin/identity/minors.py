"""Persons under 14 (PIPL-28, PIPL-31): intake refuses their records without a guardian's consent
and notes each one met here, so that wherever sensitive persons are counted (a cross-border
export) they count as sensitive, whatever the record type, until their 14th birthday."""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Connection, func, select

from zhengxin.identity import resident_id
from zhengxin.identity.tables import minors
from zhengxin.kit.staging import upsert_frame


def of_people(people: pl.DataFrame, today: date, child_age: int) -> pl.DataFrame:
    """(person_token, adult_on) of the persons in `people` (person_token, person_id, normalised)
    who are under `child_age` on `today`."""
    adult_on = resident_id.coming_of_age_expr(pl.col("person_id"), child_age)
    return (
        people.select("person_token", adult_on.alias("adult_on"))
        .filter(pl.col("adult_on") > today)
        .unique("person_token")
    )


def note(conn: Connection, frame: pl.DataFrame) -> None:
    if frame.height:
        upsert_frame(conn, "minors", frame, ["person_token"])


def count_among(conn: Connection, tokens, today: date) -> int:
    """How many of these persons (a subquery with a `person_token` column) are under 14 today."""
    return conn.execute(
        select(func.count()).select_from(minors)
        .where(minors.c.person_token.in_(select(tokens.c.person_token)), minors.c.adult_on > today)
    ).scalar_one()  # fmt: skip
