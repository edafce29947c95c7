"""The 2015 items per listed person are traced like the other capitation lines: the persons
behind CAP_BORN_ABROAD and CAP_COMPETENCE_DEVELOPMENT add up to the line (003 Bilaga 2:
"Utlandsfödd 326 kr/år", "Kompetensutveckling 5 kr/listad")."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from support import typed_tables

from ersattning import rulebook
from ersattning.ids import make_personnummer
from ersattning.store import open_engine, run_month, store_inputs
from ersattning.trace import trace_line

MONTH = "2015-03"
A, B, C = (str(p) for p in make_personnummer(np.array(["1980-05-17", "1951-12-01", "1990-01-01"], "datetime64[D]"),
                                            np.array([123, 456, 12])))


def test_the_persons_behind_the_2015_lines_add_up_to_them(tmp_path):
    engine = open_engine(tmp_path / "t.duckdb")
    store_inputs(engine, typed_tables(
        clinics=[{"clinic_id": "A1", "name": "Alfa", "group_id": "GA", "area_code": "0180", "opened": "2010-01-01"}],
        persons=[
            {"person_id": A, "birth_date": "1980-05-17", "sex": "M", "county_code": "01", "area_code": "0180", "born_abroad": "1"},
            {"person_id": B, "birth_date": "1951-12-01", "sex": "F", "county_code": "01", "area_code": "0180", "born_abroad": "0"},
            {"person_id": C, "birth_date": "1990-01-01", "sex": "M", "county_code": "01", "area_code": "0180"},
        ],
        listings=[{"person_id": p, "clinic_id": "A1", "valid_from": "2014-01-01"} for p in (A, B, C)],
    ))
    book = rulebook.load()
    run_month(engine, MONTH, book)
    born = trace_line(engine, book, f"A1:{MONTH}:CAP_BORN_ABROAD")
    assert born["behind"]["rows_total"] == 1 == born["line"]["persons"]           # A only
    assert born["line"]["amount_ore"] == 2717                                 # 326 / 12 = 27.1667
    assert [r["rule"] for r in born["rules"]] == ["capitation_born_abroad.amount"]
    comp = trace_line(engine, book, f"A1:{MONTH}:CAP_COMPETENCE_DEVELOPMENT")
    assert comp["behind"]["rows_total"] == 3 == comp["line"]["persons"]           # A, B, C
    assert Decimal(comp["behind"]["basis_total"]) == 3
    assert comp["line"]["amount_ore"] == 125                                    # 3 × 5 / 12
    engine.con.disconnect()
