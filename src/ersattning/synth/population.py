"""Who lives in the synthetic region and when: residents, births, migration, deaths, area moves, identifiers.

The population is built backwards from the target: exactly `persons` county residents on
the last day of `last_year` (areas by 2017 population, age bands by RULES.md §9), each
with the day they arrived (birth or in-migration); then, year by year going back, the
persons who left (deaths, out-migration) are added so that the population grows ≈ 1.3 %
a year. Calibrating the end state exactly keeps the shares the tests and the analysis
look at (areas, age bands) on target, and the flows make the years before it realistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.ids import make_personnummer
from ersattning.region import RESERVNUMMER_PREFIX, STOCKHOLM_COUNTY
from ersattning.synth.areas import Areas
from ersattning.synth.arrays import (
    DAYS_PER_YEAR, OPEN, date_text, day, draw_from, largest_remainder, top_k_weighted,
)

MAX_AGE = 104
BAND_EDGES = (0, 6, 18, 65, 75, MAX_AGE + 1)
BAND_SHARES = np.array([0.078, 0.140, 0.624, 0.092, 0.066])  # RULES.md §9 (2016, used as proxy)
GROWTH = 1.013  # population growth per year (RULES.md §9 / task brief)
SAMORDNING_SHARE = 0.003
RESERV_SHARE = 0.002
OUT_OF_COUNTY_SHARE = 0.005
# Neighbouring counties first (Uppsala, Södermanland, Östergötland), then a spread.
OUT_OF_COUNTY = {"03": 0.40, "04": 0.20, "05": 0.10, "09": 0.04, "13": 0.04, "14": 0.06,
                 "17": 0.04, "19": 0.05, "20": 0.04, "22": 0.03}
STOCKHOLM = STOCKHOLM_COUNTY


def _within_band_profile() -> np.ndarray:
    """Relative number of persons per single year of age, shaped like Stockholm's pyramid
    (a bulge at 25–40 from in-migration, thinning after 75); scaled per band later."""
    a = np.arange(MAX_AGE + 1, dtype=np.float64)
    w = np.interp(a, [0, 17, 18, 25, 32, 40, 50, 64, 65, 74], [1, 1, 0.9, 1.35, 1.45, 1.2, 1.05, 0.8, 1.0, 0.8])
    w[75:] = np.exp(-0.12 * (a[75:] - 75))
    return w


def county_age_density() -> np.ndarray:
    """Share of the county's population at each single year of age 0..MAX_AGE (sums to 1)."""
    w = _within_band_profile()
    d = np.zeros_like(w)
    for b in range(len(BAND_SHARES)):
        sl = slice(BAND_EDGES[b], BAND_EDGES[b + 1])
        d[sl] = w[sl] / w[sl].sum() * BAND_SHARES[b]
    return d


def _mortality(age: np.ndarray) -> np.ndarray:
    """Yearly death probability by age (Gompertz-like, Swedish order of magnitude)."""
    age = np.asarray(age, dtype=np.float64)
    m = np.maximum(1.85e-5 * np.exp(0.1 * age), 0.0002) + np.where(age < 1, 0.002, 0.0)
    return np.minimum(m, 0.6)


def _in_migration_hazard(age: np.ndarray) -> np.ndarray:
    """Yearly rate of arriving in the county, by age: highest for young adults."""
    return np.interp(age, [0, 17, 18, 24, 25, 34, 35, 44, 45, 64, 65, MAX_AGE],
                     [0.025, 0.025, 0.07, 0.07, 0.06, 0.06, 0.03, 0.03, 0.015, 0.015, 0.008, 0.008])


def _out_migration_weight(age: np.ndarray) -> np.ndarray:
    return np.interp(age, [0, 10, 18, 22, 30, 40, 55, 65, MAX_AGE], [0.5, 0.3, 0.5, 1.6, 1.4, 0.7, 0.3, 0.2, 0.1])


def _move_rate(age: np.ndarray) -> np.ndarray:
    """Yearly rate of moving to another area within the county."""
    return np.interp(age, [0, 18, 25, 35, 50, 65, MAX_AGE], [0.025, 0.03, 0.07, 0.04, 0.02, 0.015, 0.015])


@dataclass
class Population:
    """Every person of the region over the years, as parallel arrays (one element per person).

    `resident`: a Stockholm county resident (counted in `persons`) over [entry, exit];
    `area` is the area at exit (or at the end), `area_before` the area before `move`
    (equal to `area` when the person does not move). Out-of-county persons have
    area -1; reservnummer holders have `reserv` set and no residence interval.
    """

    person_id: pa.Array
    birth: np.ndarray
    male: np.ndarray
    county_code: np.ndarray
    resident: np.ndarray
    reserv: np.ndarray
    coordination: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    area: np.ndarray
    area_before: np.ndarray
    move: np.ndarray

    def __len__(self) -> int:
        return len(self.birth)

    def area_at(self, idx: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Area of residence of persons `idx` on `days`."""
        moved = days >= self.move[idx]
        return np.where(moved, self.area[idx], self.area_before[idx])


def make_population(rng: np.random.Generator, areas: Areas, persons: int, first_year: int, last_year: int) -> Population:
    w0, end = day(first_year), day(last_year, 12, 31)
    birth, area, entry = _end_state(rng, areas, persons, end)
    exit_ = np.full(persons, OPEN, dtype=np.int64)
    birth, area, entry, exit_ = _add_leavers(rng, areas, birth, area, entry, exit_, first_year, last_year)
    n_res = len(birth)
    male = rng.random(n_res) < _male_share((end - birth) / DAYS_PER_YEAR)
    area_before, move = _moves(rng, areas, birth, area, entry, exit_, w0, end)
    coordination = np.zeros(n_res, dtype=bool)
    adult_at_entry = (entry - birth) >= 18 * DAYS_PER_YEAR
    # samordningsnummer are mostly given to adults who arrive (work, studies)
    weight = np.where(adult_at_entry, np.where(entry >= w0, 5.0, 1.0), 0.0)
    coordination[top_k_weighted(rng, weight, max(1, round(SAMORDNING_SHARE * persons)))] = True

    n_ooc = max(1, round(OUT_OF_COUNTY_SHARE * persons))
    n_rsv = max(1, round(RESERV_SHARE * persons))
    density = county_age_density()
    ages = rng.choice(MAX_AGE + 1, size=n_ooc + n_rsv, p=density)
    other_birth = end - np.floor((ages + rng.random(len(ages))) * DAYS_PER_YEAR).astype(np.int64)
    other_male = rng.random(len(ages)) < 0.5
    codes = np.array(list(OUT_OF_COUNTY))
    ooc_county = codes[draw_from(rng, np.array(list(OUT_OF_COUNTY.values())), n_ooc)]
    rsv_area = draw_from(rng, areas.population, n_rsv)

    n = n_res + n_ooc + n_rsv
    birth = np.concatenate([birth, other_birth])
    male = np.concatenate([male, other_male])
    coordination = np.concatenate([coordination, np.zeros(n_ooc + n_rsv, dtype=bool)])
    county = np.concatenate([np.full(n_res, STOCKHOLM, dtype=object), ooc_county.astype(object),
                             np.full(n_rsv, STOCKHOLM, dtype=object)])
    resident = np.zeros(n, dtype=bool)
    resident[:n_res] = True
    reserv = np.zeros(n, dtype=bool)
    reserv[n_res + n_ooc:] = True
    area = np.concatenate([area, np.full(n_ooc, -1), rsv_area]).astype(np.int64)
    area_before = np.concatenate([area_before, area[n_res:]])
    entry = np.concatenate([entry, other_birth])  # not residents: no residence interval is written
    exit_ = np.concatenate([exit_, np.full(n - n_res, OPEN, dtype=np.int64)])
    move = np.concatenate([move, np.full(n - n_res, OPEN, dtype=np.int64)])

    # One shuffle, so that the files carry no trace of the order in which persons were made.
    order = rng.permutation(n)
    birth, male, coordination, county, resident, reserv = (a[order] for a in (birth, male, coordination, county, resident, reserv))
    entry, exit_, area, area_before, move = (a[order] for a in (entry, exit_, area, area_before, move))
    ids = _identifiers(rng, birth, male, coordination, reserv)
    return Population(ids, birth, male, county, resident, reserv, coordination, entry, exit_, area, area_before, move)


def _male_share(age: np.ndarray) -> np.ndarray:
    return np.interp(age, [0, 64, 75, 85, 100], [0.51, 0.49, 0.45, 0.40, 0.30])


def _area_band_counts(n: int, areas: Areas) -> np.ndarray:
    """(areas, bands) resident counts: areas exactly by population, bands by the county
    target, tilted per area by `old_share_factor` and raked back to both margins."""
    n_a = largest_remainder(n, areas.population)
    f = areas.old_share_factor
    tilt = np.stack([f**-0.5, f**-0.5, np.ones_like(f), f, f**1.3], axis=1)
    m = areas.share[:, None] * BAND_SHARES[None, :] * tilt
    target = BAND_SHARES * n
    for _ in range(60):
        rows, cols = m.sum(axis=1), m.sum(axis=0)
        m *= np.divide(n_a, rows, out=np.zeros_like(rows), where=rows > 0)[:, None]
        m *= np.divide(target, cols, out=np.zeros_like(cols), where=cols > 0)[None, :]
    return np.stack([largest_remainder(int(n_a[i]), m[i]) for i in range(len(areas))])


def _end_state(rng, areas: Areas, persons: int, end: int):
    """Residents on the last day: area, birth date, and the day each arrived."""
    counts = _area_band_counts(persons, areas)
    profile = _within_band_profile()
    ages, area = [], []
    for b in range(len(BAND_SHARES)):
        band_ages = np.arange(BAND_EDGES[b], BAND_EDGES[b + 1])
        p = profile[band_ages] / profile[band_ages].sum()
        ages.append(rng.choice(band_ages, size=int(counts[:, b].sum()), p=p))
        area.append(np.repeat(np.arange(len(areas)), counts[:, b]))
    ages, area = np.concatenate(ages), np.concatenate(area)
    birth = end - np.floor((ages + rng.random(persons)) * DAYS_PER_YEAR).astype(np.int64)
    entry = _arrival(rng, birth, end, _in_migration_hazard(ages))
    return birth, area.astype(np.int64), entry


def _arrival(rng, birth: np.ndarray, until: np.ndarray | int, hazard: np.ndarray) -> np.ndarray:
    """Day of arrival: an exponential time back from `until`, or birth if that is earlier
    (born in the county)."""
    back = np.floor(rng.exponential(1.0 / hazard) * DAYS_PER_YEAR).astype(np.int64)
    return np.maximum(birth, until - back)


def _add_leavers(rng, areas: Areas, birth, area, entry, exit_, first_year: int, last_year: int):
    """Going back a year at a time, add the persons who died or moved out during it, as
    many as make the population at the start of the year the end population / GROWTH."""
    density = county_age_density()
    ages = np.arange(MAX_AGE + 1)
    death_p = density * _mortality(ages)
    death_rate = death_p.sum()
    out_p = density * _out_migration_weight(ages)
    death_area_w = areas.population * areas.old_share_factor**1.3
    parts = [(birth, area, entry, exit_)]
    for year in range(last_year, first_year - 1, -1):
        d_end, d_prev = day(year, 12, 31), day(year - 1, 12, 31)
        b_all, _, e_all, x_all = (np.concatenate(c) for c in zip(*parts))
        resident_end = int(np.count_nonzero((e_all <= d_end) & (x_all > d_end)))
        entries = int(np.count_nonzero((e_all > d_prev) & (e_all <= d_end)))
        exits = max(0, round(resident_end / GROWTH - resident_end + entries))
        deaths = min(exits, round(death_rate * resident_end))
        outs = exits - deaths
        age = np.concatenate([rng.choice(MAX_AGE + 1, size=deaths, p=death_p / death_rate),
                              rng.choice(MAX_AGE + 1, size=outs, p=out_p / out_p.sum())])
        # last day of residence: any day of the year but 31 December (so "resident at year end" is clean)
        last = d_prev + 1 + rng.integers(0, d_end - d_prev - 1, size=exits)
        b = last - np.floor((age + rng.random(exits)) * DAYS_PER_YEAR).astype(np.int64)
        b = np.minimum(b, last)
        stay_hazard = _in_migration_hazard(age) * np.r_[np.full(deaths, 0.5), np.full(outs, 2.5)]
        e = _arrival(rng, b, last, stay_hazard)
        a = np.concatenate([draw_from(rng, death_area_w, deaths), draw_from(rng, areas.population, outs)])
        parts.append((b, a.astype(np.int64), e, last))
    return tuple(np.concatenate(c) for c in zip(*parts))


def _moves(rng, areas: Areas, birth, area, entry, exit_, w0: int, end: int):
    """At most one move between areas per person within the years; `area` is the later area."""
    n = len(birth)
    lo, hi = np.maximum(entry, w0), np.minimum(exit_, end)
    span = hi - lo
    age = (hi - birth) / DAYS_PER_YEAR
    p = 1.0 - np.exp(-_move_rate(age) * np.maximum(span, 0) / DAYS_PER_YEAR)
    has = (rng.random(n) < p) & (span >= 2)
    move = np.full(n, OPEN, dtype=np.int64)
    move[has] = lo[has] + 1 + np.floor(rng.random(int(has.sum())) * span[has]).astype(np.int64)
    before = area.copy()
    idx = np.flatnonzero(has)
    before[idx] = draw_from(rng, areas.population, len(idx))
    for _ in range(20):  # redraw the few who "moved" to the same area
        same = idx[before[idx] == area[idx]]
        if not len(same):
            break
        before[same] = draw_from(rng, areas.population, len(same))
    same = idx[before[idx] == area[idx]]
    before[same] = (area[same] + 1) % len(areas)
    return before, move


def _identifiers(rng, birth, male, coordination, reserv) -> pa.Array:
    """Unique identifiers: personnummer/samordningsnummer (distinct serials per birth date
    and sex, odd = male) for everyone but reservnummer holders (`99` + 10 characters)."""
    n = len(birth)
    pn = np.flatnonzero(~reserv)
    key = birth[pn] * 4 + coordination[pn] * 2 + male[pn]
    order = np.lexsort((rng.random(len(pn)), key))
    k = key[order]
    starts = np.r_[True, k[1:] != k[:-1]]
    group = np.cumsum(starts) - 1
    rank = np.arange(len(pn)) - np.flatnonzero(starts)[group]
    if len(rank) and rank.max() >= 499:
        raise ValueError("more than 499 persons of one sex share a birth date: too many persons for unique serials")
    offset = rng.integers(0, 500, size=int(starts.sum()))[group]
    serial = np.empty(len(pn), dtype=np.int64)
    # 263 is prime to 500, so ranks 0..499 map to distinct residues; 2s + male keeps odd = male.
    # Residue 0 would be serial 000 for a woman, which is never given: it takes the residue of
    # rank 499, which no group uses (at most 499 persons).
    residue = (offset + rank * 263) % 500
    sorted_male = male[pn][order]
    residue = np.where((residue == 0) & (sorted_male == 0), (offset + 499 * 263) % 500, residue)
    serial[order] = 2 * residue + sorted_male
    numbers = pa.array(make_personnummer(birth[pn].astype("datetime64[D]"), serial, coordination[pn]), pa.string())
    rs = np.flatnonzero(reserv)
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVXYZ"))
    two = pc.binary_join_element_wise(pa.array(letters[rng.integers(0, len(letters), len(rs))]),
                                      pa.array(letters[rng.integers(0, len(letters), len(rs))]), "")
    digits = pc.utf8_lpad(pc.cast(pa.array(rng.choice(10**8, size=len(rs), replace=False)), pa.string()), 8, "0")
    reservnummer = pc.binary_join_element_wise(RESERVNUMMER_PREFIX, two, digits, "")
    position = np.empty(n, dtype=np.int64)
    position[pn] = np.arange(len(pn))
    position[rs] = len(pn) + np.arange(len(rs))
    both = pa.chunked_array([numbers, reservnummer.cast(pa.string())], pa.string())  # large inputs come chunked
    return both.take(pa.array(position)).combine_chunks()


#: Share of the county's inhabitants born abroad (about a quarter around 2015-2022, an
#: approximation for the synthetic region), and how it rises with the area's CNI: born abroad
#: is one of CNI's seven variables (RULES.md §2), so high-CNI areas (Rinkeby-Kista 1.40) get
#: about 0.6, low-CNI ones (CNI 0.7) about 0.1.
BORN_ABROAD_SHARE, BORN_ABROAD_CNI_POWER = 0.27, 2.5


def born_abroad(rng, pop: Population, areas: Areas) -> np.ndarray:
    """0/1 per person: born abroad, drawn with a probability set by the CNI of the person's
    area (`BORN_ABROAD_SHARE` × CNI ** `BORN_ABROAD_CNI_POWER`, the county share outside it)."""
    cni = np.where(pop.area >= 0, areas.cni[np.maximum(pop.area, 0)], 1.0)
    p = np.clip(BORN_ABROAD_SHARE * cni ** BORN_ABROAD_CNI_POWER, 0.03, 0.8)
    return (rng.random(len(pop)) < p).astype(np.int8)


def persons_table(pop: Population, areas: Areas, abroad: np.ndarray | None = None) -> pa.Table:
    """persons.csv: one row per residence interval (two consecutive rows for a mover), with
    `born_abroad` (0/1, the same on each of a person's rows) when `abroad` is given."""
    res = np.flatnonzero(pop.resident)
    moved = res[pop.move[res] < OPEN]
    other = np.flatnonzero(~pop.resident)
    person = np.concatenate([res, moved, other])
    segment = np.concatenate([np.zeros(len(res), np.int8), np.ones(len(moved), np.int8), np.zeros(len(other), np.int8)])
    order = np.lexsort((segment, person))
    person, segment = person[order], segment[order]
    has_move = pop.move[person] < OPEN
    first_of_two = has_move & (segment == 0)
    valid_from = np.where(segment == 1, pop.move[person], pop.entry[person])
    valid_to = np.where(first_of_two, pop.move[person] - 1, pop.exit[person])
    area = np.where(first_of_two, pop.area_before[person], pop.area[person])
    resident = pop.resident[person]
    area_codes = pa.array(areas.code.astype(str)).take(pa.array(np.maximum(area, 0)))
    area_codes = pc.if_else(pa.array(area >= 0), area_codes, pa.scalar(None, pa.string()))
    sex = np.where(pop.male[person], "M", "F")
    return pa.table({
        "person_id": pop.person_id.take(pa.array(person)),
        "birth_date": date_text(pop.birth[person]),
        "sex": pa.array(sex, pa.string()),
        "county_code": pa.array(pop.county_code[person].astype(str), pa.string()),
        "area_code": area_codes,
        "valid_from": date_text(valid_from, ~resident),
        "valid_to": date_text(valid_to, ~resident | (valid_to >= OPEN)),
        **({"born_abroad": pa.array(abroad[person].astype(str), pa.string())} if abroad is not None else {}),
    })
