"""Time: instants in UTC, legal days in Beijing, replaceable in tests so deadlines can be checked
without waiting.

An instant (a record's `created_at`, a signature's time) is stored and shown in UTC. A legal day
(the yearly free self-queries of CR-17, the 20 days of CR-25, a due day, an expiry day, the
year a transfer counts in) is a day of the calendar in Asia/Shanghai, where the rules apply:
a request at 17:00 UTC on 31 December is made on 1 January.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LEGAL_ZONE = ZoneInfo("Asia/Shanghai")

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def today() -> date:
    """Today's legal day (the date in Beijing)."""
    return legal_day(now())


def legal_day(instant: datetime) -> date:
    """The legal day an instant falls on."""
    return instant.astimezone(LEGAL_ZONE).date()


def legal_start(day: date) -> datetime:
    """The instant (UTC) a legal day begins: 16:00 UTC the evening before."""
    return datetime.combine(day, time(), LEGAL_ZONE).astimezone(UTC)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    global _frozen
    previous, _frozen = _frozen, instant.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
