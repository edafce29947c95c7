"""Invariants of a month's statements (hypothesis): totals are the sum of lines, input row
order changes nothing, and each line's amount is its exact quantity × price rounded once."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import duckdb_engine, typed_tables
from ersattning.ids import make_personnummer
from ersattning.statements import COMPONENT_GROUP, compute_month

CLINICS = ["C1", "C2", "C3"]

person = st.fixed_dictionaries(
    {
        "birth": st.dates(dt.date(1920, 1, 1), dt.date(2022, 3, 31)),
        "clinic": st.sampled_from(CLINICS + [None]),
        "listed_from": st.dates(dt.date(2015, 1, 1), dt.date(2022, 6, 30)),
        "county": st.sampled_from(["01", "01", "01", "03"]),
        "acg": st.decimals(Decimal("0"), Decimal("9.999999"), places=6),
        "cni": st.decimals(Decimal("0.5"), Decimal("1.5"), places=4),
        "home_care": st.booleans(),
    }
)


def region(people: list[dict]) -> dict[str, list[dict]]:
    ids = make_personnummer(np.array([p["birth"] for p in people], dtype="datetime64[D]"), np.arange(len(people)) % 999 + 1)
    rows = {"clinics": [], "persons": [], "listings": [], "risk": [], "home_care": [], "kombika": [], "affiliations": []}
    for c in CLINICS:
        rows["clinics"].append({"clinic_id": c, "name": c, "group_id": "G", "area_code": "0186", "opened": "2000-01-01"})
    rows["kombika"].append({"kombika": "11010046P32", "clinic_id": "C1", "assignment": "psy_child_320", "valid_from": "2021-12-01"})
    rows["affiliations"].append({"clinic_id": "C2", "provider_clinic_id": "C1", "assignment": "psy_child_320", "valid_from": "2021-12-01"})
    for pid, p in zip(ids, people):
        pid = str(pid)
        rows["persons"].append({"person_id": pid, "birth_date": p["birth"], "sex": "M", "county_code": p["county"], "area_code": "0186"})
        if p["clinic"]:
            rows["listings"].append({"person_id": pid, "clinic_id": p["clinic"], "valid_from": max(p["listed_from"], p["birth"])})
            if p["home_care"]:
                rows["home_care"].append({"person_id": pid, "clinic_id": p["clinic"], "valid_from": "2015-01-01"})
        rows["risk"].append({"person_id": pid, "month": "2015-01", "acg_weight": p["acg"], "cni": p["cni"]})
    return rows


def lines_of(result) -> list[tuple]:
    cols = ["clinic_id", "component", "product_code", "basis", "amount_ore", "rule"]
    return sorted(zip(*(result.lines[c].to_pylist() for c in cols)))


settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@given(st.lists(person, min_size=1, max_size=25), st.sampled_from(["2016-03", "2021-12", "2022-03", "2022-07"]), st.randoms())
def test_totals_equal_sum_of_lines_and_order_does_not_matter(book, people, month, rnd):
    rows = region(people)
    result = compute_month(duckdb_engine(typed_tables(**rows)), book, month)

    # Totals are the sum of lines, per clinic and per group.
    sums: dict[tuple[str, str], int] = {}
    for c, comp, a in zip(result.lines["clinic_id"].to_pylist(), result.lines["component"].to_pylist(), result.lines["amount_ore"].to_pylist()):
        key = (c, COMPONENT_GROUP[comp])
        sums[key] = sums.get(key, 0) + a
    for row in result.statements.to_pylist():
        for group in ("fixed", "variable", "goal", "adjustment"):
            assert row[f"{group}_ore"] == sums.get((row["clinic_id"], group), 0)
        assert row["total_ore"] == sum(row[f"{g}_ore"] for g in ("fixed", "variable", "goal", "adjustment"))

    # Each amount is quantity × unit price / divisor, rounded once, half away from zero.
    for basis, price, divisor, amount in zip(
        result.lines["basis"].to_pylist(), result.lines["unit_price_ore"].to_pylist(),
        result.lines["divisor"].to_pylist(), result.lines["amount_ore"].to_pylist(),
    ):
        assert amount == int((basis * price / divisor).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    # Row order of every input table changes nothing.
    shuffled = {name: rnd.sample(items, len(items)) for name, items in rows.items()}
    again = compute_month(duckdb_engine(typed_tables(**shuffled)), book, month)
    assert lines_of(again) == lines_of(result)
