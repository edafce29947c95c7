"""The 2016 new-clinic monthly amount (nystartad mottagning, RULES.md §3; 003 Bilaga 2).

A clinic that opened while the amount was in force is paid it every month from its
opening month through December of the next calendar year (the terms it started under).
The later new-clinic raises on visit fees are visit products (`new_clinic` decision table).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from ersattning.lines import exact_lines
from ersattning.money import to_ore
from ersattning.period import first_day, last_day
from ersattning.rulebook.loader import Rulebook


def new_clinic_lines(book: Rulebook, month: str, clinics: pa.Table) -> pa.Table:
    """`clinics`: clinic_id, opened of the clinics open in `month`."""
    start, end = first_day(month), last_day(month)
    param = book["new_clinic.monthly_amount"]
    records = []
    for clinic, opened in zip(clinics["clinic_id"].to_pylist(), clinics["opened"].to_pylist()):
        if opened is None or opened > end or start > dt.date(opened.year + 1, 12, 31):
            continue
        amount = param.at(opened)
        if amount is None:
            continue
        records.append({
            "clinic_id": clinic, "month": month, "component": "new_clinic", "product_code": book.code("new_clinic", "new_clinic.monthly_amount", year=opened.year),
            "quantity": Decimal(1), "divisor": 1, "unit_price_ore": to_ore(amount.value), "unit": "SEK/clinic/month",
            "rule": f"new_clinic.monthly_amount@{amount.start.isoformat()}", "reference": amount.reference,
            "illustrative": bool(amount.illustrative),
            "detail": f"opened {opened.isoformat()}: paid from the opening month through {opened.year + 1}-12",
        })
    return exact_lines(records)
