"""Listings (who is listed at which clinic, when) and basic home-care enrolments of the synthetic region.

Each person's listing history is a handful of change points: the first listing (before
the years, or some months after birth or arrival), re-listing after a move, a switch of
clinic, a switch to a digital clinic. Between change points the person stays at one
clinic; a clinic that closes hands its listed persons to another clinic of its area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ersattning.synth.areas import Areas
from ersattning.synth.arrays import DAYS_PER_YEAR, OPEN, date_text, day, draw_from, pick_weighted
from ersattning.synth.clinics import Clinics
from ersattning.synth.population import Population

FIRST, AREA, SWITCH, DIGITAL = 0, 1, 2, 3  # kinds of change point; a later kind wins on the same day
LAG_SHARE = 0.012         # residents unlisted only while waiting after birth or arrival (calibrated)
RELIST_ON_MOVE = 0.55     # a mover who lists in the new area; the others keep their clinic
OUT_OF_AREA = 0.08        # a listing at a clinic of another area (work, old habits)
SWITCH_RATE = 0.035       # yearly rate of switching clinic within the area
# Digital clinics: share of persons of the most digital ages who have switched by the
# reference day; uptake grows as time^1.3 from the first digital clinic's opening, which
# gives ≈ 5 % of all listings by the end of 2022.
DIGITAL_UPTAKE = 0.20
DIGITAL_REF = (2022, 12, 31)
OUT_OF_COUNTY_LISTED = 0.40
RESERV_LISTED = 0.25
BORDER_AREAS = ("0188", "0191", "0181", "0140", "0139", "0192", "0115")
# Basic home care: share of persons enrolled by age (cumulative onset), chosen so that
# roughly 1 % of listed 65–74, 6 % of 75–84 and 15 % of 85+ are enrolled.
HOME_CARE_AGES = np.array([65, 70, 75, 80, 85, 90, 95, 100])
# Cumulative share enrolled by age; calibrated (x0.6 of the first draft) so that the fixed
# home-care pay is about 3 % of capitation over 2016–2022 (seed 003 §5.1).
HOME_CARE_ONSET = np.array([0.0, 0.006, 0.018, 0.051, 0.078, 0.12, 0.168, 0.204])
HOME_CARE_ENDS = 0.3      # share of enrolments that end before the listing does


@dataclass
class Spells:
    """Intervals per person at a clinic: listings or home-care enrolments (`end` OPEN = open)."""

    person: np.ndarray
    clinic: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    def table(self, pop: Population, clinics: Clinics) -> pa.Table:
        return pa.table({
            "person_id": pop.person_id.take(pa.array(self.person)),
            "clinic_id": pa.array(clinics.clinic_id.astype(str)).take(pa.array(self.clinic)),
            "valid_from": date_text(self.start),
            "valid_to": date_text(self.end),
        })


def _digital_affinity(age: np.ndarray) -> np.ndarray:
    return np.interp(age, [17.99, 18, 22, 30, 38, 45, 50, 50.01], [0, 0.5, 1, 1, 0.6, 0.3, 0.15, 0])


def make_listings(rng: np.random.Generator, pop: Population, clinics: Clinics, areas: Areas,
                  first_year: int, last_year: int) -> Spells:
    w0, end = day(first_year), day(last_year, 12, 31)
    res = np.flatnonzero(pop.resident)
    n = len(res)
    birth, entry, exit_, move = pop.birth[res], pop.entry[res], pop.exit[res], pop.move[res]
    stop = np.minimum(exit_, end)
    never = np.clip(areas.unlisted_share[pop.area[res]] - LAG_SHARE, 0.002, 1.0)
    lister = rng.random(n) >= never
    # first listing some months after birth or arrival, also for those who came before the
    # years (so that listing histories do not depend on where the years begin)
    newborn = entry == birth
    first = entry + np.where(newborn, 30 + np.floor(rng.gamma(2.0, 45.0, n)).astype(np.int64),
                             7 + np.floor(rng.exponential(120.0, n)).astype(np.int64))
    listed = lister & (first <= stop)

    cp_person, cp_day, cp_kind = [np.flatnonzero(listed)], [first[listed]], [np.full(int(listed.sum()), FIRST)]

    def add(mask, days, kind):
        cp_person.append(np.flatnonzero(mask))
        cp_day.append(days[mask])
        cp_kind.append(np.full(int(mask.sum()), kind))

    relist = move + np.floor(rng.exponential(45.0, n)).astype(np.int64)
    add(listed & (move < OPEN) & (move > first) & (rng.random(n) < RELIST_ON_MOVE) & (relist <= stop), relist, AREA)

    lo = np.maximum(first, w0)
    span = stop - lo
    p_switch = 1.0 - np.exp(-SWITCH_RATE * np.maximum(span, 0) / DAYS_PER_YEAR)
    switch_day = lo + 1 + np.floor(rng.random(n) * np.maximum(span, 0)).astype(np.int64)
    add(listed & (span >= 1) & (rng.random(n) < p_switch), switch_day, SWITCH)

    d_open = int(clinics.opened[clinics.digital].min())
    ref = day(*DIGITAL_REF)
    u = rng.random(n)
    digital_day = d_open + np.floor((ref - d_open) * (u / DIGITAL_UPTAKE) ** (1 / 1.3)).astype(np.int64)
    affinity = _digital_affinity((digital_day - birth) / DAYS_PER_YEAR)
    add(listed & (rng.random(n) < affinity) & (digital_day > first) & (digital_day <= stop), digital_day, DIGITAL)

    person, start, kind = (np.concatenate(c) for c in (cp_person, cp_day, cp_kind))
    order = np.lexsort((kind, start, person))
    person, start, kind = person[order], start[order], kind[order]
    same_next = np.r_[(person[1:] == person[:-1]) & (start[1:] == start[:-1]), False]
    person, start, kind = person[~same_next], start[~same_next], kind[~same_next]
    has_next = np.r_[person[1:] == person[:-1], False]
    end_s = np.where(has_next, np.r_[start[1:], 0] - 1, exit_[person])

    clinic = np.full(len(person), -1, dtype=np.int64)
    is_dig = kind == DIGITAL
    d_idx = np.flatnonzero(clinics.digital)
    clinic[is_dig] = d_idx[pick_weighted(rng, clinics.open_on(start[is_dig], d_idx) * clinics.weight[d_idx])]
    # a spell that began before the years takes a clinic open when the years begin (or when it ends)
    choice_day = np.where(start >= w0, start, np.minimum(end_s, w0))
    area = pop.area_at(res[person], choice_day)
    away = rng.random(len(person)) < OUT_OF_AREA
    area[away] = draw_from(rng, areas.population, int(away.sum()))
    phys = np.flatnonzero(~is_dig)
    clinic[phys] = _choose_in_area(rng, clinics, area[phys], choice_day[phys])
    start = np.maximum(start, clinics.opened[clinic])
    person, clinic, start, end_s = _follow_closures(rng, clinics, res[person], clinic, start, end_s)

    others = _others(rng, pop, clinics, areas, w0, end)
    return _merge(Spells(np.r_[person, others.person], np.r_[clinic, others.clinic],
                         np.r_[start, others.start], np.r_[end_s, others.end]))


def _choose_in_area(rng, clinics: Clinics, area: np.ndarray, days: np.ndarray, never_closing_bias: float = 1.0) -> np.ndarray:
    """A physical clinic of each row's area open on its day, drawn by clinic weight; where
    the area has none open, any physical clinic open that day."""
    out = np.full(len(area), -1, dtype=np.int64)
    physical = ~clinics.digital
    bias = np.where(clinics.closed >= OPEN, 1.0, 1.0 / never_closing_bias)
    for a in np.unique(area):
        rows = np.flatnonzero(area == a)
        cand = np.flatnonzero(physical & (clinics.area == a))
        if len(cand):
            j = pick_weighted(rng, clinics.open_on(days[rows], cand) * (clinics.weight * bias)[cand])
            out[rows] = np.where(j >= 0, cand[np.maximum(j, 0)], -1)
    missing = np.flatnonzero(out < 0)
    if len(missing):
        cand = np.flatnonzero(physical)
        j = pick_weighted(rng, clinics.open_on(days[missing], cand) * clinics.weight[cand])
        if (j < 0).any():
            raise AssertionError("no clinic open on a listing day")  # a bug in make_clinics
        out[missing] = cand[j]
    return out


def _follow_closures(rng, clinics: Clinics, person, clinic, start, end_s):
    """Split every listing at its clinic's closing day; from the next day the person is
    listed at another clinic of the same area (preferably one that stays open)."""
    parts = [(person, clinic, start, end_s)]
    p, c, s, e = person, clinic, start, end_s
    for _ in range(20):
        closed = clinics.closed[c]
        v = np.flatnonzero(closed < e)
        if not len(v):
            break
        e = e.copy()
        new_start, new_end = closed[v] + 1, e[v]
        e[v] = closed[v]
        parts[-1] = (p, c, s, e)
        p, s, e = p[v], new_start, new_end
        c = _choose_in_area(rng, clinics, clinics.area[c[v]], new_start, never_closing_bias=20.0)
        parts.append((p, c, s, e))
    else:
        raise AssertionError("listings keep landing on closing clinics")
    return tuple(np.concatenate(x) for x in zip(*parts))


def _others(rng, pop: Population, clinics: Clinics, areas: Areas, w0: int, end: int) -> Spells:
    """Out-of-county persons (most listed at clinics near the county border) and
    reservnummer holders: some are listed, from a day in or shortly before the years."""
    idx = np.flatnonzero(~pop.resident)
    share = np.where(pop.reserv[idx], RESERV_LISTED, OUT_OF_COUNTY_LISTED)
    idx = idx[rng.random(len(idx)) < share]
    lo = w0 - 3 * 365
    start = lo + np.floor(rng.random(len(idx)) * (end - 30 - lo)).astype(np.int64)
    start = np.maximum(start, pop.birth[idx] + 30)
    keep = start <= end
    idx, start = idx[keep], start[keep]
    border = np.isin(areas.code[clinics.area], BORDER_AREAS)
    cand = np.flatnonzero(~clinics.digital & (clinics.closed >= OPEN))
    w = clinics.weight[cand] * np.where(border[cand], 4.0, 1.0)
    weights = (clinics.opened[cand][None, :] <= start[:, None]) * np.where(pop.reserv[idx][:, None], clinics.weight[cand], w)
    j = pick_weighted(rng, weights)
    ok = j >= 0
    return Spells(idx[ok], cand[j[ok]], start[ok], np.full(int(ok.sum()), OPEN, dtype=np.int64))


def _merge(spells: Spells) -> Spells:
    """Sort by person and start, and join back-to-back spells at the same clinic."""
    order = np.lexsort((spells.start, spells.person))
    p, c, s, e = spells.person[order], spells.clinic[order], spells.start[order], spells.end[order]
    joins = np.r_[False, (p[1:] == p[:-1]) & (c[1:] == c[:-1]) & (e[:-1] + 1 == s[1:])]
    head = np.flatnonzero(~joins)
    tail = np.r_[head[1:] - 1, len(p) - 1]
    return Spells(p[head], c[head], s[head], e[tail])


def make_home_care(rng: np.random.Generator, pop: Population, clinics: Clinics, listings: Spells, last_day: int) -> Spells:
    """Enrolment in basic home care: from an age drawn per person (mostly 75+) until the
    listing ends (or earlier for some), at the listing clinic; residents at physical
    clinics only (no home care for out-of-county patients). Only enrolments that start by
    `last_day` (the region's horizon) are kept: the region says nothing about later years."""
    n = len(pop)
    u = rng.random(n)
    onset = np.interp(u, HOME_CARE_ONSET, HOME_CARE_AGES)
    begins = np.where(u < HOME_CARE_ONSET[-1], pop.birth + np.floor(onset * DAYS_PER_YEAR).astype(np.int64), OPEN)
    ends = np.where(rng.random(n) < HOME_CARE_ENDS, begins + np.floor(rng.exponential(3.0, n) * DAYS_PER_YEAR).astype(np.int64), OPEN)
    ends = np.minimum(ends, OPEN)
    p = listings.person
    eligible = pop.resident[p] & ~clinics.digital[listings.clinic] & (begins[p] < OPEN)
    s = np.maximum(listings.start, begins[p])
    e = np.minimum(listings.end, ends[p])
    keep = eligible & (s <= e) & (s <= last_day)
    return Spells(p[keep], listings.clinic[keep], s[keep], e[keep])
