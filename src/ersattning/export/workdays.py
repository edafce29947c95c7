"""Swedish working days for due dates: weekends, public holidays and the full-day eves banks close.

A day is a working day when it is Monday–Friday, not a public holiday (`holidays.Sweden`)
and not midsommarafton, julafton or nyårsafton (the `bank` category's full days; its
half days, "från kl. 14.00", are working days).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from ersattning.export.config import PAYMENT_DAYS


@lru_cache(maxsize=64)
def _closed(year: int) -> frozenset[dt.date]:
    public = holidays.Sweden(years=year, include_sundays=False)
    bank = holidays.Sweden(years=year, include_sundays=False, categories=("bank",), language="en_US")
    full_days = {d for d, name in bank.items() if "2pm" not in name}
    return frozenset(set(public) | full_days)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _closed(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def due_date(issue: dt.date, days: int = PAYMENT_DAYS) -> dt.date:
    """Issue date + `days` calendar days, moved forward to the next Swedish working day."""
    return next_working_day(issue + dt.timedelta(days=days))
