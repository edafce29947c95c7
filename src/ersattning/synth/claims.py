"""The synthetic region's claims: medical_service orders (lab, radiology, … for listed persons, a
few hundred SEK each) and requisitions (a few drug requisitions per clinic of 10 000 listed a month), with the
codes of the packaged rulebook's lists so that the demo exercises both claims lines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.synth.arrays import date_text, day, decimal_text

# Orders per listed person and year, and the median cost in SEK, per category of
# rules/medical_service (illustrative: lab tests are common and cheap, CT and MR rare and dear).
ORDERS = {"clinic_pays": (0.30, 120.0), "shared": (0.05, 800.0), "region_pays": (0.02, 3000.0)}
# Requisition rows per listed person and month: a clinic of 10 000 listed makes about four a month.
REQUISITIONS_PER_LISTED_MONTH = 4 / 10_000


def _codes(year: int) -> tuple[dict[str, list[str]], list[str]]:
    """The rulebook's service codes per category and its drug codes in force on 1 January of `year`."""
    import datetime as dt

    from ersattning.rulebook import load

    book, on = load(), dt.date(year, 1, 1)
    services = {}
    for category in ORDERS:
        v = book[f"medical_service.{category}_codes"].at(on)
        services[category] = sorted(v.value) if v is not None and v.value else []
    v = book["requisition_drugs.prices"].at(on)
    return services, sorted(v.value) if v is not None and v.value else []


def medical_service_table(rng: np.random.Generator, pop, clinics, listings, years: list[int]) -> pa.Table:
    """Orders of `years` for listed persons: each listing spell draws orders in proportion to the
    days it covers in a year, dated uniformly within them; the cost is lognormal about the median."""
    ids, clinic_ids, dates, persons, codes, costs = [], [], [], [], [], []
    for year in years:
        first, last = day(year), day(year, 12, 31)
        start, end = np.maximum(listings.start, first), np.minimum(listings.end, last)
        covered = np.flatnonzero(end >= start)
        span = (end[covered] - start[covered] + 1).astype(np.float64)
        services, _ = _codes(year)
        for category, (rate, median) in ORDERS.items():
            if not services[category]:
                continue
            n = rng.poisson(rate * span / 365.25)
            spell = np.repeat(covered, n)
            offset = (rng.random(len(spell)) * np.repeat(span, n)).astype(np.int64)
            dates.append(np.maximum(listings.start[spell], first) + offset)
            persons.append(listings.person[spell])
            clinic_ids.append(listings.clinic[spell])
            codes.append(pa.array(services[category], pa.string()).take(pa.array(rng.integers(0, len(services[category]), len(spell)))))
            costs.append(median * np.exp(rng.normal(0.0, 0.4, len(spell))))
            ids.append(len(spell))
    if not ids:
        return pa.table({c: pa.array([], pa.string()) for c in
                         ("order_id", "clinic_id", "date", "person_id", "service_code", "cost_sek")})
    date = np.concatenate(dates)
    order = np.lexsort((np.concatenate(persons), date))  # by date: ids in the order they were made
    n = len(date)
    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 8, "0")
    return pa.table({
        "order_id": pc.binary_join_element_wise("MS", numbers, ""),
        "clinic_id": pa.array(clinics.clinic_id[np.concatenate(clinic_ids)[order]].astype(str), pa.string()),
        "date": date_text(date[order]),
        "person_id": pop.person_id.take(pa.array(np.concatenate(persons)[order])),
        "service_code": pa.concat_arrays(codes).take(pa.array(order)),
        "cost_sek": decimal_text(np.concatenate(costs)[order], 2),
    })


def requisitions_table(rng: np.random.Generator, clinics, listings, years: list[int]) -> pa.Table:
    """Requisition rows per open clinic and month of `years`, in proportion to the persons it has
    listed mid-month: a drug of the list, 1–3 units, on a day the clinic is open."""
    clinic_idx, dates, drugs, quantities = [], [], [], []
    for year in years:
        _, drug_codes = _codes(year)
        if not drug_codes:
            continue
        for month in range(1, 13):
            first = day(year, month)
            last = (day(year + 1, 1) if month == 12 else day(year, month + 1)) - 1
            open_ = np.flatnonzero((clinics.opened <= last) & (clinics.closed >= first))
            mid = day(year, month, 15)
            on = (listings.start <= mid) & (listings.end >= mid)
            listed = np.bincount(listings.clinic[on], minlength=len(clinics))[open_]
            n = rng.poisson(REQUISITIONS_PER_LISTED_MONTH * listed)
            k = np.repeat(open_, n)
            lo = np.maximum(clinics.opened[k], first)
            hi = np.minimum(clinics.closed[k], last)
            clinic_idx.append(k)
            dates.append(lo + (rng.random(len(k)) * (hi - lo + 1)).astype(np.int64))
            drugs.append(pa.array(drug_codes, pa.string()).take(pa.array(rng.integers(0, len(drug_codes), len(k)))))
            quantities.append(rng.integers(1, 4, len(k)))
    if not clinic_idx:
        return pa.table({c: pa.array([], pa.string()) for c in ("clinic_id", "date", "drug_code", "quantity")})
    return pa.table({
        "clinic_id": pa.array(clinics.clinic_id[np.concatenate(clinic_idx)].astype(str), pa.string()),
        "date": date_text(np.concatenate(dates)),
        "drug_code": pa.concat_arrays(drugs),
        "quantity": pa.array(np.concatenate(quantities)).cast(pa.string()),
    })
