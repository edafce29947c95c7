"""Risk rows of the synthetic region: each person's ACG weight and CNI, one row per year (plus one on moving).

A risk row holds from its month until the person's next row. Every person present in a
year (resident, or an out-of-county person listed in it; not reservnummer holders) gets
a row for the year's first month they are present, and one more in the month they move
to another area (new CNI). ACG weights are an open stand-in, not the Johns Hopkins
grouper (RULES.md §8): an age curve × a persistent personal factor × yearly noise × the
area's ACG level, rescaled each year to mean 1.0 over the listed residents' month-ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from ersattning.synth.areas import Areas
from ersattning.synth.arrays import DAYS_PER_YEAR, OPEN, day, decimal_text, month_end, month_index, month_text
from ersattning.synth.listings import Spells
from ersattning.synth.population import Population

ACG_AGES = [0, 1, 5, 17, 18, 30, 45, 64, 65, 74, 75, 85, 95, 104]
ACG_CURVE = [0.7, 0.45, 0.35, 0.4, 0.55, 0.65, 0.8, 1.1, 1.35, 1.8, 2.1, 2.7, 3.0, 3.0]
ACG_PERSON_SIGMA = 0.6   # lognormal spread between persons (persistent: chronic conditions)
ACG_YEAR_SIGMA = 0.2     # lognormal year-to-year variation of a person's weight
ACG_MIN = 0.02
CNI_SIGMA = 0.07         # small-area variation around the area's CNI (persistent per address)
OUT_OF_COUNTY_CNI = 1.0  # no Stockholm area: the county mean


def _mean_one_lognormal(rng, sigma: float, size) -> np.ndarray:
    return rng.lognormal(-sigma**2 / 2, sigma, size)


def covered_months(listings: Spells) -> tuple[np.ndarray, np.ndarray]:
    """First and last month whose last day each listing covers (a listing counts for a
    month if it covers the month's last day); last < first when it covers none."""
    m_hi = month_index(listings.end)
    m_hi -= month_end(m_hi) != listings.end
    return month_index(listings.start), m_hi


def listed_month_ends(person: np.ndarray, months: tuple[np.ndarray, np.ndarray], persons: int, year: int) -> np.ndarray:
    """Per person, the number of month-ends of `year` on which they are listed."""
    m_lo, m_hi = months
    y0 = (year - 1970) * 12
    count = np.clip(np.minimum(m_hi, y0 + 11) - np.maximum(m_lo, y0) + 1, 0, None)
    return np.bincount(person, weights=count, minlength=persons)


def risk_tables(rng: np.random.Generator, pop: Population, listings: Spells, areas: Areas,
                first_year: int, last_year: int) -> Iterator[pa.Table]:
    """risk.csv, one table per year (the file is written as it comes)."""
    n = len(pop)
    person_factor = _mean_one_lognormal(rng, ACG_PERSON_SIGMA, n)
    cni_factor = _mean_one_lognormal(rng, CNI_SIGMA, (2, n))  # before / after the move
    cni_factor /= cni_factor.mean(axis=1, keepdims=True)
    other = ~pop.resident & ~pop.reserv
    other_first = np.full(n, OPEN, dtype=np.int64)
    sp = other[listings.person]
    np.minimum.at(other_first, listings.person[sp], listings.start[sp])
    resident_spell = pop.resident[listings.person]
    spell_person = listings.person[resident_spell]
    spell_months = tuple(m[resident_spell] for m in covered_months(listings))
    for year in range(first_year, last_year + 1):
        jan1, dec31 = day(year), day(year, 12, 31)
        present = (pop.resident & (pop.entry <= dec31) & (pop.exit >= jan1)) | (other & (other_first <= dec31))
        who = np.flatnonzero(present)
        res = pop.resident[who]
        month = month_index(np.maximum(jan1, np.where(res, pop.entry[who], other_first[who])))
        row_day = month_end(month)
        area = np.where(res, pop.area_at(who, row_day), -1)
        age = (day(year, 7, 1) - pop.birth[who]) / DAYS_PER_YEAR
        level = np.where(area >= 0, areas.acg_level[np.maximum(area, 0)], 1.0)
        raw = np.interp(age, ACG_AGES, ACG_CURVE) * person_factor[who] * level
        raw = np.maximum(raw * _mean_one_lognormal(rng, ACG_YEAR_SIGMA, len(who)), ACG_MIN)
        months = listed_month_ends(spell_person, spell_months, n, year)[who]
        scale = months.sum() / (months * raw).sum() if months.sum() > 0 else len(raw) / raw.sum()
        acg = raw * scale
        after = row_day >= pop.move[who]
        cni = np.where(res, areas.cni[np.maximum(area, 0)] * np.where(after, cni_factor[1, who], cni_factor[0, who]),
                       OUT_OF_COUNTY_CNI)
        # a move in a later month of the year starts a row with the new area's CNI
        mv_day = pop.move[who]
        moves = np.flatnonzero(res & (mv_day >= jan1) & (mv_day <= dec31) & (month_index(mv_day) > month))
        mv = who[moves]
        rows = np.r_[who, mv]
        yield pa.table({
            "person_id": pop.person_id.take(pa.array(rows)),
            "month": month_text(np.r_[month, month_index(pop.move[mv])]),
            "acg_weight": decimal_text(np.r_[acg, acg[moves]]),
            "cni": decimal_text(np.r_[cni, areas.cni[pop.area[mv]] * cni_factor[1, mv]]),
        })
