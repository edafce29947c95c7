"""Region Stockholm's codes in the inputs: its county code and the reservnummer prefix.

Both say who the region pays capitation for (county residents with a personnummer or
samordningsnummer, RULES.md §2, §8), so they live together here, the one module that
spells them; code tests them through the helpers below (Ibis, Arrow, SQL text).
"""

from __future__ import annotations

#: Stockholm county's code in `persons.county_code` (two digits).
STOCKHOLM_COUNTY = "01"
#: A reservnummer (Region Stockholm's temporary identifier) starts with these characters.
RESERVNUMMER_PREFIX = "99"


def is_reservnummer(person_id):
    """Ibis: whether the person id is a reservnummer."""
    return person_id.startswith(RESERVNUMMER_PREFIX)


def is_reservnummer_arrow(person_ids):
    """Arrow: whether each person id is a reservnummer (null stays null)."""
    import pyarrow.compute as pc

    return pc.starts_with(person_ids, RESERVNUMMER_PREFIX)


def county_resident(persons):
    """Ibis: rows of `persons` for county residents who may earn capitation (not a reservnummer)."""
    return (persons.county_code == STOCKHOLM_COUNTY) & ~is_reservnummer(persons.person_id)


def county_resident_sql(alias: str | None = None) -> str:
    """SQL condition: the person (of table `alias`) is a county resident who may earn capitation."""
    p = f"{alias}." if alias else ""
    return f"{p}county_code = '{STOCKHOLM_COUNTY}' AND NOT starts_with({p}person_id, '{RESERVNUMMER_PREFIX}')"
