"""A month's life cycle (DESIGN.md statements; RULES.md §6): draft → issued, frozen; late
corrections and cancellations of contacts in an issued month become adjustment lines on the
next statement, each naming the month and line it corrects; manual lines are audited and
never deleted. Amounts worked out by hand from the 2022 visit model (110 SEK base fee,
425 SEK psychologist, ±300 SEK for another clinic's listed patient; seed 002)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.compute as pc
import pytest

from support import typed_tables, write_csv
from ersattning import rulebook
from ersattning.errors import StatementError
from ersattning.register import intake
from ersattning.store import add_manual_line, manual_lines, month_status, open_engine, run_month, store_inputs

K1, K2 = "11010046M30", "11010047M30"
A, B, D = "198503031018", "199007071021", "197009091047"
COLUMNS = ["contact_id", "kombika", "person_id", "date", "contact_type", "profession", "diagnoses", "actions", "record_type", "reported_at"]


def master(listings=None):
    return typed_tables(
        clinics=[
            {"clinic_id": "C1", "name": "Ett", "group_id": "G1", "area_code": "0180-08", "opened": "2000-01-01"},
            {"clinic_id": "C2", "name": "Två", "group_id": "G2", "area_code": "0180-08", "opened": "2000-01-01"},
        ],
        kombika=[
            {"kombika": K1, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"},
            {"kombika": K2, "clinic_id": "C2", "assignment": "hlv", "valid_from": "2000-01-01"},
        ],
        persons=[
            {"person_id": A, "birth_date": "1985-03-03", "sex": "M", "county_code": "01", "area_code": "0180-08"},
            {"person_id": B, "birth_date": "1990-07-07", "sex": "F", "county_code": "01", "area_code": "0180-08"},
            {"person_id": D, "birth_date": "1970-09-09", "sex": "F", "county_code": "01", "area_code": "0180-08"},
        ],
        listings=listings or [
            {"person_id": A, "clinic_id": "C1", "valid_from": "2010-01-01"},
            {"person_id": B, "clinic_id": "C1", "valid_from": "2010-01-01"},
            {"person_id": D, "clinic_id": "C2", "valid_from": "2010-01-01"},
        ],
    )


def report(engine, tmp_path: Path, rows: list[dict], received: dt.datetime, name: str):
    path = write_csv(tmp_path / f"{name}.csv", rows, COLUMNS)
    result = intake(engine, path, received_at=received)
    assert result.rejected == 0, result.errors.to_pylist()
    return result


def visit(cid, person, date, profession="doctor", reported="2022-02-28T10:00:00", **more):
    return {"contact_id": cid, "kombika": K1, "person_id": person, "date": date, "contact_type": "clinic_visit",
            "profession": profession, "diagnoses": "J06.9", "reported_at": reported, **more}


@pytest.fixture
def engine(tmp_path):
    e = open_engine(tmp_path / "life.duckdb")
    store_inputs(e, master())
    yield e
    e.con.disconnect()


def lines(engine, month, component=None):
    sql = "SELECT * FROM statement_lines WHERE month = ?" + (" AND component = ?" if component else "") + " ORDER BY line_id"
    args = [month] + ([component] if component else [])
    return engine.con.con.sql(sql, params=args).to_arrow_table().to_pylist()


def test_cancellation_in_an_issued_month_becomes_adjustment_lines_on_the_next(engine, tmp_path):
    book = rulebook.load()
    report(engine, tmp_path, [
        visit("c1", A, "2022-02-03"),
        visit("c2", B, "2022-02-10", profession="nurse"),
        visit("c3", D, "2022-02-11"),  # D is listed at C2: C1 gets +300, C2 pays -300 (from 2021-09)
    ], dt.datetime(2022, 3, 1, 8), "feb")
    status, feb = run_month(engine, "2022-02", book, issue=True, user="anna")
    assert status == "issued"
    issued = {(r["clinic_id"], r["product_code"]): r["amount_ore"] for r in lines(engine, "2022-02") if r["component"] != "capitation_age"}
    assert issued[("C1", "VF_BASE")] == 3 * 11000
    assert issued[("C1", "SUP_OTHER_CLINIC")] == 30000 and issued[("C2", "DED_OWN_ELSEWHERE")] == -30000
    frozen = engine.con.con.execute("SELECT content_hash, issued_by FROM months WHERE month = '2022-02'").fetchall()[0]
    assert frozen[1] == "anna"

    # Later: c3 is cancelled and a psychologist visit of February is reported late.
    report(engine, tmp_path, [
        {"contact_id": "c3", "kombika": K1, "record_type": "cancel", "reported_at": "2022-03-15T09:00:00"},
        visit("c4", A, "2022-02-20", profession="psychologist", reported="2022-03-15T09:00:00"),
    ], dt.datetime(2022, 3, 15, 9), "late")

    # The issued month never changes.
    assert run_month(engine, "2022-02", book, issue=True) == ("issued", None)
    assert lines(engine, "2022-02") == [{**r} for r in lines(engine, "2022-02")]
    assert engine.con.con.execute("SELECT content_hash FROM months WHERE month = '2022-02'").fetchall()[0][0] == frozen[0]
    assert {(r["clinic_id"], r["product_code"]): r["amount_ore"] for r in lines(engine, "2022-02") if r["component"] != "capitation_age"} == issued

    # March carries the corrections, each pointing to February's line.
    run_month(engine, "2022-03", book)
    adj = {(r["clinic_id"], r["product_code"]): r for r in lines(engine, "2022-03", "adjustment")}
    assert {k: r["amount_ore"] for k, r in adj.items()} == {
        ("C1", "VF_BASE"): -11000,            # 3 base fees paid, 2 now
        ("C1", "VF_PSYCHOLOGIST"): 42500,     # the late psychologist visit
        ("C1", "SUP_OTHER_CLINIC"): -30000,   # c3 withdrawn
        ("C2", "DED_OWN_ELSEWHERE"): 30000,   # and its deduction
    }
    assert adj[("C1", "VF_BASE")]["corrects_month"] == "2022-02"
    assert adj[("C1", "VF_BASE")]["corrects_line_id"] == "C1:2022-02:VF_BASE"
    assert "paid 330.00 SEK" in adj[("C1", "VF_BASE")]["detail"] and "now 220.00 SEK" in adj[("C1", "VF_BASE")]["detail"]
    totals = dict(engine.con.con.execute("SELECT clinic_id, adjustment_ore FROM statements WHERE month = '2022-03'").fetchall())
    assert totals == {"C1": -11000 + 42500 - 30000, "C2": 30000}

    # Once March is issued, April has nothing more to correct for February.
    run_month(engine, "2022-03", book, issue=True)
    run_month(engine, "2022-04", book)
    assert lines(engine, "2022-04", "adjustment") == []


def test_a_changed_listing_after_issue_is_adjusted(engine, tmp_path):
    book = rulebook.load()
    run_month(engine, "2022-05", book, issue=True)
    # B turns out to have moved to C2 from 2022-05-01 (a late listing change).
    store_inputs(engine, master(listings=[
        {"person_id": A, "clinic_id": "C1", "valid_from": "2010-01-01"},
        {"person_id": B, "clinic_id": "C1", "valid_from": "2010-01-01", "valid_to": "2022-04-30"},
        {"person_id": B, "clinic_id": "C2", "valid_from": "2022-05-01"},
        {"person_id": D, "clinic_id": "C2", "valid_from": "2010-01-01"},
    ]))
    run_month(engine, "2022-06", book)
    adj = {(r["clinic_id"], r["corrects_line_id"]): r["amount_ore"] for r in lines(engine, "2022-06", "adjustment")}
    # B, 31, age band 6-64 (310 a year) moves from C1 to C2; each line is rounded once:
    # C1 2 × 310 / 12 = 51.67 → 1 × 310 / 12 = 25.83; C2 25.83 → 51.67.
    assert adj[("C1", "C1:2022-05:CAP_AGE_6_64")] == 2583 - 5167
    assert adj[("C2", "C2:2022-05:CAP_AGE_6_64")] == 5167 - 2583
    # Sick-leave coordination (16-68, 37 a year): 6.17 → 3.08 and back.
    assert adj[("C1", "C1:2022-05:CAP_SICK_LEAVE")] == 308 - 617
    assert adj[("C2", "C2:2022-05:CAP_SICK_LEAVE")] == 617 - 308
    # Health promotion by number listed: 6 500 000 / 12 × 2/3 = 361 111.11 → × 1/3 = 180 555.56, and back.
    assert adj[("C1", "C1:2022-05:HEALTH_PROMOTION_LISTED")] == 18055556 - 36111111
    assert adj[("C2", "C2:2022-05:HEALTH_PROMOTION_LISTED")] == 36111111 - 18055556


def test_manual_lines_are_audited_reversed_not_deleted_and_refused_on_issued_months(engine):
    book = rulebook.load()
    run_month(engine, "2022-07", book)  # a draft
    added = add_manual_line(engine, clinic_id="C1", month="2022-07", kind="collaboration", amount_ore=1_250_000,
                            reason="Samverkan med kommunen, Q2", reference="ärende 2022/123", user="admin.eva")
    assert added["created_by"] == "admin.eva" and added["created_at"] is not None and added["manual_id"] == "M000001"
    # Shown at once on the draft, and in its total.
    line = next(r for r in lines(engine, "2022-07") if r["component"] == "collaboration")
    assert line["amount_ore"] == 1_250_000 and line["line_id"] == "C1:2022-07:MANUAL:M000001"
    total = engine.con.con.execute("SELECT variable_ore, total_ore FROM statements WHERE month = '2022-07' AND clinic_id = 'C1'").fetchall()[0]
    assert total[0] == 1_250_000
    before_total = total[1]
    # A reversal is a new line; both stay.
    add_manual_line(engine, clinic_id="C1", month="2022-07", kind="collaboration", amount_ore=-1_250_000,
                    reason="Återföring: fel månad", reference="reverses M000001", user="admin.eva")
    assert len(manual_lines(engine, clinic_id="C1")) == 2
    # Re-running the month keeps both lines; issuing freezes them.
    run_month(engine, "2022-07", book, issue=True)
    kept = [r for r in lines(engine, "2022-07") if r["component"] == "collaboration"]
    assert sorted(r["amount_ore"] for r in kept) == [-1_250_000, 1_250_000]
    assert engine.con.con.execute("SELECT total_ore FROM statements WHERE month = '2022-07' AND clinic_id = 'C1'").fetchall()[0][0] == before_total - 1_250_000
    with pytest.raises(StatementError, match="issued"):
        add_manual_line(engine, clinic_id="C1", month="2022-07", kind="collaboration", amount_ore=100, reason="x", user="u")
    for bad in ({"kind": "bonus"}, {"amount_ore": 0}, {"amount_ore": 1.5}, {"reason": " "}, {"clinic_id": "C9"}, {"month": "2022-13"}):
        args = {"clinic_id": "C1", "month": "2022-08", "kind": "geographic_coordination", "amount_ore": 100, "reason": "r", "user": "u", **bad}
        with pytest.raises(StatementError):
            add_manual_line(engine, **args)
    # A line for a month not yet run appears when it is run.
    add_manual_line(engine, clinic_id="C2", month="2022-08", kind="extended_opening_hours", amount_ore=500_000, reason="Kvällsöppet", user="u")
    assert month_status(engine, "2022-08") is None
    run_month(engine, "2022-08", book)
    got = [r for r in lines(engine, "2022-08") if r["component"] == "extended_opening_hours"]
    assert [(r["clinic_id"], r["amount_ore"]) for r in got] == [("C2", 500_000)]
    assert pc.sum(manual_lines(engine)["amount_ore"]).as_py() == 500_000
