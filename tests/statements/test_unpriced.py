"""A product without a price in force is an error naming the product and its contacts, never a
silent zero (issue: HEJ price lists; RULES.md §3)."""

from __future__ import annotations

import pytest
from support import duckdb_engine, typed_tables

from ersattning.rulebook import apply_reform
from ersattning.errors import StatementError
from ersattning.statements import compute_month

ROWS = dict(
    clinics=[{"clinic_id": "C1", "name": "Ett", "group_id": "G1", "area_code": "0186", "opened": "2000-01-01"}],
    kombika=[{"kombika": "11010046M30", "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"}],
    persons=[{"person_id": "199202011087", "birth_date": "1992-02-01", "sex": "F", "county_code": "01", "area_code": "0186"}],
    listings=[{"person_id": "199202011087", "clinic_id": "C1", "valid_from": "2020-01-01"}],
    risk=[{"person_id": "199202011087", "month": "2022-01", "acg_weight": "1", "cni": "1"}],
    contacts=[{"kombika": "11010046M30", "contact_id": "k-17", "person_id": "199202011087", "date": "2022-03-03",
               "contact_type": "clinic_visit", "profession": "doctor"}],
)


def test_a_visit_product_without_a_price_stops_the_month_and_names_the_contact(book, tmp_path):
    reform = tmp_path / "no_base_fee.yaml"
    reform.write_text(
        "description: a price list that forgot the base fee\nparameters:\n  visit_fee.prices:\n    values:\n"
        "      2022-03-01: {value: {VF_PSYCHOLOGIST: 425}, reference: test}\n",
        encoding="utf-8",
    )
    engine = duckdb_engine(typed_tables(**ROWS))
    assert compute_month(engine, book, "2022-02").lines.num_rows > 0  # February: no contacts, capitation only
    with pytest.raises(StatementError, match=r"VF_BASE.*11010046M30:k-17"):
        compute_month(engine, apply_reform(book, reform), "2022-03")


def test_with_its_price_the_same_visit_is_paid(book):
    lines = compute_month(duckdb_engine(typed_tables(**ROWS)), book, "2022-03").lines
    fee = [a for p, a in zip(lines["product_code"].to_pylist(), lines["amount_ore"].to_pylist()) if p == "VF_BASE"]
    assert fee == [11000]  # 110 SEK (RULES.md §3, from 2021-02-01)
