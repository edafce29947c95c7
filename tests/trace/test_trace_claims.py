"""AF for the claims lines: a medical_service line lists the orders it sums (order, date, code,
cost; the person by pseudonym only) and a requisition_drugs line its requisition rows; their sum
is the line's basis (003 Bilaga 1 medicinsk service; 000 rekvisitionsläkemedel)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ersattning.core import Core

P1 = "199202011087"
FILES = {
    "clinics.csv": "clinic_id,name,group_id,area_code,opened\nC1,Ett,G1,0186,2000-01-01\n",
    "persons.csv": f"person_id,birth_date,sex,county_code,area_code\n{P1},1992-02-01,F,01,0186\n",
    "listings.csv": f"person_id,clinic_id,valid_from\n{P1},C1,2020-01-01\n",
    "medical_service.csv": ("order_id,clinic_id,date,person_id,service_code,cost_sek\n"
                            f"o-1,C1,2022-03-01,{P1},RAD-XR,612.50\no-2,C1,2022-03-09,{P1},RAD-UL,1000.00\n"
                            f"o-3,C1,2022-03-09,{P1},LAB-CRP,95.25\n"),
    "requisitions.csv": "clinic_id,date,drug_code,quantity\nC1,2022-03-01,B03AC01,2\nC1,2022-03-20,B03AC01,1\n",
}


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("claims")
    for name, text in FILES.items():
        (tmp / name).write_text(text, encoding="utf-8")
    c = Core.open(tmp / "claims.duckdb")
    assert not c.load(tmp).errors.num_rows
    c.run(["2022-03"])
    return c


def test_a_medical_service_line_lists_its_orders_and_their_cost(core):
    t = core.trace_line("C1:2022-03:MEDICAL_SERVICE_SHARED")
    behind = t["behind"]
    assert behind["kind"] == "orders" and behind["rows_total"] == 2
    assert [r["order_id"] for r in behind["rows"]] == ["o-1", "o-2"]
    assert Decimal(behind["basis_total"]) == Decimal("1612.50") and t["reproduces"] is True
    assert t["line"]["amount_ore"] == -129000  # 1612.50 SEK × −0.80
    assert {r["rule"]: r["value"] for r in t["rules"]}["medical_service.shared_clinic_share"] == "0.80"
    assert P1 not in json.dumps(t) and behind["rows"][0]["person"].startswith("p")


def test_a_requisition_line_lists_its_rows_and_the_drugs_price(core):
    t = core.trace_line("C1:2022-03:REQUISITION_B03AC01")
    assert t["behind"]["kind"] == "requisitions" and t["behind"]["rows_total"] == 2
    assert Decimal(t["behind"]["basis_total"]) == 3 and t["reproduces"] is True
    assert t["rules"][0]["value"] == "1150"
    assert t["line"]["amount_ore"] == 345000
