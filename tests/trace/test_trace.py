"""AF: a contact's path through GVR → ERSMO → HEJ → VF, and what lies behind a statement line.

The region is tests/af_region.py (March 2022): prices are RULES.md §3's base fee of 110 SEK
and seed 002's +300 supplement for a patient listed elsewhere and −300 billed to the listing clinic.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from af_region import BAD_PID, KA, KB, MONTH, P_ADULT, P_CHILD, P_OLD, P_OUT, build
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.register import intake_table, records_table
from ersattning.trace import trace_contact, trace_line

PIDS = (P_ADULT, P_OLD, P_CHILD, P_OUT, BAD_PID)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    engine = build(tmp_path_factory.mktemp("af") / "af.duckdb")
    yield engine
    engine.con.disconnect()


def test_a_visit_by_a_patient_listed_elsewhere_shows_every_product_its_price_and_line(region, book):
    t = trace_contact(region, book, KA, "a-2")
    assert t["status"] == "accepted" and t["clinic_id"] == "A1"
    assert t["facts"]["listing"] == "other" and t["facts"]["setting"] == "physical"
    products = {p["product_code"]: p for p in t["products"]}
    assert set(products) == {"VF_BASE", "SUP_OTHER_CLINIC", "DED_OWN_ELSEWHERE"}
    assert products["VF_BASE"]["unit_price_ore"] == 110_00  # RULES.md §3: 110 SEK base fee in 2022
    assert products["SUP_OTHER_CLINIC"]["unit_price_ore"] == 300_00  # seed 002: +300
    assert products["DED_OWN_ELSEWHERE"]["unit_price_ore"] == -300_00  # seed 002: −300 …
    assert products["DED_OWN_ELSEWHERE"]["billed_to"] == "B1"  # … billed to the listing clinic
    assert products["VF_BASE"]["line_id"] == "A1:2022-03:VF_BASE"
    assert products["DED_OWN_ELSEWHERE"]["line_id"] == "B1:2022-03:DED_OWN_ELSEWHERE"
    assert all(p["month_status"] == "draft" for p in t["products"])
    assert t["clinics"] == ["A1", "B1"]
    assert [r["batch_id"] for r in t["received"]] == [1]


def test_a_rejected_contact_shows_the_code_and_no_products(region, book):
    t = trace_contact(region, book, KA, "a-3")
    assert t["status"] == "rejected" and t["received"] == [] and t["products"] == []
    assert [(r["code"], r["field"], r["line"]) for r in t["rejections"]] == [("bad_person_id", "person_id", 3)]


def test_an_unknown_contact_has_no_trace(region, book):
    assert trace_contact(region, book, KA, "never-sent") is None
    assert trace_line(region, book, "A1:2022-03:NOPE") is None


def test_a_cancelled_contact_is_shown_cancelled(tmp_path, book):
    engine = build(tmp_path / "c.duckdb", run=False)
    intake_table(engine, records_table([{"contact_id": "b-1", "kombika": KB, "record_type": "cancel",
                                         "reported_at": "2022-04-01T09:00:00"}]), "cancel.jsonl")
    t = trace_contact(engine, book, KB, "b-1")
    assert t["status"] == "cancelled" and [r["record_type"] for r in t["received"]] == ["report", "cancel"]
    assert t["products"] == []


def test_the_acg_line_is_the_sum_of_its_listed_persons_weights(region, book):
    t = trace_line(region, book, "A1:2022-03:CAP_ACG")
    behind = t["behind"]
    assert behind["kind"] == "persons" and behind["rows_total"] == 2
    assert Decimal(behind["basis_total"]) == Decimal("3.7") == Decimal(t["line"]["basis"])  # 1.2 + 2.5
    assert sorted(r["acg_weight"] for r in behind["rows"]) == ["1.200000", "2.500000"]
    assert [r["rule"] for r in t["rules"]] == ["capitation_acg.rate", "capitation_acg.temporary_uplift"]
    assert t["rules"][0]["value"] == "1200" and t["rules"][0]["effective"] == "2022-01-01"  # FFU 2022
    assert "003_" in t["rules"][0]["reference"]


def test_a_visit_line_lists_its_contacts_and_the_decision_row(region, book):
    t = trace_line(region, book, "A1:2022-03:VF_BASE")
    assert [r["contact_id"] for r in t["behind"]["rows"]] == ["a-1", "a-2"]
    assert t["behind"]["rows_total"] == 2 == int(Decimal(t["line"]["quantity"]))
    assert t["rules"][1] == {"rule": "visit_fee.prices", "effective": "2021-02-01", "value": "110",
                             "reference": t["rules"][1]["reference"], "illustrative": False}
    assert t["rules"][0]["value"] == [{"when": {}, "product": "VF_BASE"}]


def test_the_rows_behind_every_line_add_up_to_its_quantity(region, book):
    # Capitation and visit lines (the pots and other items have no rows of their own behind them).
    lines = region.con.con.execute("SELECT line_id, unit, basis, persons FROM statement_lines WHERE month = ? AND "
                                   "(component LIKE 'capitation_%' OR unit = 'SEK/visit')", [MONTH]).fetchall()
    assert len(lines) == 11  # b-1 is a phone contact: no visit line from 2021-02-01 (RULES.md §10)
    for line_id, unit, basis, persons in lines:
        behind = trace_line(region, book, line_id)["behind"]
        if unit == "SEK/visit":
            assert behind["rows_total"] == basis, line_id
        else:
            assert behind["rows_total"] == persons, line_id
            assert Decimal(behind["basis_total"]) == basis, line_id


def test_no_person_number_in_any_trace(region, book):
    text = json.dumps([trace_contact(region, book, k, c) for k, c in ((KA, "a-1"), (KA, "a-2"), (KA, "a-3"), (KB, "b-1"))]
                      + [trace_line(region, book, f"A1:{MONTH}:{p}") for p in ("CAP_ACG", "VF_BASE", "CAP_AGE_6_64")])
    assert not [p for p in PIDS if p in text]
    assert "p" in text and trace_contact(region, book, KA, "a-1")["contact"]["person"].startswith("p")


def test_the_cli_prints_a_trace_and_fails_for_an_unknown_one(tmp_path):
    db = tmp_path / "cli.duckdb"
    build(db).con.disconnect()
    runner = CliRunner()
    out = runner.invoke(app, ["trace", "--db", str(db), "--contact", f"{KA}:a-2", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["status"] == "accepted"
    out = runner.invoke(app, ["trace", "--db", str(db), "--line", "A1:2022-03:CAP_ACG"])
    assert out.exit_code == 0 and "capitation_acg.rate" in out.output
    assert runner.invoke(app, ["trace", "--db", str(db), "--contact", f"{KA}:nope"]).exit_code == 2


def test_a_first_contact_shows_first_contact_and_requested_on(tmp_path, book):
    """The care-guarantee fields (RULES.md §4) are shown with the contact and each received version."""
    engine = build(tmp_path / "fc.duckdb", run=False)
    result = intake_table(engine, records_table([{
        "contact_id": "fc-1", "kombika": KA, "person_id": P_ADULT, "date": "2022-03-10", "contact_type": "clinic_visit",
        "profession": "doctor", "diagnoses": "J06.9", "first_contact": "1", "requested_on": "2022-03-08",
        "reported_at": "2022-03-10T12:00:00"}]), "fc.jsonl")
    assert result.accepted == 1, result.errors.to_pylist()
    t = trace_contact(engine, book, KA, "fc-1")
    assert t["contact"]["first_contact"] is True and t["contact"]["requested_on"] == "2022-03-08"
    assert t["received"][0]["first_contact"] is True and t["received"][0]["requested_on"] == "2022-03-08"
    assert P_ADULT not in json.dumps(t, default=str)
