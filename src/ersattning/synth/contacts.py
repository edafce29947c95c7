"""Synthetic care contacts (`contacts.csv`, DESIGN.md) of the synthetic region, as GVR would receive them.

A year of contacts is drawn in two passes, both vectorised:

1. **Plan** (the whole year): how many contacts each person makes, from an age curve
   scaled by the person's ACG weight relative to their age (some persons make none), times
   the share of the year's activity that falls within their residence; plus home-care
   visits for the persons enrolled in basic home care. Each contact gets a date from the
   year's day profile (weekdays, fewer in July and on holidays) inside the person's window.
2. **Months** (one chunk at a time): the listing on the date decides the clinic (mostly the
   listing clinic's `hlv` kombika; some at another clinic of the area or the group; video
   and phone also at the digital clinics; unlisted persons in their area, out-of-county
   visitors near the border), then the contact type (the year's mix, video growing from
   2019), the profession (a type × profession table fitted to both target margins), from
   2021-12-01 the children's psychosocial visits on the provider's `psy_child_320`
   kombika, diagnoses (ICD-10-SE) and KVÅ actions (UX007 on every video contact, XV016 and
   XV015 for some older patients), the report time, corrections (the same key reported
   again later with one field changed), cancellations, and a small share of deliberately
   invalid rows for the intake's error feedback (`INVALID_KINDS`).

Everything is deterministic from (seed, year). `generate_contacts` returns one year as a
table; `make_contacts` also returns which rows are corrections, cancellations or invalid
(for tests); `contact_tables` streams several years in file order (sorted by date, then
kombika; the few invalid rows dated in the future come last). `ContactInputs` is built
from the region's arrays (`from_region`, used by `generate`) or from the input files
themselves (`from_tables`, `from_folder`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ersattning.region import STOCKHOLM_COUNTY, is_reservnummer_arrow
from ersattning.synth.arrays import DAYS_PER_YEAR, OPEN, date_text, day, pick_weighted

COLUMNS = ("contact_id", "kombika", "person_id", "date", "contact_type", "profession", "diagnoses",
           "actions", "record_type", "reported_at", "first_contact", "requested_on")
CONTACT_TYPES = ("clinic_visit", "home_visit", "home_care_visit", "video", "phone", "team_visit",
                 "group_team_visit", "group_visit")
PROFESSIONS = ("doctor", "nurse", "assistant_nurse", "psychologist", "psychotherapist", "counsellor",
               "physiotherapist", "occupational_therapist", "dietitian", "other_licensed")
RECORD_TYPES = ("report", "cancel")
GP, PSY_CHILD = "hlv", "psy_child_320"
PSY_START = (2021, 12, 1)
STOCKHOLM = STOCKHOLM_COUNTY

(CLINIC_VISIT, HOME_VISIT, HOME_CARE_VISIT, VIDEO, PHONE, TEAM_VISIT, GROUP_TEAM_VISIT, GROUP_VISIT) = range(8)
(DOCTOR, NURSE, ASSISTANT_NURSE, PSYCHOLOGIST, PSYCHOTHERAPIST, COUNSELLOR, PHYSIOTHERAPIST,
 OCCUPATIONAL_THERAPIST, DIETITIAN, OTHER_LICENSED) = range(10)
PSYCHOSOCIAL = (PSYCHOLOGIST, PSYCHOTHERAPIST, COUNSELLOR)

# --- volumes ---------------------------------------------------------------------------------
# Contacts a year per resident (person-years), home care and visitors included: ~9.8 M a year at
# 2.44 M (DESIGN.md: ~10 M). 4.0 rather than a first 4.2 so that the variable pay of 2022 comes
# near the report's "just under 20 %" (seed 003 §5.3; docs/report_vs_engine.md).
CONTACTS_PER_RESIDENT = 4.0
# Contacts a year by age among all persons (children ~3, adults ~3, 65–74 ~6, 75+ ~10), before
# the scaling to CONTACTS_PER_RESIDENT and the home-care visits on top.
RATE_AGES = [0, 1, 5, 6, 12, 17, 18, 30, 45, 64, 65, 74, 75, 85, 104]
RATE_CURVE = [4.2, 3.6, 3.0, 2.6, 2.4, 2.6, 2.5, 2.7, 3.1, 4.0, 5.4, 6.6, 7.2, 8.8, 8.8]
# Share of persons with no contact at all in a year, by age.
NONE_AGES = [0, 2, 6, 17, 18, 30, 45, 64, 65, 75, 85]
NONE_CURVE = [0.05, 0.12, 0.22, 0.28, 0.32, 0.33, 0.28, 0.20, 0.15, 0.08, 0.05]
ACG_EXPONENT = 1.0            # a person's rate scales with (ACG / mean ACG at their age) ** this
# Residents of areas with a high Care Need Index make more visits (seed 003 §6.2: lower-income
# areas consume more visits per inhabitant); a person's rate scales with (area CNI) ** this.
# Calibrated so that the concentration index of visit pay over areas ranked by income is
# clearly negative, as the report finds (analysis: docs/report_vs_engine.md).
AREA_CNI_EXPONENT = 0.6
ACG_REL_MAX = 8.0
VISITOR_RATE = 0.3            # out-of-county persons not listed in the county: relative rate
RESERV_RATE = 0.6             # reservnummer holders not listed: relative rate
HOME_CARE_SHARE = 0.07        # of all contacts: home-care visits by nurses and assistant nurses

# --- type mix --------------------------------------------------------------------------------
# The 2022 mix (home-care visits included); video grows from 2019 (small before 2017) and
# takes its share from clinic visits (80 %) and phone (20 %).
MIX_2022 = np.array([0.55, 0.03, 0.07, 0.10, 0.20, 0.025, 0.010, 0.015])
VIDEO_SHARE = {2014: 0.002, 2015: 0.003, 2016: 0.005, 2017: 0.012, 2018: 0.025, 2019: 0.045,
               2020: 0.08, 2021: 0.10}
# Persons listed at a digital clinic: mostly video and phone there, some physical visits elsewhere.
DIGITAL_LISTED_MIX = np.array([0.16, 0.0, 0.0, 0.55, 0.25, 0.02, 0.0, 0.02])
TO_DIGITAL = {VIDEO: 0.45, PHONE: 0.10}   # video/phone contacts of others taken by a digital clinic
# A listed person's contact at another physical clinic than the listing clinic, by type.
OTHER_CLINIC = np.array([0.10, 0.01, 0.0, 0.03, 0.03, 0.02, 0.02, 0.02])
OTHER_IN_GROUP = 0.25         # of those: another clinic of the same group (else the same area)
BORDER_AREAS = ("0188", "0191", "0181", "0140", "0139", "0192", "0115")  # as in listings.py
BORDER_BIAS = 4.0

# --- professions -----------------------------------------------------------------------------
PROFESSION_SHARE = np.array([0.45, 0.30, 0.07, 0.03, 0.01, 0.025, 0.065, 0.015, 0.012, 0.023])
# Plausibility of each profession for each contact type (0 = never); fitted to both margins.
_PLAUSIBLE = np.array([
    # doc  nurse asst  psych ther  couns physio OT   diet  other
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],    # clinic_visit
    [1.0, 1.0, 0.3, 0.0, 0.0, 0.1, 0.5, 0.5, 0.0, 0.1],    # home_visit
    [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],    # home_care_visit
    [1.5, 0.8, 0.02, 1.0, 0.5, 1.0, 0.3, 0.1, 0.3, 0.2],   # video
    [1.0, 1.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3],    # phone
    [1.0, 1.0, 0.2, 0.5, 0.2, 0.5, 0.5, 0.5, 0.3, 0.3],    # team_visit
    [0.5, 1.0, 0.2, 0.5, 0.3, 0.5, 1.0, 0.5, 0.5, 0.3],    # group_team_visit
    [0.1, 0.5, 0.1, 0.7, 0.3, 0.5, 1.0, 0.2, 1.0, 0.3],    # group_visit
])
# From 2021-12-01: a child's contact that becomes a psychosocial one (extended children's
# mental-health assignment), by age; most psychosocial child contacts then go to the 320 kombika.
CHILD_PSY = {"0-5": 0.02, "6-17": 0.06}
CHILD_PSY_TYPES = (CLINIC_VISIT, HOME_VISIT, VIDEO, PHONE)
CHILD_PSY_MIX = np.array([0.5, 0.15, 0.35])  # psychologist, psychotherapist, counsellor
TO_PSY_KOMBIKA = 0.92
YOUNG_PSY_DROP = 0.75         # share of the psychosocial contacts drawn for children 0–5 given to a doctor or nurse

# --- diagnoses and actions -------------------------------------------------------------------
DIAGNOSIS_POOLS = {
    "child": {"J06.9": 30, "H66.9": 10, "J20.9": 6, "L20.9": 6, "R50.9": 6, "B34.9": 8, "J45.9": 5,
              "K59.0": 4, "R10.4": 5, "Z00.1": 8, "H10.9": 4, "J02.9": 8},
    "adult": {"J06.9": 14, "M54.5": 10, "I10": 10, "E11.9": 5, "F41.1": 6, "F32.1": 5, "Z00.0": 6,
              "K59.0": 3, "N39.0": 5, "J45.9": 4, "R52.9": 4, "L30.9": 3, "J02.9": 5, "E78.0": 3,
              "F51.0": 2, "H10.9": 2},
    "old": {"I10": 18, "E11.9": 10, "I48.9": 7, "I50.9": 6, "J44.9": 6, "N39.0": 6, "M81.9": 3,
            "F03.9": 4, "R26.8": 3, "M17.9": 5, "E78.0": 5, "I25.9": 4, "M54.5": 4, "J06.9": 5,
            "F32.1": 3, "Z00.0": 2},
    "psy_child": {"F90.0": 20, "F93.0": 15, "F43.2": 15, "F41.1": 10, "F32.1": 10, "F91.9": 8,
                  "F98.0": 5, "Z63.8": 8, "F84.0": 4},
    "psy_adult": {"F32.1": 25, "F41.1": 25, "F43.2": 15, "F43.8": 8, "F41.0": 8, "F33.1": 8,
                  "F51.0": 6, "F10.1": 5},
    "home_care": {"I50.9": 15, "J44.9": 10, "F03.9": 15, "E11.9": 10, "I10": 10, "L89.9": 8,
                  "N39.0": 8, "R26.8": 8, "I48.9": 8, "Z74.1": 8},
}
POOL_NAMES = tuple(DIAGNOSIS_POOLS)
# Number of diagnosis codes (0–3): doctors nearly always set one; others often none.
N_DIAGNOSES = {"doctor": [0.03, 0.60, 0.27, 0.10], "other": [0.30, 0.55, 0.12, 0.03]}
VIDEO_ACTION, DEEP_REVIEW, SIMPLE_REVIEW = "UX007", "XV016", "XV015"
DEEP_REVIEW_P = 0.10          # doctor's physical or home visit with a patient aged 75+
SIMPLE_REVIEW_P = 0.04        # doctor's or nurse's contact with a patient aged 65+

# --- reporting -------------------------------------------------------------------------------
INVALID_KINDS = ("bad_person_id", "unknown_kombika", "unknown_contact_type", "bad_diagnosis",
                 "future_date", "cancel_unknown")
# First contacts and the day the patient sought care (the care-guarantee share, RULES.md §4).
# Drawn from a hash of the contact's key, not from the month's random stream, so every other
# value of a contact (and so every other amount) is what it was before these columns existed;
# a correction (same key) keeps them. Each kombika has its own chance of an assessment within
# 3 days, so some clinics fall below 85 % in most months and others seldom do.
FIRST_CONTACT_SHARE = 0.25    # of the contacts: the patient's first contact about the need
WITHIN_P = (0.78, 0.97)       # per kombika: chance that a first contact comes within 3 days
LATE_DAYS = (4, 21)           # a late first contact: this many days after the request

MALFORMED_ICD = ("J6", "I1O", "E11.", "1J06.9")
UNKNOWN_TYPES = ("letter", "email", "visit")
CORRECTED_FIELDS = ("diagnoses", "profession", "actions")
_SALT = 0xC0_17AC  # separates the contacts' random streams from the region's


@dataclass
class ContactInputs:
    """What contacts are drawn from, as parallel arrays (persons and clinics by position).

    Days are day numbers (`arrays.day`), `OPEN` = no end. Areas are indexes (-1 = none: out
    of county). `acg` maps a year to each person's ACG weight in it (NaN = no risk row).
    """

    person_id: pa.Array
    birth: np.ndarray
    resident: np.ndarray          # a county resident over [entry, exit]
    reserv: np.ndarray            # a reservnummer holder (no residence interval)
    entry: np.ndarray
    exit: np.ndarray
    area: np.ndarray              # area from `move` on (or always)
    area_before: np.ndarray       # area before `move`
    move: np.ndarray
    clinic_area: np.ndarray
    clinic_group: np.ndarray      # integer group code
    opened: np.ndarray
    closed: np.ndarray
    digital: np.ndarray
    clinic_weight: np.ndarray
    border: np.ndarray            # clinic near the county border (out-of-county visitors)
    listing_person: np.ndarray
    listing_clinic: np.ndarray
    listing_start: np.ndarray
    listing_end: np.ndarray
    home_care_person: np.ndarray
    home_care_clinic: np.ndarray
    home_care_start: np.ndarray
    home_care_end: np.ndarray
    kombika: pa.Array             # codes
    kombika_clinic: np.ndarray
    kombika_psy: np.ndarray       # True: psy_child_320, False: hlv
    kombika_from: np.ndarray
    kombika_to: np.ndarray
    psy_provider: np.ndarray      # per clinic: the clinic holding its children's 320 assignment, or -1
    acg: dict[int, np.ndarray] = field(default_factory=dict)
    area_cni: np.ndarray | None = None  # per area index: the area's CNI (data/areas.csv); None = 1 everywhere

    def __post_init__(self) -> None:
        # lookups: listings by (person, start), kombika by (clinic, assignment, from)
        o = np.lexsort((self.listing_start, self.listing_person))
        self._l_person, self._l_start = self.listing_person[o], self.listing_start[o]
        self._l_end, self._l_clinic = self.listing_end[o], self.listing_clinic[o]
        key = self.kombika_clinic.astype(np.int64) * 2 + self.kombika_psy
        o = np.lexsort((self.kombika_from, key))
        self._k_order, self._k_key, self._k_from, self._k_to = o, key[o], self.kombika_from[o], self.kombika_to[o]

    @property
    def n_persons(self) -> int:
        return len(self.birth)

    @property
    def n_clinics(self) -> int:
        return len(self.opened)

    def listing_at(self, person: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The clinic each person is listed at on the day, or -1."""
        return _interval_lookup(self._l_person, self._l_start, self._l_end, person, days, self._l_clinic)

    def kombika_at(self, clinic: np.ndarray, psy: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index (into `kombika`) of the clinic's kombika for the assignment valid on the day, or -1."""
        key = clinic.astype(np.int64) * 2 + psy
        return _interval_lookup(self._k_key, self._k_from, self._k_to, key, days, self._k_order)

    def area_at(self, person: np.ndarray, days: np.ndarray) -> np.ndarray:
        return np.where(days >= self.move[person], self.area[person], self.area_before[person])

    # --- constructors ------------------------------------------------------------------------
    @classmethod
    def from_region(cls, pop, clinics, listings, home_care, kombika: pa.Table, affiliated_to: np.ndarray,
                    areas, acg: Mapping[int, np.ndarray] | None = None) -> ContactInputs:
        """From the region's arrays (`population.Population`, `clinics.Clinics`, `listings.Spells`)
        and the kombika table as written. Gives the same inputs as `from_tables` on the files
        written (areas numbered by code, clinics weighted by their number of listings), so that
        either way the same contacts come out."""
        clinic_index = {c: i for i, c in enumerate(clinics.clinic_id)}
        k_clinic = np.array([clinic_index[c] for c in kombika["clinic_id"].to_pylist()], dtype=np.int64)
        k_from, k_to = _days(kombika["valid_from"]), _days(kombika["valid_to"])
        k_psy = np.asarray(pc.equal(kombika["assignment"], PSY_CHILD).to_numpy(zero_copy_only=False), dtype=bool)
        _, group = np.unique(clinics.group_id.astype(str), return_inverse=True)
        codes = areas.code.astype(str)
        used = np.unique(np.r_[pop.area[pop.area >= 0], pop.area_before[pop.area_before >= 0], clinics.area])
        renumber = np.full(len(codes) + 1, -1, np.int64)  # old index -> rank of its code among those used
        renumber[used[np.argsort(codes[used], kind="stable")]] = np.arange(len(used))
        area_cni = np.ones(len(used))
        area_cni[renumber[used]] = np.asarray(areas.cni, dtype=np.float64)[used]
        return cls(
            person_id=pop.person_id, birth=pop.birth, resident=pop.resident, reserv=pop.reserv,
            entry=pop.entry, exit=pop.exit, area=renumber[pop.area], area_before=renumber[pop.area_before], move=pop.move,
            clinic_area=renumber[clinics.area], clinic_group=group, opened=clinics.opened, closed=clinics.closed,
            digital=clinics.digital, clinic_weight=np.bincount(listings.clinic, minlength=len(clinics)) + 1.0,
            border=np.isin(codes[clinics.area], BORDER_AREAS),
            listing_person=listings.person, listing_clinic=listings.clinic, listing_start=listings.start,
            listing_end=listings.end, home_care_person=home_care.person, home_care_clinic=home_care.clinic,
            home_care_start=home_care.start, home_care_end=home_care.end,
            kombika=kombika["kombika"].combine_chunks() if isinstance(kombika["kombika"], pa.ChunkedArray) else kombika["kombika"],
            kombika_clinic=k_clinic, kombika_psy=k_psy, kombika_from=k_from, kombika_to=k_to,
            psy_provider=_psy_provider(len(clinics), k_clinic, k_psy, affiliated_to),
            acg=dict(acg or {}), area_cni=area_cni,
        )

    @classmethod
    def from_tables(cls, tables: Mapping[str, pa.Table], digital: Iterable[str] | None = None) -> ContactInputs:
        """From the input files as tables (DESIGN.md columns; values as text, as read): clinics,
        kombika, persons, listings, and optionally risk, home_care, affiliations.

        The contract has no "digital clinic" flag: pass their ids as `digital`, or they are
        taken to be the clinics most of whose listed persons live in other areas.
        """
        cl, persons, li = tables["clinics"], tables["persons"], tables["listings"]
        clinic_ids = _text(cl["clinic_id"])
        n_c = len(clinic_ids)
        c_index = pa.array(clinic_ids, pa.string())
        area_codes = np.unique(np.concatenate([_text(cl["area_code"]), _text(persons["area_code"], keep_null=False)]))
        a_index = pa.array(area_codes, pa.string())

        # persons: one row per residence interval; a person's first and last rows give entry, exit and a move
        pid = persons["person_id"].combine_chunks() if isinstance(persons["person_id"], pa.ChunkedArray) else persons["person_id"]
        uniq = pc.unique(pid)
        row_person = np.asarray(pc.index_in(pid, value_set=uniq).to_numpy(zero_copy_only=False), dtype=np.int64)
        n = len(uniq)
        vf = _days(persons["valid_from"], missing=-OPEN)
        vt = _days(persons["valid_to"])
        area = _index(persons["area_code"], a_index)
        order = np.lexsort((vf, row_person))
        rp = row_person[order]
        first = np.r_[True, rp[1:] != rp[:-1]]
        last = np.r_[rp[1:] != rp[:-1], True]
        birth = np.zeros(n, np.int64)
        birth[rp] = _days(persons["birth_date"])[order]
        county = _text(persons["county_code"])[order]
        reserv = np.asarray(is_reservnummer_arrow(uniq).to_numpy(zero_copy_only=False), dtype=bool)
        resident = np.zeros(n, bool)
        resident[rp[last]] = (county[last] == STOCKHOLM) & (vf[order][last] > -OPEN)
        resident &= ~reserv
        entry = np.full(n, OPEN, np.int64)
        entry[rp[first]] = np.where(vf[order][first] > -OPEN, vf[order][first], birth[rp[first]])
        exit_ = np.full(n, OPEN, np.int64)
        exit_[rp[last]] = vt[order][last]
        p_area = np.full(n, -1, np.int64)
        p_area[rp[last]] = area[order][last]
        before = p_area.copy()
        before[rp[first]] = area[order][first]
        move = np.full(n, OPEN, np.int64)
        multi = last & ~first
        move[rp[multi]] = vf[order][multi]
        entry = np.where(resident, entry, birth)

        def spells(t):
            return (np.asarray(pc.index_in(t["person_id"], value_set=uniq).fill_null(-1).to_numpy(), dtype=np.int64),
                    _index(t["clinic_id"], c_index), _days(t["valid_from"]), _days(t["valid_to"]))

        lp, lc, ls, le = spells(li)
        ok = (lp >= 0) & (lc >= 0)
        lp, lc, ls, le = lp[ok], lc[ok], ls[ok], le[ok]
        if "home_care" in tables:
            hp, hc, hs, he = spells(tables["home_care"])
            ok = (hp >= 0) & (hc >= 0)
            hp, hc, hs, he = hp[ok], hc[ok], hs[ok], he[ok]
        else:
            hp = hc = hs = he = np.zeros(0, np.int64)

        c_area = _index(cl["area_code"], a_index)
        _, c_group = np.unique(_text(cl["group_id"]), return_inverse=True)
        weight = np.bincount(lc, minlength=n_c).astype(np.float64) + 1.0
        if digital is not None:
            is_digital = np.isin(clinic_ids, list(digital))
        else:
            own = np.bincount(lc, weights=(p_area[lp] == c_area[lc]).astype(np.float64), minlength=n_c)
            res_listed = np.bincount(lc, weights=(p_area[lp] >= 0).astype(np.float64), minlength=n_c)
            is_digital = (res_listed >= 5) & (own < 0.5 * res_listed)

        km = tables["kombika"]
        k_clinic = _index(km["clinic_id"], c_index)
        k_psy = np.asarray(pc.equal(km["assignment"], PSY_CHILD).to_numpy(zero_copy_only=False), dtype=bool)
        k_keep = k_clinic >= 0
        kombika = pa.array(_text(km["kombika"])[k_keep], pa.string())
        k_clinic, k_psy = k_clinic[k_keep], k_psy[k_keep]
        k_from, k_to = _days(km["valid_from"])[k_keep], _days(km["valid_to"])[k_keep]
        affiliated_to = np.full(n_c, -1, np.int64)
        if "affiliations" in tables and tables["affiliations"].num_rows:
            af = tables["affiliations"].filter(pc.equal(tables["affiliations"]["assignment"], PSY_CHILD))
            a_c, a_p = _index(af["clinic_id"], c_index), _index(af["provider_clinic_id"], c_index)
            ok = (a_c >= 0) & (a_p >= 0)
            affiliated_to[a_c[ok]] = a_p[ok]

        acg: dict[int, np.ndarray] = {}
        if "risk" in tables and tables["risk"].num_rows:
            risk = tables["risk"]
            rp_ = np.asarray(pc.index_in(risk["person_id"], value_set=uniq).fill_null(-1).to_numpy(), dtype=np.int64)
            year = np.asarray(pc.cast(pc.utf8_slice_codeunits(risk["month"], 0, 4), pa.int64()).to_numpy(), dtype=np.int64)
            weight_ = np.asarray(pc.cast(risk["acg_weight"], pa.float64()).to_numpy(), dtype=np.float64)
            for y in np.unique(year):
                a = np.full(n, np.nan)
                m = (year == y) & (rp_ >= 0)
                a[rp_[m]] = weight_[m]
                acg[int(y)] = a

        return cls(
            person_id=uniq, birth=birth, resident=resident, reserv=reserv, entry=entry, exit=exit_,
            area=p_area, area_before=before, move=move,
            clinic_area=c_area, clinic_group=c_group, opened=_days(cl["opened"]), closed=_days(cl["closed"]),
            digital=is_digital, clinic_weight=weight, border=np.isin(area_codes[np.maximum(c_area, 0)], BORDER_AREAS),
            listing_person=lp, listing_clinic=lc, listing_start=ls, listing_end=le,
            home_care_person=hp, home_care_clinic=hc, home_care_start=hs, home_care_end=he,
            kombika=kombika, kombika_clinic=k_clinic, kombika_psy=k_psy, kombika_from=k_from, kombika_to=k_to,
            psy_provider=_psy_provider(n_c, k_clinic, k_psy, affiliated_to), acg=acg,
            area_cni=_area_cni(area_codes),
        )

    @classmethod
    def from_folder(cls, folder: str | Path, digital: Iterable[str] | None = None) -> ContactInputs:
        """From a folder of input files (NAME.csv or NAME.parquet), every column read as text."""
        folder = Path(folder)
        tables = {}
        for name in ("clinics", "kombika", "persons", "listings", "risk", "home_care", "affiliations"):
            csv_path, pq_path = folder / f"{name}.csv", folder / f"{name}.parquet"
            if pq_path.exists():
                tables[name] = pq.read_table(pq_path)
            elif csv_path.exists():
                with open(csv_path, encoding="utf-8-sig") as f:
                    names = f.readline().rstrip("\r\n").split(",")
                convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=True)
                tables[name] = pacsv.read_csv(csv_path, convert_options=convert)
        return cls.from_tables(tables, digital)


@dataclass
class SyntheticContacts:
    """A year of contacts and what each row is (for tests and demos; not in the file).

    `event`: `report` (first report), `correction` (the key reported again, one field
    changed), `cancel`; `invalid`: "" for a valid row, else one of `INVALID_KINDS`;
    `corrected`: the field a correction changed ("" otherwise).
    """

    table: pa.Table
    event: np.ndarray
    invalid: np.ndarray
    corrected: np.ndarray


def generate_contacts(inputs: ContactInputs, year: int, seed: int = 2022, *, invalid_share: float = 0.005,
                      correction_share: float = 0.01, cancel_share: float = 0.01,
                      contacts_per_resident: float = CONTACTS_PER_RESIDENT) -> pa.Table:
    """A year of contacts (`contacts.csv` columns, all text), sorted by date then kombika.

    About `contacts_per_resident` contacts a year per county resident; `correction_share`
    and `cancel_share` of the reported contacts are reported again later changed, or
    cancelled; `invalid_share` of all rows are deliberately invalid (`INVALID_KINDS`).
    """
    return make_contacts(inputs, year, seed, invalid_share=invalid_share, correction_share=correction_share,
                         cancel_share=cancel_share, contacts_per_resident=contacts_per_resident).table


def make_contacts(inputs: ContactInputs, year: int, seed: int = 2022, **options) -> SyntheticContacts:
    """`generate_contacts` with the row labels (`SyntheticContacts`)."""
    parts = [part for part, _ in _year_parts(inputs, year, seed, **options)]  # the future-dated rows last
    return SyntheticContacts(
        table=pa.concat_tables([p.table for p in parts]).combine_chunks(),
        event=np.concatenate([p.event for p in parts]),
        invalid=np.concatenate([p.invalid for p in parts]),
        corrected=np.concatenate([p.corrected for p in parts]),
    )


def contact_tables(inputs: ContactInputs, years: Iterable[int], seed: int = 2022, **options) -> Iterator[pa.Table]:
    """Several years of contacts as a stream of tables in file order (by date, then kombika):
    month by month; the few invalid rows dated in the future join the month of their date
    when a later year is drawn too, else they come at the end."""
    pending: pa.Table | None = None
    for year in sorted(set(years)):
        for part, is_future in _year_parts(inputs, year, seed, **options):
            t = part.table
            if is_future:
                pending = t if pending is None else pa.concat_tables([pending, t])
                continue
            if pending is not None and pending.num_rows and t.num_rows:
                due = pc.less_equal(pending["date"], t["date"][-1])
                if pc.any(due).as_py():
                    t = pa.concat_tables([t, pending.filter(due)])
                    t = t.take(_file_order(t))
                    pending = pending.filter(pc.invert(due))
            if t.num_rows:
                yield t
    if pending is not None and pending.num_rows:
        yield pending.take(_file_order(pending))


def acg_from_risk(risk: pa.Table, person_id: pa.Array) -> np.ndarray:
    """Each person's ACG weight from one year's risk rows (NaN where the person has none)."""
    idx = np.asarray(pc.index_in(risk["person_id"], value_set=person_id).fill_null(-1).to_numpy(), dtype=np.int64)
    acg = np.full(len(person_id), np.nan)
    ok = idx >= 0
    acg[idx[ok]] = np.asarray(pc.cast(risk["acg_weight"], pa.float64()).to_numpy(), dtype=np.float64)[ok]
    return acg


# --- the year's plan ---------------------------------------------------------------------------

def _year_parts(inputs: ContactInputs, year: int, seed: int, *, invalid_share: float = 0.005,
                correction_share: float = 0.01, cancel_share: float = 0.01,
                contacts_per_resident: float = CONTACTS_PER_RESIDENT) -> Iterator[tuple[SyntheticContacts, bool]]:
    """(part, is_future) for each month of the year, then the future-dated invalid rows."""
    if not 0 <= invalid_share < 0.5 or not 0 <= correction_share <= 0.5 or not 0 <= cancel_share <= 0.5:
        raise ValueError("shares must be small non-negative fractions")
    streams = np.random.SeedSequence([seed, year, _SALT]).spawn(14)
    rng = np.random.default_rng(streams[0])
    person, dates, hc_clinic = _plan(inputs, year, rng, contacts_per_resident)
    month = dates.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    order = np.argsort(month, kind="stable")
    bounds = np.searchsorted(month[order], np.arange(13))
    n_reports = len(person)
    serial_base = 0
    future = []
    mix = _year_mix(year)
    prof_given_type = _fit_professions(mix)
    for m in range(12):
        sel = order[bounds[m]:bounds[m + 1]]
        mrng = np.random.default_rng(streams[1 + m])
        part, fut = _month(inputs, year, mrng, person[sel], dates[sel], hc_clinic[sel], mix, prof_given_type,
                           serial_base, n_reports, invalid_share, correction_share, cancel_share)
        serial_base += len(sel)
        future.append(fut)
        yield part, False
    yield _concat(future), True


def _plan(inputs: ContactInputs, year: int, rng: np.random.Generator, per_resident: float):
    """Every contact of the year as (person, date, home-care clinic or -1)."""
    jan1, dec31 = day(year), day(year, 12, 31)
    n_days = dec31 - jan1 + 1
    birth = inputs.birth
    lo = np.maximum(np.maximum(birth, jan1), np.where(inputs.resident, inputs.entry, jan1))
    hi = np.where(inputs.resident, np.minimum(inputs.exit, dec31), dec31)
    present = lo <= hi
    lo_o = np.clip(lo - jan1, 0, n_days - 1)
    hi_o = np.clip(hi - jan1, 0, n_days - 1)
    cum = np.r_[0.0, np.cumsum(_day_weights(year, home_care=False))]
    exposure = np.where(present, (cum[hi_o + 1] - cum[lo_o]) / cum[-1], 0.0)
    person_years = np.where(present & inputs.resident, (hi_o - lo_o + 1) / n_days, 0.0).sum()

    age = ((lo + hi) / 2 - birth) / DAYS_PER_YEAR
    acg = inputs.acg.get(year)
    rel = np.ones(inputs.n_persons)
    if acg is not None:
        has = np.isfinite(acg) & present
        if has.any():
            bins = np.clip((age // 5).astype(np.int64), 0, 25)
            mean = np.bincount(bins[has], weights=acg[has], minlength=26) / np.maximum(np.bincount(bins[has], minlength=26), 1)
            rel = np.where(has, acg / np.where(mean[bins] > 0, mean[bins], 1.0), 1.0)
    rel = np.clip(rel, 0.0, ACG_REL_MAX) ** ACG_EXPONENT
    p_none = np.interp(age, NONE_AGES, NONE_CURVE)
    user = rng.random(inputs.n_persons) >= p_none
    rate = np.interp(age, RATE_AGES, RATE_CURVE) * rel / (1.0 - p_none) * user
    listed = np.zeros(inputs.n_persons, bool)
    lp = inputs.listing_person
    overlaps = (inputs.listing_start <= hi[lp]) & (inputs.listing_end >= lo[lp])
    listed[lp[overlaps]] = True
    other = ~inputs.resident & ~listed
    rate = rate * np.where(other, np.where(inputs.reserv, RESERV_RATE, VISITOR_RATE), 1.0)
    if inputs.area_cni is not None:
        area = inputs.area
        rate = rate * np.where(area >= 0, inputs.area_cni[np.maximum(area, 0)], 1.0) ** AREA_CNI_EXPONENT

    total = per_resident * person_years
    mean = rate * exposure
    scale = (1.0 - HOME_CARE_SHARE) * total / mean.sum() if mean.sum() > 0 else 0.0
    counts = rng.poisson(mean * scale)
    person = np.repeat(np.arange(inputs.n_persons, dtype=np.int32), counts)
    dates = jan1 + _draw_days(rng, cum, lo_o[person], hi_o[person])

    # home-care visits: enrolments within the year and the person's window
    hp = inputs.home_care_person
    s = np.maximum(inputs.home_care_start, lo[hp])
    e = np.minimum(inputs.home_care_end, hi[hp])
    ok = present[hp] & (s <= e) & ~inputs.digital[inputs.home_care_clinic]
    hp, hcl, s_o, e_o = hp[ok], inputs.home_care_clinic[ok], s[ok] - jan1, e[ok] - jan1
    cum_hc = np.r_[0.0, np.cumsum(_day_weights(year, home_care=True))]
    hc_exposure = (cum_hc[e_o + 1] - cum_hc[s_o]) / cum_hc[-1]
    hc_counts = rng.poisson(hc_exposure * HOME_CARE_SHARE * total / hc_exposure.sum()) if len(hp) and hc_exposure.sum() > 0 \
        else np.zeros(len(hp), np.int64)
    spell = np.repeat(np.arange(len(hp)), hc_counts)
    hc_dates = jan1 + _draw_days(rng, cum_hc, s_o[spell], e_o[spell])

    person = np.r_[person, hp[spell].astype(np.int32)]
    dates = np.r_[dates, hc_dates].astype(np.int64)
    hc_clinic = np.r_[np.full(len(dates) - len(spell), -1, np.int32), hcl[spell].astype(np.int32)]
    return person, dates, hc_clinic


def _draw_days(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A day offset within [lo, hi] for each row, by the day weights whose cumulative sum
    (with a leading 0) is `cum`."""
    a, b = cum[lo], cum[hi + 1]
    t = a + rng.random(len(lo)) * (b - a)
    d = np.searchsorted(cum, t, side="right") - 1
    return np.clip(d, lo, hi).astype(np.int64)


def _easter(year: int) -> int:
    """Day number of Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    return day(year, month, (h + l - 7 * m + 114) % 31 + 1)


def _holidays(year: int) -> list[int]:
    """Swedish public holidays and the eves treated as such (midsummer, Christmas, New Year's)."""
    easter = _easter(year)
    midsummer_eve = next(d for d in range(day(year, 6, 19), day(year, 6, 26)) if (d + 3) % 7 == 4)  # a Friday
    fixed = [(1, 1), (1, 6), (5, 1), (6, 6), (12, 24), (12, 25), (12, 26), (12, 31)]
    return [day(year, m, d) for m, d in fixed] + [easter - 2, easter + 1, easter + 39, midsummer_eve]


def _day_weights(year: int, home_care: bool) -> np.ndarray:
    """Relative activity on each day of the year: weekdays, fewer in July and at Christmas."""
    days = np.arange(day(year), day(year, 12, 31) + 1)
    weekday = (days + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    month_factor = np.array([1.05, 1.08, 1.05, 1.0, 0.97, 0.9, 0.5, 0.85, 1.05, 1.05, 1.05, 0.92])
    holiday = np.isin(days, _holidays(year))
    if home_care:
        w = np.where((weekday >= 5) | holiday, 0.6, 1.0) * np.where(month == 6, 0.95, 1.0)
    else:
        w = np.where(weekday == 5, 0.06, np.where(weekday == 6, 0.04, 1.0))
        w = np.where(holiday, 0.04, w) * month_factor[month]
    return w


def _year_mix(year: int) -> np.ndarray:
    """Share of each contact type in the year (home-care visits included)."""
    video = VIDEO_SHARE.get(year, VIDEO_SHARE[min(VIDEO_SHARE)] if year < min(VIDEO_SHARE) else MIX_2022[VIDEO])
    mix = MIX_2022.copy()
    gap = MIX_2022[VIDEO] - video
    mix[VIDEO] = video
    mix[CLINIC_VISIT] += 0.8 * gap
    mix[PHONE] += 0.2 * gap
    return mix / mix.sum()


def _fit_professions(mix: np.ndarray) -> np.ndarray:
    """P(profession | type): the plausibility table raked to the type and profession margins."""
    m = _PLAUSIBLE * mix[:, None]
    for _ in range(200):
        m *= (PROFESSION_SHARE / m.sum(axis=0))[None, :]
        m *= (mix / m.sum(axis=1))[:, None]
    return m / m.sum(axis=1, keepdims=True)


# --- a month of rows ---------------------------------------------------------------------------

@dataclass
class _Rows:
    """Contact rows as integer codes (until they are written out)."""

    serial: np.ndarray
    kombika: np.ndarray      # index into the kombika codes (>= len: an unknown code of this chunk)
    person: np.ndarray       # index into person_id (>= n_persons: a mutated identifier)
    date: np.ndarray
    ctype: np.ndarray        # index into CONTACT_TYPES (>= 8: UNKNOWN_TYPES)
    profession: np.ndarray
    diag: np.ndarray         # (n, 3) index into the diagnosis code list, -1 = none
    actions: np.ndarray      # (n, 3) bool: UX007, XV016, XV015
    cancel: np.ndarray
    reported: np.ndarray     # seconds since 1970
    pool: np.ndarray         # diagnosis pool (for corrections)
    age: np.ndarray          # the patient's age on the date (for corrections)

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Rows.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.serial)


_CODES = tuple(dict.fromkeys([c for pool in DIAGNOSIS_POOLS.values() for c in pool])) + MALFORMED_ICD
_CODE_INDEX = {c: i for i, c in enumerate(_CODES)}
_POOL_CODES = [np.array([_CODE_INDEX[c] for c in DIAGNOSIS_POOLS[p]]) for p in POOL_NAMES]
_POOL_P = [np.array(list(DIAGNOSIS_POOLS[p].values()), float) / sum(DIAGNOSIS_POOLS[p].values()) for p in POOL_NAMES]
_POOL_SIZE = np.array([len(c) for c in _POOL_CODES])
_POOL_MATRIX = np.zeros((len(POOL_NAMES), _POOL_SIZE.max()), np.int16)  # pool, position -> code
_POOL_POS = np.full((len(POOL_NAMES), len(_CODES)), -1, np.int64)        # pool, code -> position
for _i, _c in enumerate(_POOL_CODES):
    _POOL_MATRIX[_i, : len(_c)] = _c
    _POOL_POS[_i, _c] = np.arange(len(_c))


def _age_years(birth: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Whole years completed on each day."""
    def parts(d):
        d = d.astype("datetime64[D]")
        y = d.astype("datetime64[Y]")
        mo = d.astype("datetime64[M]")
        md = (mo - y.astype("datetime64[M]")).astype(np.int64) * 100 + (d - mo.astype("datetime64[D]")).astype(np.int64)
        return y.astype(np.int64), md
    by, bmd = parts(birth)
    dy, dmd = parts(days)
    return dy - by - (dmd < bmd)


def _month(inputs: ContactInputs, year: int, rng: np.random.Generator, person: np.ndarray, dates: np.ndarray,
           hc_clinic: np.ndarray, mix: np.ndarray, prof_given_type: np.ndarray, serial_base: int, n_reports: int,
           invalid_share: float, correction_share: float, cancel_share: float) -> tuple[SyntheticContacts, SyntheticContacts]:
    n = len(person)
    person = person.astype(np.int64)
    is_hc = hc_clinic >= 0
    age = _age_years(inputs.birth[person], dates)
    listing = inputs.listing_at(person, dates)
    dig_listed = (listing >= 0) & inputs.digital[np.maximum(listing, 0)]

    # contact type: the year's mix for most, adjusted so that the digital-listed persons'
    # own mix leaves the overall shares on target
    ctype = np.full(n, HOME_CARE_VISIT, np.int8)
    reg = ~is_hc
    n_dig = int((dig_listed & reg).sum())
    n_reg = int(reg.sum())
    target = mix.copy()
    target[HOME_CARE_VISIT] = 0.0
    target /= target.sum()
    others = target * n_reg - DIGITAL_LISTED_MIX * n_dig
    others = np.maximum(others, 0.0)
    for mask, p in ((reg & dig_listed, DIGITAL_LISTED_MIX), (reg & ~dig_listed, others)):
        k = np.flatnonzero(mask)
        if len(k) and p.sum() > 0:
            ctype[k] = rng.choice(len(p), size=len(k), p=p / p.sum())

    clinic = np.where(is_hc, hc_clinic, -1).astype(np.int64)
    area = inputs.area_at(person, dates)
    # digital clinics: the digital-listed persons' video and phone, and some of everyone's
    remote = (ctype == VIDEO) | (ctype == PHONE)
    clinic[reg & dig_listed & remote] = listing[reg & dig_listed & remote]
    q = np.zeros(n)
    for t, p in TO_DIGITAL.items():
        q[ctype == t] = p
    to_dig = np.flatnonzero(reg & ~dig_listed & (rng.random(n) < q))
    if len(to_dig):
        cand = np.flatnonzero(inputs.digital)
        j = pick_weighted(rng, _open_on(inputs, dates[to_dig], cand) * inputs.clinic_weight[cand])
        clinic[to_dig[j >= 0]] = cand[j[j >= 0]]
    # listed at a physical clinic: mostly there, some at another clinic of the area or group
    phys_listed = reg & (clinic < 0) & (listing >= 0) & ~dig_listed
    clinic[phys_listed] = listing[phys_listed]
    elsewhere = np.flatnonzero(phys_listed & (rng.random(n) < OTHER_CLINIC[ctype]))
    in_group = rng.random(len(elsewhere)) < OTHER_IN_GROUP
    for rows, by in ((elsewhere[in_group], "group"), (elsewhere[~in_group], "area")):
        own = listing[rows]
        key = inputs.clinic_group[own] if by == "group" else inputs.clinic_area[own]
        got = _pick_physical(rng, inputs, dates[rows], key, by, exclude=own)
        none = np.flatnonzero(got < 0)  # no other clinic of the area or group open: any other one
        got[none] = _pick_physical(rng, inputs, dates[rows[none]], np.zeros(len(none), np.int64), "all", exclude=own[none])
        clinic[rows] = np.where(got >= 0, got, clinic[rows])
    # not listed (or listed at a digital clinic, for physical contacts): a clinic of the area
    rest = np.flatnonzero(reg & (clinic < 0))
    if len(rest):
        key = area[rest]
        got = _pick_physical(rng, inputs, dates[rest], key, "area", bias=None)
        ooc = key < 0
        if ooc.any():  # out-of-county visitors: clinics near the border
            got[ooc] = _pick_physical(rng, inputs, dates[rest[ooc]], np.zeros(int(ooc.sum()), np.int64), "all",
                                      bias=np.where(inputs.border, BORDER_BIAS, 1.0))
        clinic[rest] = got

    # profession by type
    profession = np.zeros(n, np.int8)
    for t in range(len(CONTACT_TYPES)):
        k = np.flatnonzero(ctype == t)
        if len(k):
            profession[k] = rng.choice(len(PROFESSIONS), size=len(k), p=prof_given_type[t])

    # small children seldom see psychosocial staff (the fitted table is the same for all ages)
    young = np.flatnonzero((age <= 5) & np.isin(profession, PSYCHOSOCIAL) & (rng.random(n) < YOUNG_PSY_DROP))
    profession[young] = np.where(rng.random(len(young)) < 0.6, DOCTOR, NURSE)

    # children's mental health from 2021-12-01: psychosocial visits on the provider's 320 kombika
    psy = np.zeros(n, bool)
    safe_clinic = np.maximum(clinic, 0)
    provider = np.where(clinic >= 0, inputs.psy_provider[safe_clinic], -1)
    child = (age <= 17) & (dates >= day(*PSY_START)) & reg & np.isin(ctype, CHILD_PSY_TYPES) & (provider >= 0)
    p_child = np.where(age <= 5, CHILD_PSY["0-5"], CHILD_PSY["6-17"])
    become = child & (rng.random(n) < p_child) & ~np.isin(profession, PSYCHOSOCIAL)
    profession[become] = np.array(PSYCHOSOCIAL, np.int8)[rng.choice(3, size=int(become.sum()), p=CHILD_PSY_MIX)]
    route = np.flatnonzero(child & np.isin(profession, PSYCHOSOCIAL) & (rng.random(n) < TO_PSY_KOMBIKA))
    k320 = inputs.kombika_at(provider[route], np.ones(len(route), np.int64), dates[route])
    ok = k320 >= 0
    psy[route[ok]] = True
    clinic[route[ok]] = provider[route[ok]]

    kombika = np.full(n, -1, np.int64)
    kombika[route[ok]] = k320[ok]
    gp = np.flatnonzero(~psy & (clinic >= 0))
    kombika[gp] = inputs.kombika_at(clinic[gp], np.zeros(len(gp), np.int64), dates[gp])
    keep = kombika >= 0  # a clinic without a valid kombika that day (not in generated regions): dropped

    diag, pool = _diagnoses(rng, age, ctype, profession, psy)
    actions = np.zeros((n, 3), bool)
    actions[:, 0] = ctype == VIDEO
    physical_doc = (profession == DOCTOR) & np.isin(ctype, (CLINIC_VISIT, HOME_VISIT, TEAM_VISIT))
    actions[:, 1] = physical_doc & (age >= 75) & (rng.random(n) < DEEP_REVIEW_P)
    actions[:, 2] = np.isin(profession, (DOCTOR, NURSE)) & (age >= 65) & ~actions[:, 1] & (rng.random(n) < SIMPLE_REVIEW_P)
    lag = 1 + rng.poisson(1.5, n) + (rng.random(n) < 0.05) * rng.integers(3, 20, n)
    reported = (dates + lag) * 86400 + rng.integers(7 * 3600, 22 * 3600, n)

    rows = _Rows(np.zeros(n, np.int64), kombika, person, dates, ctype, profession, diag, actions,
                 np.zeros(n, bool), reported, pool, age.astype(np.int16)).take(np.flatnonzero(keep))
    codes = inputs.kombika
    rows = rows.take(_order(rows, _ranks(codes)))
    rows.serial = serial_base + np.arange(len(rows), dtype=np.int64)
    return _events(inputs, year, rng, rows, codes, serial_base, n_reports, invalid_share, correction_share, cancel_share)


def _open_on(inputs: ContactInputs, days: np.ndarray, cand: np.ndarray) -> np.ndarray:
    return (inputs.opened[cand][None, :] <= days[:, None]) & (inputs.closed[cand][None, :] >= days[:, None])


def _pick_physical(rng, inputs: ContactInputs, days: np.ndarray, key: np.ndarray, by: str,
                   exclude: np.ndarray | None = None, bias: np.ndarray | None = None) -> np.ndarray:
    """A physical clinic open on each row's day, drawn by clinic weight among the clinics of
    the row's area or group (`by`; "all": any), not `exclude`; -1 where there is none."""
    out = np.full(len(days), -1, np.int64)
    clinic_key = {"area": inputs.clinic_area, "group": inputs.clinic_group,
                  "all": np.zeros(inputs.n_clinics, np.int64)}[by]
    weight = inputs.clinic_weight * (1.0 if bias is None else bias)
    for g in np.unique(key):
        rows = np.flatnonzero(key == g)
        cand = np.flatnonzero(~inputs.digital & (clinic_key == g))
        if not len(cand):
            continue
        w = _open_on(inputs, days[rows], cand) * weight[cand]
        if exclude is not None:
            w = w * (exclude[rows][:, None] != cand[None, :])
        j = pick_weighted(rng, w)
        out[rows] = np.where(j >= 0, cand[np.maximum(j, 0)], -1)
    return out


def _diagnoses(rng, age, ctype, profession, psy):
    """(n, 3) diagnosis code indexes (-1 = none) and the pool each row drew from."""
    n = len(age)
    psychosocial = np.isin(profession, PSYCHOSOCIAL)
    pool = np.where(age <= 17, 0, np.where(age >= 70, 2, 1))
    pool = np.where(psychosocial, np.where(age <= 17, 3, 4), pool)
    pool = np.where(ctype == HOME_CARE_VISIT, 5, pool).astype(np.int8)
    p_doc, p_other = (np.cumsum(N_DIAGNOSES[k]) for k in ("doctor", "other"))
    u = rng.random(n)
    count = np.where(profession == DOCTOR, (u[:, None] >= p_doc[None, :-1]).sum(1), (u[:, None] >= p_other[None, :-1]).sum(1))
    diag = np.full((n, 3), -1, np.int16)
    for i in range(len(POOL_NAMES)):
        k = np.flatnonzero(pool == i)
        if len(k):
            diag[k] = _POOL_CODES[i][rng.choice(len(_POOL_P[i]), size=(len(k), 3), p=_POOL_P[i])]
    diag[np.arange(3)[None, :] >= count[:, None]] = -1
    return _dedupe(diag), pool


def _dedupe(diag: np.ndarray) -> np.ndarray:
    """Drop repeated codes within a row and close the gaps (codes stay in the first slots)."""
    diag = diag.copy()
    diag[:, 1] = np.where(diag[:, 1] == diag[:, 0], -1, diag[:, 1])
    diag[:, 2] = np.where((diag[:, 2] == diag[:, 0]) | (diag[:, 2] == diag[:, 1]), -1, diag[:, 2])
    order = np.argsort(diag < 0, axis=1, kind="stable")
    return np.take_along_axis(diag, order, axis=1)


def _ranks(codes: pa.Array) -> np.ndarray:
    """Lexicographic rank of each kombika code."""
    order = np.asarray(pc.sort_indices(codes).to_numpy(), dtype=np.int64)
    rank = np.empty(len(codes), np.int64)
    rank[order] = np.arange(len(codes))
    return rank


def _order(rows: _Rows, rank: np.ndarray) -> np.ndarray:
    """File order: date, kombika, report time, serial."""
    return np.lexsort((rows.serial, rows.reported, rank[rows.kombika], rows.date))


def _events(inputs: ContactInputs, year: int, rng: np.random.Generator, rows: _Rows, codes: pa.Array,
            serial_base: int, n_reports: int, invalid_share: float, correction_share: float, cancel_share: float):
    """Corrections, cancellations and invalid rows on top of a month's first reports; the
    month's table (sorted) and its future-dated invalid rows."""
    n = len(rows)
    pick = rng.random(n)
    fix = np.flatnonzero(pick < correction_share)
    cancel = np.flatnonzero((pick >= correction_share) & (pick < correction_share + cancel_share))

    corr = rows.take(fix)
    corr.reported = corr.reported + rng.integers(1, 46, len(fix)) * 86400 + rng.integers(-3600, 3600, len(fix))
    field_ = rng.integers(0, len(CORRECTED_FIELDS), len(fix))
    can_prof = np.isin(corr.profession, (DOCTOR, NURSE)) & (corr.ctype != HOME_CARE_VISIT) & ~corr.actions[:, 1]
    can_act = np.isin(corr.profession, (DOCTOR, NURSE)) & (corr.ctype != HOME_CARE_VISIT) & (corr.age >= 65)
    field_ = np.where((field_ == 1) & ~can_prof, 0, field_)
    field_ = np.where((field_ == 2) & ~can_act, 0, field_)
    d = np.flatnonzero(field_ == 0)
    # another code of the same pool in the first slot (uniformly among the pool's other codes)
    size = _POOL_SIZE[corr.pool[d]]
    pos = _POOL_POS[corr.pool[d], np.maximum(corr.diag[d, 0], 0)]
    pos = np.where(corr.diag[d, 0] >= 0, pos, -1)
    new_pos = np.where(pos >= 0, (pos + rng.integers(1, size)) % size, rng.integers(0, size))
    new_first = _POOL_MATRIX[corr.pool[d], new_pos]
    diag = corr.diag.copy()
    diag[d, 0] = new_first
    corr.diag = _dedupe(diag)
    pr = np.flatnonzero(field_ == 1)
    corr.profession[pr] = np.where(corr.profession[pr] == DOCTOR, NURSE, DOCTOR)
    ac = np.flatnonzero(field_ == 2)  # an in-depth review becomes a simple one; else a simple one added or removed
    deep = corr.actions[ac, 1]
    corr.actions[ac, 2] = deep | ~corr.actions[ac, 2]
    corr.actions[ac, 1] = False

    canc = rows.take(cancel)
    canc.cancel[:] = True
    canc.reported = canc.reported + rng.integers(1, 61, len(cancel)) * 86400 + rng.integers(-3600, 3600, len(cancel))

    # invalid rows: copies of reported rows with a fresh key and one thing wrong
    n_valid = n + len(fix) + len(cancel)
    n_bad = int(np.floor(invalid_share / (1 - invalid_share) * n_valid + rng.random())) if invalid_share > 0 else 0
    src = rng.integers(0, n, n_bad) if n else np.zeros(0, np.int64)
    bad = rows.take(src)
    kind = rng.permutation((np.arange(n_bad) + rng.integers(len(INVALID_KINDS))) % len(INVALID_KINDS))
    # fresh keys: after all of the year's first reports, and this month's range never meets another's
    bad.serial = n_reports + serial_base + np.arange(n_bad, dtype=np.int64)
    n_persons, n_codes = inputs.n_persons, len(codes)
    extra_ids: list[pa.Array] = []
    extra_codes: list[pa.Array] = []

    k = np.flatnonzero(kind == 0)  # bad_person_id: a personnummer with the wrong check digit
    k = k[~inputs.reserv[bad.person[k]]]
    if len(k):
        ids = inputs.person_id.take(pa.array(bad.person[k]))
        last = np.asarray(pc.cast(pc.utf8_slice_codeunits(ids, 11, 12), pa.int64()).to_numpy(), dtype=np.int64)
        wrong = (last + rng.integers(1, 10, len(k))) % 10
        extra_ids.append(pc.binary_join_element_wise(pc.utf8_slice_codeunits(ids, 0, 11),
                                                     pc.cast(pa.array(wrong), pa.string()), ""))
        bad.person[k] = n_persons + np.arange(len(k))
    lost = np.flatnonzero(kind == 0)
    lost = lost[~np.isin(lost, k)]
    kind[lost] = 1  # a reservnummer source row: make it an unknown kombika instead
    k = np.flatnonzero(kind == 1)  # unknown_kombika: a code of the right shape that no clinic has
    if len(k):
        real = codes.take(pa.array(bad.kombika[k]))
        fake = pc.binary_join_element_wise("0", pc.utf8_slice_codeunits(real, 1, 11), "")
        fake = pc.if_else(pc.is_in(fake, value_set=codes), pa.scalar("00000000X00"), fake)
        extra_codes.append(fake)
        bad.kombika[k] = n_codes + np.arange(len(k))
    k = np.flatnonzero(kind == 2)  # unknown_contact_type
    bad.ctype[k] = len(CONTACT_TYPES) + rng.integers(0, len(UNKNOWN_TYPES), len(k))
    k = np.flatnonzero(kind == 3)  # bad_diagnosis: a malformed ICD-10 code first
    bad.diag[k, 2] = bad.diag[k, 1]
    bad.diag[k, 1] = bad.diag[k, 0]
    bad.diag[k, 0] = _CODE_INDEX[MALFORMED_ICD[0]] + rng.integers(0, len(MALFORMED_ICD), len(k))
    k = np.flatnonzero(kind == 4)  # future_date: more than a year after the year's end
    bad.date[k] = day(year + 1, 12, 31) + rng.integers(1, 180, len(k))
    k = np.flatnonzero(kind == 5)  # cancel_unknown: a cancel of a key never reported
    bad.cancel[k] = True
    bad.reported[k] += rng.integers(1, 30, len(k)) * 86400

    all_rows = _Rows.concat([rows, corr, canc, bad])
    event = np.concatenate([np.full(n, "report"), np.full(len(fix), "correction"), np.full(len(cancel), "cancel"),
                            np.where(bad.cancel, "cancel", "report")]).astype(object)
    invalid = np.concatenate([np.full(n_valid, ""), np.array(INVALID_KINDS, object)[kind]]).astype(object)
    corrected = np.concatenate([np.full(n, ""), np.array(CORRECTED_FIELDS, object)[field_],
                                np.full(len(cancel) + n_bad, "")]).astype(object)
    all_codes = pa.concat_arrays([codes.cast(pa.string())] + [c.cast(pa.string()) for c in extra_codes])
    all_ids = pa.chunked_array([inputs.person_id.cast(pa.string())] + [a.cast(pa.string()) for a in extra_ids], pa.string())
    future = all_rows.date > day(year, 12, 31)
    out = []
    for mask in (~future, future):
        idx = np.flatnonzero(mask)
        part = all_rows.take(idx)
        order = _order(part, _ranks(all_codes))
        part = part.take(order)
        out.append(SyntheticContacts(_table(part, year, all_codes, all_ids), event[idx][order],
                                     invalid[idx][order], corrected[idx][order]))
    return out[0], out[1]


def _table(rows: _Rows, year: int, codes: pa.Array, ids: pa.ChunkedArray) -> pa.Table:
    serial = pc.utf8_lpad(pc.cast(pa.array(rows.serial), pa.string()), 8, "0")
    types = pa.array(CONTACT_TYPES + UNKNOWN_TYPES, pa.string())
    actions = np.where(rows.actions, np.arange(3)[None, :], -1)
    actions = np.take_along_axis(actions, np.argsort(actions < 0, axis=1, kind="stable"), axis=1)
    reported = pc.replace_substring(pa.array(rows.reported, pa.timestamp("s")).cast(pa.string()), " ", "T", max_replacements=1)
    return pa.table({
        "contact_id": pc.binary_join_element_wise(pa.scalar(str(year)), serial, ""),
        "kombika": codes.take(pa.array(rows.kombika)),
        "person_id": ids.take(pa.array(rows.person)).combine_chunks() if len(rows) else pa.array([], pa.string()),
        "date": date_text(rows.date),
        "contact_type": types.take(pa.array(rows.ctype.astype(np.int64))),
        "profession": pa.array(PROFESSIONS, pa.string()).take(pa.array(rows.profession.astype(np.int64))),
        "diagnoses": _join_codes(rows.diag, _CODES),
        "actions": _join_codes(actions, (VIDEO_ACTION, DEEP_REVIEW, SIMPLE_REVIEW)),
        "record_type": pa.array(np.array(RECORD_TYPES)[rows.cancel.astype(np.int64)], pa.string()),
        "reported_at": reported,
        **_first_contacts(rows, year),
    })


def _hash_uniform(*keys: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) from integer keys (a splitmix64 mix): the same keys, the same draw."""
    with np.errstate(over="ignore"):
        x = np.zeros(len(keys[0]), np.uint64)
        for k in keys:
            x = (x ^ np.asarray(k).astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            x ^= x >> np.uint64(30)
            x *= np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(27)
            x *= np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _first_contacts(rows: _Rows, year: int) -> dict[str, pa.Array]:
    """first_contact ("1"/"0") and requested_on (for a first contact: 0–3 days before the date
    with the kombika's chance, else LATE_DAYS before). None on rows dated after the year (the
    future-dated invalid rows carry one problem only)."""
    n = len(rows)
    serial, year_key = rows.serial, np.full(n, year, np.int64)
    first = _hash_uniform(serial, year_key, np.full(n, 1)) < FIRST_CONTACT_SHARE
    lo, hi = WITHIN_P
    within_p = lo + (hi - lo) * _hash_uniform(rows.kombika.astype(np.int64), np.full(n, 7))
    within = _hash_uniform(serial, year_key, np.full(n, 2)) < within_p
    lag_u = _hash_uniform(serial, year_key, np.full(n, 3))
    lag = np.where(within, np.floor(lag_u * 4), LATE_DAYS[0] + np.floor(lag_u * (LATE_DAYS[1] - LATE_DAYS[0] + 1))).astype(np.int64)
    dated = rows.date <= day(year, 12, 31)
    flag = pa.array(np.where(first, "1", "0").astype(object), pa.string())
    requested = date_text(rows.date - lag)
    return {
        "first_contact": pc.if_else(pa.array(dated), flag, pa.scalar(None, pa.string())),
        "requested_on": pc.if_else(pa.array(first & dated), requested, pa.scalar(None, pa.string())),
    }


def _join_codes(idx: np.ndarray, codes: tuple[str, ...]) -> pa.Array:
    """`;`-joined codes of an (n, k) index matrix whose codes fill the first slots (-1 = none);
    null where a row has none."""
    first = pa.array(codes, pa.string()).take(pa.array(np.maximum(idx[:, 0], 0).astype(np.int64)))
    with_sep = pa.array([";" + c for c in codes], pa.string())
    parts = [first] + [pc.if_else(pa.array(idx[:, i] >= 0), with_sep.take(pa.array(np.maximum(idx[:, i], 0).astype(np.int64))), "")
                       for i in range(1, idx.shape[1])]
    joined = pc.binary_join_element_wise(*parts, "")
    return pc.if_else(pa.array(idx[:, 0] >= 0), joined, pa.scalar(None, pa.string()))


def _file_order(t: pa.Table) -> pa.Array:
    return pc.sort_indices(t, sort_keys=[("date", "ascending"), ("kombika", "ascending"), ("reported_at", "ascending"),
                                         ("contact_id", "ascending")])


def _concat(parts: list[SyntheticContacts]) -> SyntheticContacts:
    t = pa.concat_tables([p.table for p in parts])
    order = np.asarray(_file_order(t).to_numpy(), dtype=np.int64)
    return SyntheticContacts(t.take(order), *(np.concatenate([getattr(p, f) for p in parts])[order]
                                               for f in ("event", "invalid", "corrected")))


# --- helpers -----------------------------------------------------------------------------------

def _interval_lookup(keys: np.ndarray, starts: np.ndarray, ends: np.ndarray, qkey: np.ndarray, qday: np.ndarray,
                     values: np.ndarray) -> np.ndarray:
    """For (key, start)-sorted intervals, the value of the interval of `qkey` covering `qday`, or -1."""
    big = np.int64(1 << 25)
    base = keys.astype(np.int64) * big + np.clip(starts, -big + 1, big - 1)
    q = qkey.astype(np.int64) * big + qday
    pos = np.searchsorted(base, q, side="right") - 1
    safe = np.maximum(pos, 0)
    ok = (pos >= 0) & (keys[safe] == qkey) & (ends[safe] >= qday) if len(keys) else np.zeros(len(q), bool)
    return np.where(ok, values[safe] if len(keys) else -1, -1).astype(np.int64)


def _area_cni(codes: np.ndarray) -> np.ndarray:
    """The CNI of each area code from data/areas.csv (1.0 for a code not there)."""
    from ersattning.synth.areas import load_areas

    areas = load_areas()
    known = dict(zip(areas.code.astype(str), np.asarray(areas.cni, dtype=np.float64)))
    return np.array([known.get(str(c), 1.0) for c in codes], dtype=np.float64)


def _psy_provider(n_clinics: int, k_clinic: np.ndarray, k_psy: np.ndarray, affiliated_to: np.ndarray) -> np.ndarray:
    provider = np.full(n_clinics, -1, np.int64)
    holders = np.unique(k_clinic[k_psy])
    provider[holders] = holders
    aff = np.flatnonzero(affiliated_to >= 0)
    provider[aff] = affiliated_to[aff]
    return provider


def _text(a, keep_null: bool = True) -> np.ndarray:
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    if not keep_null:
        a = a.drop_null()
    return np.asarray(a.to_numpy(zero_copy_only=False), dtype=object).astype(str) if len(a) else np.zeros(0, str)


def _days(a, missing: int = OPEN) -> np.ndarray:
    """Day numbers of ISO date text (or date32) values; `missing` where empty."""
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    if pa.types.is_string(a.type) or pa.types.is_large_string(a.type):
        a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
        a = pc.cast(pc.strptime(a, format="%Y-%m-%d", unit="s"), pa.date32())
    d = pc.cast(a, pa.date32()).cast(pa.int32())
    return np.asarray(d.fill_null(missing).to_numpy(), dtype=np.int64)


def _index(a, value_set: pa.Array) -> np.ndarray:
    return np.asarray(pc.index_in(a, value_set=value_set).fill_null(-1).to_numpy(), dtype=np.int64)
