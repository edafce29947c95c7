"""Need-standardised pay by area (`analysis.need`): the indirect standardisation worked by hand
(two areas × two cells), the concentration index's standard error with the within-area term by
hand, and the whole path on a tiny region of two areas (tests/af_region.py's clinics and persons,
one more person sharing a cell across the areas): the lines split by person add up, the expected
pay adds up to the paid, the tables and the report section are written."""

from __future__ import annotations

import math
from fractions import Fraction

import af_region
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from support import typed_tables

from ersattning.analysis import analyze
from ersattning.analysis.need import concentration_index_within, standardise
from ersattning.ids import make_personnummer
from ersattning.register import intake_table, records_table
from ersattning.store import open_engine, store_inputs


def _cell(area, cell, persons, sek):
    return {"year": 2022, "area_code": area, "sex": "F", "age_band": cell, "acg_band": "1-2",
            "person_months": 12 * persons, "months": 12, "amount_ore": 100 * sek}


def test_two_areas_two_cells_by_hand():
    # Young: X 3 persons 300 SEK, Z 1 person 200 SEK → 125 SEK a person;
    # old:   X 1 person 500 SEK, Z 3 persons 2 100 SEK → 650 SEK a person.
    cells = pd.DataFrame([_cell("X", "18-34", 3, 300), _cell("Z", "18-34", 1, 200),
                          _cell("X", "75-84", 1, 500), _cell("Z", "75-84", 3, 2100)])
    t = standardise(cells).set_index("area_code")
    # expected X = 3 × 125 + 1 × 650 = 1 025 SEK; Z = 1 × 125 + 3 × 650 = 2 075 SEK
    assert t.expected_ore.to_dict() == {"X": 102500, "Z": 207500}
    assert t.paid_ore.to_dict() == {"X": 80000, "Z": 230000}
    assert t.ratio["X"] == pytest.approx(800 / 1025) and t.ratio["Z"] == pytest.approx(2300 / 2075)
    # region mean (800 + 2 300) / 8 = 387.50 SEK; X: 800/1025 × 387.50 = 302.439… SEK → 30 244 öre
    assert t.need_per_inhabitant_ore["X"] == round(Fraction(800, 1025) * 38750) == 30244
    assert t.need_per_inhabitant_ore["Z"] == round(Fraction(2300, 2075) * 38750) == 42952
    assert t.residents.to_dict() == {"X": 4.0, "Z": 4.0}


def test_equal_need_equal_pay_is_ratio_one_and_the_mean():
    cells = pd.DataFrame([_cell("X", "18-34", 2, 200), _cell("Z", "18-34", 5, 500), _cell("Z", "75-84", 1, 900)])
    t = standardise(cells).set_index("area_code")
    assert t.ratio.tolist() == [1.0, 1.0]
    # each area paid exactly as its cells: need-standardised = the region's mean, 1 600 / 8 = 200 SEK
    assert t.need_per_inhabitant_ore.tolist() == [20000, 20000]


def test_standard_error_with_the_within_term_by_hand():
    # f = ½, ½; y = 1, 3; ranks 1, 2 → μ = 2, R = ¼, ¾, C = ¼; between: Σfa² − (1+C)² = 1/64;
    # within (σ² = 1 in both): Σ fσ²(2R − 1 − C)² / μ² = (½·9/16 + ½·1/16)/4 = 5/64
    c, se_areas, se_persons = concentration_index_within([1, 3], [5, 5], [1, 2], [1, 1], n=100)
    assert c == pytest.approx(0.25)
    assert se_areas == pytest.approx(math.sqrt(1 / 64 / 2))
    assert se_persons == pytest.approx(math.sqrt((1 / 64 + 5 / 64) / 100))
    # without within-area variance, only the n differs
    _, se_a, se_p = concentration_index_within([1, 3], [5, 5], [1, 2], [0, 0], n=100)
    assert se_p == pytest.approx(se_a * math.sqrt(2 / 100))


P_ADULT2 = str(make_personnummer(np.array(["1982-03-03"], "datetime64[D]"), np.array([321]))[0])
POOR, RICH = "0180-01", "0180-04"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("need")
    master = typed_tables(
        clinics=[{"clinic_id": "A1", "name": "Vårdcentralen Alfa", "group_id": "GA", "area_code": POOR, "opened": "2015-01-01"},
                 {"clinic_id": "B1", "name": "Vårdcentralen Beta", "group_id": "GB", "area_code": RICH, "opened": "2015-01-01"}],
        kombika=[{"kombika": af_region.KA, "clinic_id": "A1", "assignment": "hlv", "valid_from": "2015-01-01"},
                 {"kombika": af_region.KB, "clinic_id": "B1", "assignment": "hlv", "valid_from": "2015-01-01"}],
        persons=[
            {"person_id": af_region.P_ADULT, "birth_date": "1980-05-17", "sex": "M", "county_code": "01", "area_code": POOR},
            {"person_id": P_ADULT2, "birth_date": "1982-03-03", "sex": "M", "county_code": "01", "area_code": RICH},
            {"person_id": af_region.P_OLD, "birth_date": "1951-12-01", "sex": "F", "county_code": "01", "area_code": RICH},
            {"person_id": af_region.P_CHILD, "birth_date": "2015-02-28", "sex": "F", "county_code": "01", "area_code": POOR},
        ],
        listings=[{"person_id": af_region.P_ADULT, "clinic_id": "A1", "valid_from": "2020-01-01"},
                  {"person_id": P_ADULT2, "clinic_id": "B1", "valid_from": "2020-01-01"},
                  {"person_id": af_region.P_OLD, "clinic_id": "B1", "valid_from": "2020-01-01"},
                  {"person_id": af_region.P_CHILD, "clinic_id": "A1", "valid_from": "2020-01-01"}],
        risk=[{"person_id": af_region.P_ADULT, "month": "2022-01", "acg_weight": "1.2", "cni": "0.9"},
              {"person_id": P_ADULT2, "month": "2022-01", "acg_weight": "1.6", "cni": "1.0"},
              {"person_id": af_region.P_OLD, "month": "2022-01", "acg_weight": "2.5", "cni": "1.1"},
              {"person_id": af_region.P_CHILD, "month": "2022-01", "acg_weight": "0.4", "cni": "1.3"}],
    )
    db = folder / "need.duckdb"
    engine = open_engine(db)
    store_inputs(engine, master)
    contacts = [af_region.contact("n-1", af_region.KA, af_region.P_ADULT),
                af_region.contact("n-2", af_region.KA, af_region.P_ADULT, date="2022-06-10"),
                af_region.contact("n-3", af_region.KB, af_region.P_OLD, date="2022-09-01", profession="nurse")]
    intake_table(engine, records_table(contacts), "need.jsonl", received_at=af_region.RECEIVED)
    engine.con.con.close()
    return analyze([2022], folder / "out", db=db, need=True), folder / "out"


def test_the_persons_pay_adds_up_and_the_expected_to_the_paid(run):
    result, out = run
    a = result.analysis
    need = pd.read_csv(out / "need.csv", dtype={"area_code": str})
    assert sorted(need.area_code) == [POOR, RICH] and need.name.notna().all()
    lines = a.year("lines", 2022)
    # every line here has persons to split by: the persons' pay is the whole year's pay
    assert need.paid_ore.sum() == pc.sum(lines["amount_ore"]).as_py()
    # everyone is a resident all year: the expected pay adds up to the paid (to an öre an area)
    assert abs(need.expected_ore.sum() - need.paid_ore.sum()) <= len(need)
    assert need.residents.tolist() == [2.0, 2.0]
    # the two men of 35–49 with ACG 1–2 share a cell across the areas: the ratios differ from 1
    cells = a.need_cells.to_pandas()
    shared = cells[(cells.sex == "M") & (cells.age_band == "35-49") & (cells.acg_band == "1-2")]
    assert sorted(shared.area_code) == [POOR, RICH]
    assert not np.allclose(need.ratio, 1.0)
    # by hand from the cells: expected = Σ person-months × the region's pay per person-month in the cell
    rate = cells.groupby(["sex", "age_band", "acg_band"]).apply(lambda c: Fraction(int(c.amount_ore.sum()), int(c.person_months.sum())))
    for area, part in cells.groupby("area_code"):
        expected = sum(int(r.person_months) * rate[(r.sex, r.age_band, r.acg_band)] for r in part.itertuples())
        assert need.set_index("area_code").expected_ore[area] == round(expected)


def test_concentration_of_raw_and_standardised_and_the_report(run):
    _, out = run
    conc = pd.read_csv(out / "need_concentration.csv")
    assert set(conc.measure) == {"raw_per_inhabitant", "need_per_inhabitant"}
    assert conc["index"].between(-1, 1).all() and (conc.std_error_persons >= 0).all() and (conc.areas == 2).all()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Behovsstandardiserad ersättning per område" in page and "ratio (paid / expected)" in page  # Swedish by default
    # the split by person leaves no person number in any output
    for path in [*out.glob("*.csv"), out / "report.html"]:
        text = path.read_text(encoding="utf-8")
        assert not any(p in text for p in (af_region.P_ADULT, af_region.P_OLD, af_region.P_CHILD, P_ADULT2)), path.name
