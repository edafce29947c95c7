"""Months and dates of the model: a month is `YYYY-MM`; listings count on its last day."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Check a `YYYY-MM` month and return it; raises ValueError naming the problem."""
    if not _MONTH.match(text or ""):
        raise ValueError(f"month must be YYYY-MM, got {text!r}")
    return text


def first_day(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y, m, 1)


def last_day(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def months_of(year: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def next_month(month: str) -> str:
    """The month after `month` (YYYY-MM)."""
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + m // 12}-{m % 12 + 1:02d}"


def half_year_snapshot(month: str) -> dt.date:
    """Listing snapshot that sets a half-year supplement: 30 Nov pays Jan–Jun, 31 May pays Jul–Dec (seed 000)."""
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y - 1, 11, 30) if m <= 6 else dt.date(y, 5, 31)
