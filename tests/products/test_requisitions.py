"""Requisition drugs (rekvisitionsläkemedel): the clinic invoices the region for the drugs it
requisitioned and infused or injected at the clinic.

Seed 000_4264594a5ecc0119.txt, under "Fakturera": "Fakturera vissa rekvisitionsläkemedel —
Husläkarmottagningar ska rekvirera vissa läkemedel, som infunderas/injiceras på mottagningen,
istället för att skriva dessa på recept." Reading: the clinic invoices them, so the line pays the
clinic. Drug codes and prices are illustrative (rules/requisition_drugs/prices.yaml: B03AC01
1150 SEK, B03BA03 25 SEK per unit).
"""

from __future__ import annotations

import pyarrow.compute as pc
from support import duckdb_engine, typed_tables

from ersattning.statements import compute_month

CLINICS = [{"clinic_id": "C1", "name": "Ett", "group_id": "G1", "area_code": "0186", "opened": "2000-01-01"}]


def req(date, drug, quantity, clinic="C1"):
    return {"clinic_id": clinic, "date": date, "drug_code": drug, "quantity": quantity}


def test_units_are_summed_per_drug_and_priced_once(book):
    engine = duckdb_engine(typed_tables(clinics=CLINICS, requisitions=[
        req("2022-03-01", "B03AC01", "2"), req("2022-03-20", "B03AC01", "1"),   # 3 × 1150 = 3450 SEK
        req("2022-03-05", "B03BA03", "0.5"), req("2022-03-06", "B03BA03", "0.25"),  # 0.75 × 25 = 18.75 SEK
        req("2022-02-28", "B03AC01", "9"),  # February: not on March's statement
    ]))
    result = compute_month(engine, book, "2022-03")
    lines = result.lines.filter(pc.equal(result.lines["component"], "requisition_drugs"))
    got = {r["product_code"]: r for r in lines.to_pylist()}
    assert got["REQUISITION_B03AC01"]["amount_ore"] == 345000 and got["REQUISITION_B03AC01"]["unit_price_ore"] == 115000
    assert got["REQUISITION_B03BA03"]["amount_ore"] == 1875
    assert str(got["REQUISITION_B03BA03"]["basis"]) == "0.750000"
    assert set(got) == {"REQUISITION_B03AC01", "REQUISITION_B03BA03"}
    assert got["REQUISITION_B03AC01"]["detail"] == "2 requisition rows of B03AC01"
    # Paid to the clinic: 3450 + 18.75 SEK on the variable pay.
    assert result.statements.to_pylist()[0]["variable_ore"] == 346875


def test_a_fraction_of_an_ore_rounds_once_half_away_from_zero(book):
    # Two rows of 0.0001 units: each alone would be 0.25 öre (→ 0); their sum 0.0002 units ×
    # 2500 öre = 0.5 öre → 1 öre (half away from zero), rounded once on the sum.
    engine = duckdb_engine(typed_tables(clinics=CLINICS, requisitions=[req("2022-03-01", "B03BA03", "0.0001"),
                                                                      req("2022-03-02", "B03BA03", "0.0001")]))
    lines = compute_month(engine, book, "2022-03").lines
    lines = lines.filter(pc.equal(lines["component"], "requisition_drugs"))
    assert lines["amount_ore"].to_pylist() == [1]
