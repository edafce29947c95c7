"""The care-guarantee bonus from the contacts (RULES.md §4; 003_887ea947c2495c54.txt Bilaga 2:
"Bonus uppfylld vårdgaranti … 4 kr/listad o månad … Om ≥85% av alla pat fått medicinsk bedömning
inom 3 dagar", 2021–2023). Outside the seeds: a contact counts when it is marked as first contact
(first_contact = 1), is with licensed staff (not assistant_nurse), the patient is registered in
Stockholm county on the date and at least one diagnosis or KVÅ code is reported. Share = first
contacts with date − requested_on ≤ 3 (calendar) days ÷ counted first contacts, per clinic (the
kombika's owner). A share in goals.csv is an administrator's decision and overrides it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support import typed_tables, write_csv

from ersattning import rulebook
from ersattning.register import intake
from ersattning.store import open_engine, run_month, store_inputs

K1, K2 = "11010046M30", "11010047M30"
A, B, D = "198503031018", "199007071021", "197009091047"
E = "196001011235"  # resident of another county (03): not registered in Stockholm county
COLUMNS = ["contact_id", "kombika", "person_id", "date", "contact_type", "profession", "diagnoses", "actions",
           "record_type", "reported_at", "first_contact", "requested_on"]


def master(goals=()):
    return typed_tables(
        clinics=[{"clinic_id": c, "name": c, "group_id": "G" + c, "area_code": "0180-08", "opened": "2000-01-01"} for c in ("C1", "C2")],
        kombika=[{"kombika": K1, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"},
                 {"kombika": K2, "clinic_id": "C2", "assignment": "hlv", "valid_from": "2000-01-01"}],
        persons=[
            {"person_id": A, "birth_date": "1985-03-03", "sex": "M", "county_code": "01", "area_code": "0180-08"},
            {"person_id": B, "birth_date": "1990-07-07", "sex": "F", "county_code": "01", "area_code": "0180-08"},
            {"person_id": D, "birth_date": "1970-09-09", "sex": "F", "county_code": "01", "area_code": "0180-08"},
            {"person_id": E, "birth_date": "1960-01-01", "sex": "M", "county_code": "03", "area_code": "0380"},
        ],
        listings=[{"person_id": A, "clinic_id": "C1", "valid_from": "2010-01-01"},
                  {"person_id": B, "clinic_id": "C1", "valid_from": "2010-01-01"},
                  {"person_id": D, "clinic_id": "C2", "valid_from": "2010-01-01"}],
        goals=list(goals),
    )


def write(tmp_path: Path, rows: list[dict], name="contacts") -> Path:
    return write_csv(tmp_path / f"{name}.csv", rows, COLUMNS)


def first(n, kombika, person, date, requested, profession="doctor", diagnoses="J06.9", actions="", flag="1"):
    return {"contact_id": f"k{n}", "kombika": kombika, "person_id": person, "date": date, "contact_type": "clinic_visit",
            "profession": profession, "diagnoses": diagnoses, "actions": actions, "first_contact": flag, "requested_on": requested}


# C1, March 2022: counted first contacts 7, within 3 days 6 → 6/7 = 0.857… ≥ 0.85.
C1_MARCH = [
    first(1, K1, A, "2022-03-04", "2022-03-01"),                      # 3 days: within (≤ 3, calendar days)
    first(2, K1, B, "2022-03-05", "2022-03-01", profession="nurse"),  # 4 days: counted, not within
    first(3, K1, A, "2022-03-10", "2022-03-10"),                      # same day: within
    first(4, K1, B, "2022-03-14", "2022-03-12", profession="psychologist", diagnoses="", actions="XV016"),  # a KVÅ code is enough
    first(5, K1, A, "2022-03-16", "2022-03-15", profession="physiotherapist"),
    first(6, K1, B, "2022-03-31", "2022-03-29", profession="other_licensed"),
    first(7, K1, A, "2022-03-02", "2022-02-27"),                      # requested in February, 3 days: within
    # Not counted:
    first(8, K1, A, "2022-03-20", "2022-03-01", profession="assistant_nurse"),  # not licensed
    first(9, K1, B, "2022-03-20", "2022-03-01", diagnoses=""),                  # no diagnosis, no KVÅ code
    first(10, K1, E, "2022-03-20", "2022-03-01"),                                # not resident in the county
    first(11, K1, A, "2022-03-20", "2022-03-01", flag="0"),                      # not a first contact
    first(12, K1, B, "2022-03-20", "2022-03-01", flag=""),                       # not marked
    first(13, K1, A, "2022-04-20", "2022-03-01"),                                # another month
]
# C2, March 2022: 1 within of 2 → 0.5 < 0.85.
C2_MARCH = [first(21, K2, D, "2022-03-08", "2022-03-07"), first(22, K2, D, "2022-03-25", "2022-03-20")]


@pytest.fixture
def engine(tmp_path):
    e = open_engine(tmp_path / "cg.duckdb")
    yield e
    e.con.disconnect()


def goal_lines(engine, month):
    return engine.con.con.sql("SELECT clinic_id, quantity, amount_ore, detail FROM statement_lines "
                              "WHERE month = ? AND component = 'goal_care_guarantee' ORDER BY clinic_id",
                              params=[month]).to_arrow_table().to_pylist()


def test_the_share_is_computed_from_the_first_contacts_per_clinic(engine, tmp_path):
    store_inputs(engine, master())
    result = intake(engine, write(tmp_path, C1_MARCH + C2_MARCH), received_at=dt.datetime(2022, 5, 2, 8))
    assert result.rejected == 0, result.errors.to_pylist()
    run_month(engine, "2022-03", rulebook.load())
    got = goal_lines(engine, "2022-03")
    # C1: 6/7 = 0.857 ≥ 0.85 → 2 listed × 4 SEK = 8.00 SEK. C2: 1/2 = 0.5 < 0.85 → nothing.
    assert [(r["clinic_id"], int(r["quantity"]), r["amount_ore"]) for r in got] == [("C1", 2, 800)]
    assert "from the contacts 2022-03: 6 assessed within 3 days of 7 first contacts" in got[0]["detail"]
    assert "0.8571" in got[0]["detail"]


def test_a_share_in_goals_csv_overrides_the_computed_one(engine, tmp_path):
    goals = [{"clinic_id": "C2", "period": "2022-03", "goal": "care_guarantee_share", "value": "0.90"},
             {"clinic_id": "C1", "period": "2022-03", "goal": "care_guarantee_share", "value": "0.80"}]
    store_inputs(engine, master(goals))
    intake(engine, write(tmp_path, C1_MARCH + C2_MARCH), received_at=dt.datetime(2022, 5, 2, 8))
    run_month(engine, "2022-03", rulebook.load())
    got = goal_lines(engine, "2022-03")
    # C2: the administrator's 0.90 ≥ 0.85 (the contacts say 0.5) → 1 listed × 4 SEK = 4.00 SEK;
    # C1: the administrator's 0.80 < 0.85 (the contacts say 0.857) → nothing.
    assert [(r["clinic_id"], r["amount_ore"]) for r in got] == [("C2", 400)]
    assert "goals.csv 2022-03, an administrator's decision" in got[0]["detail"]
    assert "the contacts give 1 within 3 days of 2" in got[0]["detail"]


def test_exactly_the_threshold_pays_and_the_years_without_the_bonus_pay_nothing(engine, tmp_path):
    # 17 of 20 = 0.85 exactly (≥ 0.85 pays): 17 on the day, 3 five days late.
    rows = [first(100 + i, K1, A, "2022-06-10", "2022-06-10" if i < 17 else "2022-06-05") for i in range(20)]
    # 2024: the bonus table ends with 2023 (amount null): no line, however good the share.
    rows += [first(200, K1, A, "2024-02-10", "2024-02-10")]
    store_inputs(engine, master())
    intake(engine, write(tmp_path, rows), received_at=dt.datetime(2024, 3, 2, 8))
    book = rulebook.load()
    run_month(engine, "2022-06", book)
    run_month(engine, "2024-02", book)
    assert [(r["clinic_id"], r["amount_ore"]) for r in goal_lines(engine, "2022-06")] == [("C1", 800)]
    assert goal_lines(engine, "2024-02") == []


def test_the_stateless_statements_read_the_share_from_the_contact_file(tmp_path):
    """`ersattning statements` (no database) reads the same columns from contacts.csv."""
    from ersattning.engine import Engine
    from ersattning.register import read_contacts
    from ersattning.statements import compute_month

    tables = master()
    contacts, errors = read_contacts(write(tmp_path, C1_MARCH + C2_MARCH), tables, dt.date(2022, 5, 2))
    assert errors.num_rows == 0 and contacts.schema.field("first_contact").type == "bool"
    engine = Engine.duckdb().register({**tables, "contacts": contacts})
    lines = compute_month(engine, rulebook.load(), "2022-03").lines
    cg = lines.filter(lines["component"].to_numpy(zero_copy_only=False) == "goal_care_guarantee").to_pylist()
    assert [(r["clinic_id"], r["amount_ore"]) for r in cg] == [("C1", 800)]
