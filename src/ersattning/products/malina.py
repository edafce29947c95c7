"""Where the 0–5 mental-health visit supplement has ended: the clinic's area has a Malina clinic
(seed 000; `supplement_child_0_5_mental_health.malina_areas`, the `malina_area` contact fact)."""

from __future__ import annotations

import datetime as dt

import ibis

from ersattning.rulebook.loader import Rulebook

MALINA_AREAS = "supplement_child_0_5_mental_health.malina_areas"


def malina_area(book: Rulebook, c: ibis.Table, start: dt.date, end: dt.date) -> ibis.Value:
    """True for a contact dated start..end at a clinic whose area (`c.area_code`) is on the
    list of areas with a Malina clinic in force on the contact's date. The list is dated: each
    version names every area where one has opened by then (the sources name none: empty)."""
    values = book[MALINA_AREAS].values
    hit = ibis.literal(False)
    for i, v in enumerate(values):
        until = values[i + 1].start - dt.timedelta(days=1) if i + 1 < len(values) else end
        if v.value and v.start <= end and until >= start:
            hit |= (c.date >= v.start) & (c.date <= until) & c.area_code.isin(list(v.value))
    return hit
