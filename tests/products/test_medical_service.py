"""Cost responsibility for medical service (kostnadsansvar för medicinsk service): the clinic bears
its share of the examinations it ordered, by the service code's category.

Seed 003_887ea947c2495c54.txt, Bilaga 1, "Medicinsk service: Undersökningar där Beställaren har
hela kostnadsansvaret; Undersökningar med delat kostnadsansvar (20% beställaren)". Reading: the
region (Beställaren) pays 20 %, the clinic 80 %; outside both lists the clinic bears the whole
cost. Seed 000_4264594a5ecc0119.txt: "Vårdgivarens kostnadsansvar för medicinsk service är det
samma som för övriga besök" — an out-of-county patient's orders are borne the same way.
Codes and categories are illustrative (rules/medical_service/*_codes.yaml).
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow.compute as pc
import pytest
from support import duckdb_engine, typed_tables

from ersattning.rulebook import apply_reform
from ersattning.errors import StatementError
from ersattning.statements import compute_month

CLINICS = [{"clinic_id": c, "name": c, "group_id": "G1", "area_code": "0186", "opened": "2000-01-01"} for c in ("C1", "C2")]
STOCKHOLM, GOTLAND = "199202011087", "198505152385"
PERSONS = [
    {"person_id": STOCKHOLM, "birth_date": "1992-02-01", "sex": "F", "county_code": "01", "area_code": "0186"},
    {"person_id": GOTLAND, "birth_date": "1985-05-15", "sex": "F", "county_code": "09"},
]


def order(order_id, clinic, date, code, cost, person=STOCKHOLM):
    return {"order_id": order_id, "clinic_id": clinic, "date": date, "person_id": person, "service_code": code, "cost_sek": cost}


def lines_of(book, orders, month="2022-03"):
    engine = duckdb_engine(typed_tables(clinics=CLINICS, persons=PERSONS, medical_service=orders))
    lines = compute_month(engine, book, month).lines
    ms = lines.filter(pc.equal(lines["component"], "medical_service"))
    return {(r["clinic_id"], r["product_code"]): r for r in ms.to_pylist()}


def test_each_category_bears_its_share_of_the_months_orders(book):
    got = lines_of(book, [
        order("o1", "C1", "2022-03-01", "RAD-XR", "612.50"),   # shared
        order("o2", "C1", "2022-03-31", "RAD-UL", "1000.00"),  # shared
        order("o3", "C1", "2022-03-15", "LAB-CRP", "95.25"),   # the clinic's own
        order("o4", "C1", "2022-03-15", "RAD-MR", "4200.00"),  # the region bears all: no line
        order("o5", "C1", "2022-04-01", "LAB-CRP", "100.00"),  # April: not on March's statement
        order("o6", "C2", "2022-03-02", "LAB-BLOD", "40.00"),
    ])
    # Shared: (612.50 + 1000.00) = 1612.50 SEK × −0.80 = −1290.00 SEK.
    shared = got[("C1", "MEDICAL_SERVICE_SHARED")]
    assert shared["basis"] == Decimal("1612.50") and shared["unit_price_ore"] == -80
    assert shared["amount_ore"] == -129000
    # The clinic's own: 95.25 SEK × −1 = −95.25 SEK.
    assert got[("C1", "MEDICAL_SERVICE_CLINIC")]["amount_ore"] == -9525
    assert got[("C2", "MEDICAL_SERVICE_CLINIC")]["amount_ore"] == -4000
    assert ("C1", "MEDICAL_SERVICE_REGION") not in got  # clinic share 0: the region bears 4200.00
    assert len(got) == 3
    assert shared["unit"] == "SEK/SEK cost" and shared["illustrative"] is True
    assert shared["rule"] == "medical_service.shared_clinic_share@2016-01-01+medical_service.shared_codes@2016-01-01"


def test_the_share_is_applied_once_to_the_sum_and_rounded_once(book):
    # Three shared orders of 0.01 SEK: per order 0.8 öre would round to 1 öre each (3 öre);
    # the line sums first: 0.03 SEK × 80 öre/SEK = 2.4 öre → 2 öre, one rounding.
    got = lines_of(book, [order(f"o{i}", "C1", f"2022-03-0{i + 1}", "RAD-XR", "0.01") for i in range(3)])
    assert got[("C1", "MEDICAL_SERVICE_SHARED")]["amount_ore"] == -2
    # 80 % of a sum in whole öre is a multiple of 0.2 öre (never a half: see the 50 % reform
    # below): 0.03 + 0.04 = 0.07 SEK × 80 öre/SEK = 5.6 öre → −6 öre on the negative side.
    got = lines_of(book, [order("a", "C1", "2022-03-01", "RAD-XR", "0.03"), order("b", "C1", "2022-03-02", "RAD-XR", "0.04")])
    assert got[("C1", "MEDICAL_SERVICE_SHARED")]["amount_ore"] == -6


def test_a_half_ore_rounds_away_from_zero(book, tmp_path):
    # A reform sharing 50/50: 0.01 SEK × −50 öre/SEK = −0.5 öre → −1 öre (half away from zero).
    reform = tmp_path / "half.yaml"
    reform.write_text("description: half\nparameters:\n  medical_service.shared_clinic_share:\n    values:\n"
                      "      2022-01-01: {value: 0.5, reference: test}\n", encoding="utf-8")
    engine = duckdb_engine(typed_tables(clinics=CLINICS, persons=PERSONS, medical_service=[order("o", "C1", "2022-03-01", "RAD-XR", "0.01")]))
    lines = compute_month(engine, apply_reform(book, reform), "2022-03").lines
    ms = lines.filter(pc.equal(lines["component"], "medical_service"))
    assert ms["amount_ore"].to_pylist() == [-1]


def test_an_out_of_county_patients_orders_are_borne_the_same_way(book):
    # 000: "Vårdgivarens kostnadsansvar för medicinsk service är det samma som för övriga besök."
    home = lines_of(book, [order("o1", "C1", "2022-03-01", "RAD-XR", "500.00")])
    away = lines_of(book, [order("o1", "C1", "2022-03-01", "RAD-XR", "500.00", person=GOTLAND)])
    assert home[("C1", "MEDICAL_SERVICE_SHARED")]["amount_ore"] == away[("C1", "MEDICAL_SERVICE_SHARED")]["amount_ore"] == -40000


def test_the_statement_total_carries_the_deduction(book):
    engine = duckdb_engine(typed_tables(clinics=CLINICS, persons=PERSONS, medical_service=[order("o1", "C1", "2022-03-01", "LAB-CRP", "100.00")]))
    result = compute_month(engine, book, "2022-03")
    totals = {r["clinic_id"]: r for r in result.statements.to_pylist()}
    assert totals["C1"]["variable_ore"] == -10000 and totals["C1"]["total_ore"] == -10000


def test_a_share_in_fractions_of_a_percent_is_refused(book, tmp_path):
    reform = tmp_path / "odd.yaml"
    reform.write_text("description: odd\nparameters:\n  medical_service.shared_clinic_share:\n    values:\n"
                      "      2022-01-01: {value: 0.805, reference: test}\n", encoding="utf-8")
    engine = duckdb_engine(typed_tables(clinics=CLINICS, persons=PERSONS, medical_service=[order("o", "C1", "2022-03-01", "RAD-XR", "1.00")]))
    with pytest.raises(StatementError, match="whole percent"):
        compute_month(engine, apply_reform(book, reform), "2022-03")
