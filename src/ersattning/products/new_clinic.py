"""New-clinic pay (nystartad mottagning, RULES.md §3 and §10; 003 Bilaga 2): the 2016 monthly
amount, and the window within which the later raises on visit fees apply (the `new_clinic` fact).

A clinic that opened while the 2016 amount was in force is paid it every month from its
opening month through December of the next calendar year (the terms it started under).
The later raises are visit products (`new_clinic` decision table) for contacts within the
clinic's window: through the month that falls `window_months` after the start of operation,
and not after the month at whose end the clinic first has `listing_threshold` listed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.lines import exact_lines
from ersattning.money import to_ore
from ersattning.period import first_day, last_day, next_month
from ersattning.products.capitation import listed_at_month_ends
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


def _month_ends(start: dt.date, end: dt.date, months_before: int) -> list[dt.date]:
    """The last days of the months from `months_before` months before `start`'s month through `end`'s."""
    y, m = start.year, start.month - months_before
    while m < 1:
        y, m = y - 1, m + 12
    month, out = f"{y:04d}-{m:02d}", []
    while first_day(month) <= end:
        out.append(last_day(month))
        month = next_month(month)
    return out


def window_ends(engine: Engine, book: Rulebook, start: dt.date, end: dt.date) -> ibis.Table | None:
    """(clinic_id, nc_opened, nc_until) of the clinics whose new-clinic window meets start..end:
    the window runs from the opening date through `nc_until`, the last day of the month that
    falls `new_clinic.window_months` after the opening month, or, when earlier, of the first
    month at whose end the clinic has `new_clinic.listing_threshold` listed (003 Bilaga 2:
    "till och med månaden som infaller 12 månader efter driftstart eller till och med månaden
    då mottagningen har 4 000 listade"). Listed = earning capitation on the month's last day,
    as capitation counts them. None when no window is in force (rules at `end`) or no clinic is new."""
    rules = book.at(end)
    window = rules.value("new_clinic.window_months")
    if not window:
        return None
    threshold = rules.value("new_clinic.listing_threshold")
    c = engine["clinics"]
    opened_month = c.opened.truncate("M")
    # The window's last day: the end of the month `window` months after the opening month.
    until = (opened_month + ibis.interval(months=int(window) + 1) - ibis.interval(days=1)).cast("date")
    new = c.filter(c.opened.notnull(), c.opened <= end, until >= start).select(
        clinic_id=c.clinic_id, nc_opened=c.opened, nc_until=until, nc_month=opened_month).to_pyarrow()
    if not new.num_rows:  # no clinic is new in the period: nothing to join the contacts with
        return None
    # The few new clinics as a constant table: the listings counted below are only theirs.
    new = ibis.memtable(new)
    if threshold is None:
        return new.drop("nc_month")
    # Each window's month ends through `end`'s month: the opening month's end + k months, one
    # projection of the few new clinics per k (k up to the rule's window, not a loop over data).
    days = _month_ends(start, end, int(window))
    at = ibis.union(*[
        new.select("clinic_id", d=(new.nc_month + ibis.interval(months=k + 1) - ibis.interval(days=1)).cast("date"))
        for k in range(int(window) + 1)])
    at = at.filter(at.d <= days[-1])
    counts = listed_at_month_ends(engine, at, days[0], days[-1])
    reached = counts.filter(counts.listed >= int(threshold)).group_by("clinic_id").aggregate(nc_reached=counts.d.min())
    new = new.drop("nc_month")
    j = new.left_join(reached, new.clinic_id == reached.clinic_id)
    return j.select(new.clinic_id, new.nc_opened,
                    nc_until=ibis.least(new.nc_until, j.nc_reached.fill_null(new.nc_until)))


def with_new_clinic(engine: Engine, book: Rulebook, contacts: ibis.Table, start: dt.date, end: dt.date) -> ibis.Table:
    """`contacts` (with clinic_id and date) with `new_clinic`: the contact falls within its
    clinic's new-clinic window (`window_ends`, by the rules at the end of the contact's month)."""
    names = ("new_clinic.window_months", "new_clinic.listing_threshold")
    pieces = [(lo, hi) for lo, hi, (window, _) in book.at_month_ends(names, start, end) if window]
    windows = [(lo, hi, w) for lo, hi in pieces if (w := window_ends(engine, book, lo, hi)) is not None]
    if not windows:
        return contacts.mutate(new_clinic=ibis.literal(False))
    for i, (lo, hi, w) in enumerate(windows):
        w = w.select(**{f"nc_clinic{i}": w.clinic_id, f"nc_opened{i}": w.nc_opened, f"nc_until{i}": w.nc_until})
        contacts = contacts.left_join(w, contacts.clinic_id == w[f"nc_clinic{i}"])
        hit = contacts[f"nc_until{i}"].notnull() & (contacts.date >= contacts[f"nc_opened{i}"]) & (contacts.date <= contacts[f"nc_until{i}"])
        if (lo, hi) != (start, end):  # the rules of this run of months only
            hit &= (contacts.date >= lo) & (contacts.date <= hi)
        contacts = contacts.mutate(**{f"nc_in{i}": hit.fill_null(False)})
    inside = ibis.literal(False)
    for i in range(len(windows)):
        inside |= contacts[f"nc_in{i}"]
    out = contacts.mutate(new_clinic=inside)
    return out.drop(*[c for c in out.columns if c.startswith("nc_")])
