"""Clinics of the synthetic region: owners, opening and closing, kombika, children's mental-health providers, goals.

The goal counts follow the model's years (RULES.md §4): the number of quality areas and
of penalty areas per year bound the values generated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ersattning.ids import luhn_check_digits
from ersattning.synth.areas import Areas
from ersattning.synth.arrays import OPEN, date_text, day, decimal_text, largest_remainder, month_end, month_index

PERSONS_PER_CLINIC = 10_200  # ≈ 235 physical clinics at 2.4 M persons; with new and digital ones ≈ 250
NEW_CLINIC_SHARE = 0.05      # clinics that open during the years
CLOSED_CLINIC_SHARE = 0.04   # clinics that close during the years
PSY_CHILD = "psy_child_320"
GP = "hlv"
PSY_START = (2021, 12, 1)    # the extended children's mental-health assignment (seed 000)
AFFILIATED_SHARE = 0.30      # clinics that hand that assignment to a provider clinic
QUALITY_AREAS = {2015: 13, 2016: 8, 2017: 8, 2018: 7, 2019: 7, 2020: 7, 2021: 6, 2022: 7, 2023: 7}
PENALTY_AREAS = {2015: 3, 2016: 3, 2017: 3, 2018: 3, 2019: 3, 2020: 3, 2021: 2, 2022: 3, 2023: 2}
CARE_GUARANTEE_YEARS = (2021, 2023)

# (group_id, brand, share of physical clinics): a region-run chain, three private chains;
# the rest are independent (their group_id is their own clinic_id).
CHAINS = (("K01", "Länsvården", 0.26), ("K02", "Aurora Hälsa", 0.12), ("K03", "Norrsken Vård", 0.07),
          ("K04", "Ekbacken Läkargrupp", 0.05))
INDEPENDENT_BRANDS = ("Husläkarna", "Läkarhuset", "Familjeläkarna", "Vårdcentralen", "Husläkarmottagningen",
                      "Doktorerna", "Hälsocentralen", "Allmänläkarna")
SUFFIXES = ("", " Centrum", " Norra", " Södra", " Östra", " Västra", " Torg", " Park", " Strand", " Gård",
            " Backe", " Hamn", " Allé", " Port", " Höjd")
DIGITAL = (("Aurora Hälsa Digital", 0.45, "0180-06"), ("Vårdappen", 0.35, "0180-08"), ("Läkarlinjen", 0.20, "0180-05"))
DIGITAL_YEARS = (2016, 2017, 2018)


@dataclass
class Clinics:
    """All clinics as parallel arrays; `closed` is `OPEN` for a clinic that never closes."""

    clinic_id: np.ndarray
    name: np.ndarray
    group_id: np.ndarray
    area: np.ndarray
    opened: np.ndarray
    closed: np.ndarray
    weight: np.ndarray
    digital: np.ndarray
    new: np.ndarray

    def __len__(self) -> int:
        return len(self.clinic_id)

    def open_on(self, days: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """(len(days), clinics) mask: clinic open on each day."""
        idx = np.arange(len(self)) if idx is None else idx
        return (self.opened[idx][None, :] <= days[:, None]) & (self.closed[idx][None, :] >= days[:, None])


def make_clinics(rng: np.random.Generator, areas: Areas, persons: int, first_year: int, last_year: int) -> Clinics:
    w0, end = day(first_year), day(last_year, 12, 31)
    n_orig = max(len(areas), round(persons / PERSONS_PER_CLINIC))
    per_area = 1 + largest_remainder(n_orig - len(areas), areas.population)
    area = np.repeat(np.arange(len(areas)), per_area)
    # originals opened in the past: month starts 1985 .. two years before the first year
    m_lo, m_hi = month_index(day(1985)), month_index(day(first_year - 2, 12, 1))
    opened = month_end(rng.integers(m_lo, max(m_lo, m_hi) + 1, size=n_orig) - 1) + 1
    anchor = np.r_[True, area[1:] != area[:-1]]  # the first clinic of each area never closes

    n_new = max(2, round(NEW_CLINIC_SHARE * n_orig))
    new_area = rng.choice(len(areas), size=n_new, p=areas.share)
    m_first, m_last = month_index(w0) + 1, max(month_index(w0) + 1, month_index(end) - 6)
    # spread over the years (quantiles with jitter) so that early and late openings both occur
    frac = (np.arange(n_new) + rng.random(n_new)) / n_new
    new_opened = month_end(m_first + np.floor(frac * (m_last - m_first + 1)).astype(np.int64) - 1) + 1

    n_phys = n_orig + n_new
    area = np.concatenate([area, new_area])
    opened = np.concatenate([opened, new_opened])
    is_new = np.r_[np.zeros(n_orig, bool), np.ones(n_new, bool)]
    order = np.lexsort((opened, area))  # ids run by area, then by opening
    area, opened, is_new = area[order], opened[order], is_new[order]
    anchor = np.r_[anchor, np.zeros(n_new, bool)][order]
    closed = _closures(rng, area, opened, anchor, is_new, n_orig, w0, end)
    weight = rng.lognormal(0.0, 0.45, size=n_phys) * np.where(is_new, 1.5, 1.0)

    group, brand = _owners(rng, n_phys)
    d_area = np.array([areas.index(code) for _, _, code in DIGITAL])
    d_opened = np.array([day(y, int(rng.integers(1, 13)), 1) for y in DIGITAL_YEARS[: len(DIGITAL)]])
    d_opened = np.minimum(d_opened, end - 180)
    n = n_phys + len(DIGITAL)
    clinic_id = np.array([f"HLM{i + 1:04d}" for i in range(n)], dtype=object)
    group = np.concatenate([group, np.array(["K02", None, None], dtype=object)])
    group = np.where(group == None, clinic_id, group)  # noqa: E711  independents: their own id
    names = _names(rng, areas, area, brand) + [name for name, _, _ in DIGITAL]
    return Clinics(
        clinic_id=clinic_id,
        name=np.array(names, dtype=object),
        group_id=group.astype(object),
        area=np.concatenate([area, d_area]).astype(np.int64),
        opened=np.concatenate([opened, d_opened]).astype(np.int64),
        closed=np.concatenate([closed, np.full(len(DIGITAL), OPEN)]).astype(np.int64),
        weight=np.concatenate([weight, [w for _, w, _ in DIGITAL]]),
        digital=np.r_[np.zeros(n_phys, bool), np.ones(len(DIGITAL), bool)],
        new=np.r_[is_new, np.zeros(len(DIGITAL), bool)],
    )


def _closures(rng, area, opened, anchor, is_new, n_orig, w0: int, end: int) -> np.ndarray:
    """A few original clinics close (last day of a month) while another clinic of the same
    area that never closes is already open, so every area always has an open clinic."""
    closed = np.full(len(area), OPEN, dtype=np.int64)
    n_closed = max(1, round(CLOSED_CLINIC_SHARE * n_orig))
    lo, hi = w0 + 150, end - 90
    done = 0
    for k in rng.permutation(np.flatnonzero(~is_new & ~anchor).tolist() + np.flatnonzero(anchor).tolist()):
        if done == n_closed:
            break
        others = np.flatnonzero((area == area[k]) & (np.arange(len(area)) != k) & (closed == OPEN))
        if not len(others):
            continue
        earliest = max(lo, int(opened[others].min()) + 90)
        if earliest >= hi:
            continue
        closed[k] = month_end(month_index(earliest + int(rng.integers(0, hi - earliest))))
        if closed[k] > hi:
            closed[k] = month_end(month_index(earliest))
        done += 1
    return closed


def _owners(rng, n: int) -> tuple[np.ndarray, list[str]]:
    """group_id (None = independent) and brand per physical clinic."""
    shares = np.array([s for _, _, s in CHAINS])
    counts = largest_remainder(n, np.r_[shares, 1 - shares.sum()])
    labels = np.repeat(np.arange(len(CHAINS) + 1), counts)
    rng.shuffle(labels)
    group = np.array([CHAINS[i][0] if i < len(CHAINS) else None for i in labels], dtype=object)
    brands = [CHAINS[i][1] if i < len(CHAINS) else INDEPENDENT_BRANDS[int(rng.integers(len(INDEPENDENT_BRANDS)))]
              for i in labels]
    return group, brands


def _names(rng, areas: Areas, area: np.ndarray, brand: list[str]) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    for i, (a, b) in enumerate(zip(area, brand)):
        base = f"{b} {areas.name[a]}"
        for suffix in [SUFFIXES[int(rng.integers(len(SUFFIXES)))]] + list(SUFFIXES) + [f" {k}" for k in range(2, 99)]:
            if base + suffix not in taken:
                break
        names.append(base + suffix)
        taken.add(base + suffix)
    return names


def psy_providers(rng: np.random.Generator, clinics: Clinics, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Who holds the children's mental-health assignment from 2021-12-01: (provider mask,
    provider index per clinic or -1). About 30 % of the physical clinics hand it to a
    provider: same area if possible, else same group, else any; the provider never closes
    before the clinic that hands it over."""
    n = len(clinics)
    start = day(*PSY_START)
    provider = np.zeros(n, dtype=bool)
    affiliated_to = np.full(n, -1, dtype=np.int64)
    if start > day(last_year, 12, 31):
        return provider, affiliated_to
    active = ~clinics.digital & (clinics.closed >= start)
    provider[active] = True
    serves_others = np.zeros(n, dtype=bool)
    for k in rng.permutation(np.flatnonzero(active)):
        if rng.random() >= AFFILIATED_SHARE or serves_others[k]:
            continue
        cand = provider & (np.arange(n) != k) & (clinics.closed >= clinics.closed[k]) & (affiliated_to == -1)
        cand &= clinics.opened <= max(start, clinics.opened[k])
        if not cand.any():
            continue
        score = cand * (1.0 + 2.0 * (clinics.area == clinics.area[k]) + 1.0 * (clinics.group_id == clinics.group_id[k]))
        best = np.flatnonzero(score == score.max())
        provider[k] = False
        affiliated_to[k] = int(best[rng.integers(len(best))])
        serves_others[affiliated_to[k]] = True
    return provider, affiliated_to


def clinics_table(clinics: Clinics, areas: Areas) -> pa.Table:
    return pa.table({
        "clinic_id": pa.array(clinics.clinic_id.astype(str)),
        "name": pa.array(clinics.name.astype(str)),
        "group_id": pa.array(clinics.group_id.astype(str)),
        "area_code": pa.array(areas.code[clinics.area].astype(str)),
        "opened": date_text(clinics.opened),
        "closed": date_text(clinics.closed),
        "org_number": org_numbers(len(clinics)),
    })


def org_numbers(n: int) -> pa.Array:
    """Deterministic organisationsnummer NNNNNN-NNNN per clinic (aktiebolag series 5599…, Luhn check
    digit), from the clinic's position only, so no other generated value changes."""
    nine = np.array([list(f"5599{i:05d}") for i in range(1, n + 1)], dtype=np.int64).reshape(n, 9)
    check = luhn_check_digits(nine)
    text = [f"{''.join(map(str, d[:6]))}-{''.join(map(str, d[6:]))}{c}" for d, c in zip(nine, check)]
    return pa.array(text, pa.string())


def kombika_table(rng: np.random.Generator, clinics: Clinics, provider: np.ndarray) -> pa.Table:
    """One GP-care kombika per clinic; a second one for the children's mental-health
    assignment at provider clinics. Codes are 5+3+3 characters like `11010046M30`: a unique
    inrättning per clinic, a klinik, and a department (M.. for GP care, B.. for children)."""
    n = len(clinics)
    inr = 10000 + rng.choice(90000, size=n, replace=False)
    klinik = rng.integers(1, 100, size=n)
    dept = rng.integers(10, 100, size=n)
    base = np.char.add(inr.astype(str), np.char.zfill(klinik.astype(str), 3))
    gp = np.char.add(np.char.add(base, "M"), dept.astype(str))
    psy = np.char.add(np.char.add(base, "B"), dept.astype(str))
    p = np.flatnonzero(provider)
    start = day(*PSY_START)
    return pa.table({
        "kombika": pa.array(np.r_[gp, psy[p]].astype(str)),
        "clinic_id": pa.array(np.r_[clinics.clinic_id, clinics.clinic_id[p]].astype(str)),
        "assignment": pa.array([GP] * n + [PSY_CHILD] * len(p)),
        "valid_from": date_text(np.r_[clinics.opened, np.maximum(clinics.opened[p], start)]),
        "valid_to": date_text(np.r_[clinics.closed, clinics.closed[p]]),
    })


def affiliations_table(clinics: Clinics, affiliated_to: np.ndarray) -> pa.Table:
    k = np.flatnonzero(affiliated_to >= 0)
    p = affiliated_to[k]
    start = day(*PSY_START)
    return pa.table({
        "clinic_id": pa.array(clinics.clinic_id[k].astype(str), pa.string()),
        "provider_clinic_id": pa.array(clinics.clinic_id[p].astype(str), pa.string()),
        "assignment": pa.array([PSY_CHILD] * len(k), pa.string()),
        "valid_from": date_text(np.maximum(np.maximum(clinics.opened[k], clinics.opened[p]), start)),
        "valid_to": date_text(np.minimum(clinics.closed[k], clinics.closed[p])),
    })


def _nearest(table: dict[int, int], year: int) -> int:
    return table[min(max(year, min(table)), max(table))]


def goals_table(rng: np.random.Generator, clinics: Clinics, first_year: int, last_year: int,
                share_from_contacts: Iterable[int] = ()) -> pa.Table:
    """Yearly quality and penalty counts, and the monthly care-guarantee share (2021–2023),
    for every clinic open in the period. Each clinic has its own level, so some clinics
    pass the 85 % care-guarantee line most months and some seldom do. No share for the years
    in `share_from_contacts` (their contacts carry first_contact and requested_on); the draws
    are made all the same, so the other goals do not change with it."""
    from_contacts = set(share_from_contacts)
    n = len(clinics)
    quality_p = rng.beta(6.0, 3.0, size=n)
    penalty_p = rng.beta(1.0, 12.0, size=n)
    guarantee = rng.uniform(0.79, 0.95, size=n)
    clinic, period, goal, value = [], [], [], []
    for year in range(first_year, last_year + 1):
        k = np.flatnonzero((clinics.opened <= day(year, 12, 31)) & (clinics.closed >= day(year)))
        for name, table, p in (("quality_areas_met", QUALITY_AREAS, quality_p), ("penalty_areas_failed", PENALTY_AREAS, penalty_p)):
            clinic.append(k)
            period.append(pa.array([str(year)] * len(k), pa.string()))
            goal.append([name] * len(k))
            value.append(pa.array(rng.binomial(_nearest(table, year), p[k])).cast(pa.string()))
        if CARE_GUARANTEE_YEARS[0] <= year <= CARE_GUARANTEE_YEARS[1]:
            for m in range(1, 13):
                last = int(month_end(month_index(np.array([day(year, m)])))[0])
                k = np.flatnonzero((clinics.opened <= last) & (clinics.closed >= day(year, m)))
                share = np.clip(guarantee[k] + rng.normal(0.0, 0.03, size=len(k)), 0.0, 1.0)
                if year in from_contacts:
                    continue
                clinic.append(k)
                period.append(pa.array([f"{year}-{m:02d}"] * len(k), pa.string()))
                goal.append(["care_guarantee_share"] * len(k))
                value.append(decimal_text(share))
    idx = np.concatenate(clinic) if clinic else np.zeros(0, np.int64)
    return pa.table({
        "clinic_id": pa.array(clinics.clinic_id[idx].astype(str), pa.string()),
        "period": pa.concat_arrays(period) if period else pa.array([], pa.string()),
        "goal": pa.array([g for part in goal for g in part], pa.string()),
        "value": pa.concat_arrays(value) if value else pa.array([], pa.string()),
    })
