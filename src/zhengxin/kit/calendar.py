"""Months and days: the calendar arithmetic every feature shares (retention periods, report
windows, obligation periods). Months are whole calendar months, counted as year * 12 + month - 1;
days are UTC dates."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


def month_index(value: date | str) -> int:
    """A month as a count of months (year * 12 + month - 1), from a date or `YYYY-MM`."""
    if isinstance(value, str):
        return int(value[:4]) * 12 + int(value[5:7]) - 1
    return value.year * 12 + value.month - 1


def month_start(index: int) -> date:
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def month_label(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


@lru_cache(maxsize=8192)
def month_label_of(day: date, back: int = 0) -> str:
    """`YYYY-MM` of the month `back` months before `day`'s (its own, by default)."""
    return month_label(month_index(day) - back)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier, if negative), clamped to the month's end."""
    first = month_start(month_index(day) + months)
    try:
        return first.replace(day=day.day)
    except ValueError:
        return month_start(month_index(first) + 1) - timedelta(days=1)


@lru_cache(maxsize=256)
def last_expired_day(today: date, months: int) -> date:
    """The latest day D with add_months(D, months) <= today: what started on or before it
    is past a `months`-long period (exact, clamping included)."""
    day = add_months(today, -months)
    while add_months(day + timedelta(days=1), months) <= today:
        day += timedelta(days=1)
    return day
