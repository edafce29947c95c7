"""A month's statement lines split over the areas where the persons behind them live
(seed 003 §4.2 point 5: listing and residence perspectives), on a hand-made region."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest
from support import duckdb_engine, typed_tables

from ersattning.analysis.attribution import month_attribution
from ersattning.statements import compute_month

A, B = "0180-01", "0162"                # Rinkeby-Kista, Danderyd
P1, P2, P3 = "199202011087", "195105051923", "198005051431"   # 30 years, 70 years, 41 years in March 2022


@pytest.fixture(scope="module")
def month(book):
    tables = typed_tables(
        clinics=[{"clinic_id": "C1", "name": "C1", "group_id": "G1", "area_code": A, "opened": "2010-01-01"}],
        kombika=[{"kombika": "11010046M30", "clinic_id": "C1", "assignment": "hlv", "valid_from": "2010-01-01"}],
        persons=[
            {"person_id": P1, "birth_date": "1992-02-01", "sex": "F", "county_code": "01", "area_code": A},
            {"person_id": P2, "birth_date": "1951-05-05", "sex": "M", "county_code": "01", "area_code": B},
            {"person_id": P3, "birth_date": "1980-05-05", "sex": "M", "county_code": "01", "area_code": A},
        ],
        listings=[{"person_id": P1, "clinic_id": "C1", "valid_from": "2020-01-01"},
                  {"person_id": P2, "clinic_id": "C1", "valid_from": "2020-01-01"}],
        risk=[{"person_id": P1, "month": "2022-01", "acg_weight": "1.0", "cni": "1.4"},
              {"person_id": P2, "month": "2022-01", "acg_weight": "2.0", "cni": "0.7"}],
        contacts=[
            {"kombika": "11010046M30", "contact_id": "1", "person_id": P1, "date": "2022-03-10", "contact_type": "clinic_visit", "profession": "nurse"},
            {"kombika": "11010046M30", "contact_id": "2", "person_id": P3, "date": "2022-03-11", "contact_type": "clinic_visit", "profession": "nurse"},
        ],
    )
    engine = duckdb_engine(tables)
    lines = compute_month(engine, book, "2022-03").lines
    return {**month_attribution(engine, book, "2022-03", lines), "lines": lines}


def _ore(parts, component, area, listed=None):
    t = parts["allocated"]
    m = pc.and_(pc.equal(t["component"], component), pc.equal(t["area_code"], area))
    if listed is not None:
        m = pc.and_(m, pc.equal(t["listed"], listed))
    return pc.sum(t.filter(m)["amount_ore"]).as_py() or 0


def test_capitation_goes_to_where_the_listed_live(month):
    # FFU 2022 (003 Bilaga 2): 6–64 310 SEK/year, 65–74 1 117, ACG 1 200 at weight 1.0, CNI 410 at CNI 1.0; a month pays 1/12.
    assert _ore(month, "capitation_age", A) == 2583          # P1: 310/12 = 25.83
    assert _ore(month, "capitation_age", B) == 9308          # P2: 1117/12 = 93.08
    # ACG line: (1.0 + 2.0) × 1200/12 = 300.00, split 1 : 2 by weight
    assert _ore(month, "capitation_acg", A) == 10000
    assert _ore(month, "capitation_acg", B) == 20000
    # CNI line: (1.4 + 0.7) × 410/12 = 71.75, split 1.4 : 0.7 → 47.83 and 23.92
    assert _ore(month, "capitation_cni", A) == 4783
    assert _ore(month, "capitation_cni", B) == 2392


def test_visits_go_to_the_patients_area_listed_or_not(month):
    # base fee 110 SEK from 2021-02-01 (RULES.md §3): P1 listed, P3 unlisted, both living in A
    assert _ore(month, "visit_fee", A, listed=True) == 11000
    assert _ore(month, "visit_fee", A, listed=False) == 11000
    assert _ore(month, "visit_fee", B) == 0


def test_population_and_visits_by_area(month):
    pop = {r["area_code"]: r for r in month["population"].to_pylist()}
    assert (pop[A]["residents"], pop[A]["listed"]) == (2, 1)
    assert (pop[B]["residents"], pop[B]["listed"]) == (1, 1)
    visits = {(r["clinic_id"], r["patient_area"]): r["n"] for r in month["visits"].to_pylist()}
    assert visits == {("C1", A): 2}


def test_every_line_is_split_whole(month):
    lines, allocated = month["lines"], month["allocated"]
    for component in set(lines["component"].to_pylist()):
        paid = pc.sum(lines.filter(pc.equal(lines["component"], component))["amount_ore"]).as_py()
        split = pc.sum(allocated.filter(pc.equal(allocated["component"], component))["amount_ore"]).as_py()
        assert split == paid, component
