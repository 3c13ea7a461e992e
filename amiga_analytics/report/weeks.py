"""ISO weeks (Monday to Sunday): the :class:`Week` a report covers and :func:`parse_week` for the ``--week`` option."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypedDict

from ..errors import InputError

__all__ = ["Week", "parse_week"]

WEEK_RE = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


class Span(TypedDict):
    """The ``since``/``until`` keywords of a query over the days ``[since, until)``, and its ``bot`` (None: all
    the bots of the store)."""

    since: date
    until: date
    bot: str | None


@dataclass(frozen=True)
class Week:
    """An ISO week: ``start`` is its Monday, ``end`` the next Monday (exclusive)."""

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    def previous(self) -> Week:
        return Week.containing(self.start - timedelta(days=7))

    @classmethod
    def containing(cls, day: date) -> Week:
        iso = day.isocalendar()
        return cls(iso[0], iso[1])


def parse_week(text: str | date | Week) -> Week:
    """``"2025-W42"`` (also ``2025W42``, a ``date``, or a ``Week``) → :class:`Week`; anything else is an InputError.

    >>> parse_week("2025-W42").start
    datetime.date(2025, 10, 13)
    >>> parse_week("2025-W60")
    Traceback (most recent call last):
    ...
    amiga_analytics.errors.InputError: week '2025-W60' does not exist: give an ISO week such as 2025-W42 (2025 has weeks 1 to 52)
    """
    if isinstance(text, Week):
        return text
    if isinstance(text, datetime):
        return Week.containing(text.date())
    if isinstance(text, date):
        return Week.containing(text)
    match = WEEK_RE.match(str(text))
    if not match:
        raise InputError(f"week {text!r} is not an ISO week: write it like 2025-W42 (year, W, week number)")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        last = date(year, 12, 28).isocalendar()[1]
        raise InputError(
            f"week {text!r} does not exist: give an ISO week such as 2025-W42 ({year} has weeks 1 to {last})"
        ) from None
    return Week(year, number)
