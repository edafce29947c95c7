"""The visit-fee readings of issue 12 (RULES.md §10), one scenario each, amounts by hand.

The 2022 visit model (RULES.md §3): base fee 110 SEK a visit, psychologist 425, +300 on the
clinic receiving another clinic's listed patient, -300 on the listing clinic (seed 002), the
video supplement 300, the unlisted supplement 100 (illustrative), out-of-county 878 for
other staff at the clinic (the region's list). Each test quotes the seed it reads.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from support import duckdb_engine, typed_tables
from ersattning.api.queries import errors_to_fix
from ersattning.products.facts import contact_facts
from ersattning.products.visits import held_contacts, product_code
from ersattning.register import intake
from ersattning.statements import compute_month
from ersattning.store import open_engine, run_month, store_inputs
from ersattning.trace import trace_contact

K1, K1_320, K3 = "11010046M30", "11010046P32", "11010048M30"
A = "199202011087"   # listed at C1
B = "198005051431"   # listed at C3
U = "195105051923"   # resident, unlisted
O = "195206011156"   # lives in Uppsala county (03)
D = "194206011225"   # listed at C1, died 2022-02-15 (residence row ends)
X = "195703311299"   # not in persons at all
R = "99AB12345678"   # reservnummer, not in persons
R2 = "99CD87654321"  # reservnummer in persons (county 01) with a listing at C1

VISIT_COMPONENTS = {"visit_fee", "visit_out_of_county", "supplement_other_clinic_patient", "deduction_own_patient_elsewhere",
                    "supplement_video_unlisted", "supplement_unlisted", "supplement_child_0_5_mental_health", "supplement_kva",
                    "supplement_peripheral_home_visit", "new_clinic"}


PERSON = {"sex": "M", "county_code": "01", "area_code": "0180-08"}


def persons(*more: dict) -> list[dict]:
    person = PERSON
    return [
        {**person, "person_id": A, "birth_date": "1992-02-01"},
        {**person, "person_id": B, "birth_date": "1980-05-05"},
        {**person, "person_id": U, "birth_date": "1951-05-05"},
        {**person, "person_id": O, "birth_date": "1952-06-01", "county_code": "03", "area_code": None},
        {**person, "person_id": D, "birth_date": "1942-06-01", "valid_to": "2022-02-15"},
        {**person, "person_id": R2, "birth_date": "1970-01-01"},
        *more,
    ]


def region(contacts: list[dict]) -> dict:
    return typed_tables(
        clinics=[
            {"clinic_id": "C1", "name": "Ett", "group_id": "G1", "area_code": "0180-08", "opened": "2000-01-01"},
            {"clinic_id": "C3", "name": "Tre", "group_id": "G3", "area_code": "0180-08", "opened": "2000-01-01"},
        ],
        kombika=[
            {"kombika": K1, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"},
            {"kombika": K1_320, "clinic_id": "C1", "assignment": "psy_child_320", "valid_from": "2021-12-01"},
            {"kombika": K3, "clinic_id": "C3", "assignment": "hlv", "valid_from": "2000-01-01"},
        ],
        persons=persons(),
        listings=[
            {"person_id": A, "clinic_id": "C1", "valid_from": "2010-01-01"},
            {"person_id": B, "clinic_id": "C3", "valid_from": "2010-01-01"},
            {"person_id": D, "clinic_id": "C1", "valid_from": "2010-01-01"},
            {"person_id": O, "clinic_id": "C1", "valid_from": "2010-01-01"},
            {"person_id": R2, "clinic_id": "C1", "valid_from": "2010-01-01"},
        ],
        contacts=[{"kombika": K1, "contact_type": "clinic_visit", "profession": "doctor", **c} for c in contacts],
    )


def visit_lines(contacts: list[dict], book, month: str = "2022-03") -> dict:
    """{(clinic, product): (quantity, SEK)} of the month's visit lines."""
    result = compute_month(duckdb_engine(region(contacts)), book, month)
    ln = result.lines
    return {
        (c, p): (int(Decimal(str(q))), Decimal(a) / 100)
        for c, comp, p, q, a in zip(ln["clinic_id"].to_pylist(), ln["component"].to_pylist(), ln["product_code"].to_pylist(),
                                    ln["basis"].to_pylist(), ln["amount_ore"].to_pylist())
        if comp in VISIT_COMPONENTS
    }


def c(cid: str, person: str, date: str = "2022-03-10", **more) -> dict:
    return {"contact_id": cid, "person_id": person, "date": date, **more}


# --- 1. the psychosocial exclusion ---------------------------------------------------------------

def test_psychosocial_work_gets_no_plus_or_minus_300_nor_the_video_supplement(book):
    # 002: "Tillägg och avdrag gäller inte för hembesök, hemsjukvårdsbesök och det psykosociala
    # uppdraget" - in force 2021-02-01, before the 320 assignment: psychosocial work on any kombika.
    got = visit_lines([
        c("1", B, profession="psychologist"),                            # 425, no +300 / -300
        c("2", B, profession="counsellor"),                              # 110, no +300 / -300
        c("3", B, contact_type="video", profession="psychotherapist"),   # 110, no video supplement
        c("4", B, kombika=K1_320, profession="nurse"),                   # the 320 assignment: 110 only
        c("5", B),                                                       # a doctor: 110 + 300 at C1, -300 at C3
    ], book)
    assert got == {
        ("C1", "VF_PSYCHOLOGIST"): (1, Decimal("425.00")),     # contact 1
        ("C1", "VF_BASE"): (4, Decimal("440.00")),             # contacts 2, 3, 4, 5 x 110
        ("C1", "SUP_OTHER_CLINIC"): (1, Decimal("300.00")),    # contact 5 only
        ("C3", "DED_OWN_ELSEWHERE"): (1, Decimal("-300.00")),  # contact 5 only
    }


# --- 2. the unlisted supplement continues ----------------------------------------------------------

def test_the_unlisted_supplement_continues_for_physical_visits_only(book):
    # 002 (2021): "Sedan tidigare erhåller husläkarmottagningen en tilläggsersättning när olistade
    # patienter tas emot"; 003 §1: extra pay for unlisted patients in the 2021 model. Reading: a
    # physical visit; the video visit gets the video supplement instead (not both); home visits and
    # psychosocial work are excluded like the section's other supplements; phone is no visit.
    got = visit_lines([
        c("1", U),                                                  # 110 + 100
        c("2", U, contact_type="video", profession="nurse"),        # 110 + 300 video, no unlisted
        c("3", U, contact_type="home_visit", profession="nurse"),   # 110 only
        c("4", U, profession="psychologist"),                       # 425 only
        c("5", U, contact_type="phone"),                            # nothing
    ], book)
    assert got == {
        ("C1", "VF_BASE"): (3, Decimal("330.00")),             # contacts 1, 2, 3 x 110
        ("C1", "VF_PSYCHOLOGIST"): (1, Decimal("425.00")),     # contact 4
        ("C1", "SUP_UNLISTED"): (1, Decimal("100.00")),        # contact 1 x 100 (illustrative)
        ("C1", "SUP_VIDEO_UNLISTED"): (1, Decimal("300.00")),  # contact 2
    }


def test_the_unlisted_supplement_before_2021_paid_every_contact(book):
    # Before 2021-02-01 the table is unchanged: every contact of an unlisted patient, phone too.
    got = visit_lines([c("1", U, date="2020-03-10"), c("2", U, date="2020-03-11", contact_type="phone")], book, "2020-03")
    assert got[("C1", "SUP_UNLISTED")] == (2, Decimal("200.00"))  # 2 x 100


# --- 3. phone contacts are not visits ----------------------------------------------------------------

def test_a_phone_contact_gets_no_base_fee_from_2021_02_01(book):
    # The base fee is per visit; digital visits are video (003 glossary: "Digitala besök avser
    # distanskontakter i form av videobesök"); the caps count no phone contact either.
    got = visit_lines([c("1", A, contact_type="phone"), c("2", A, contact_type="video")], book)
    assert got == {("C1", "VF_BASE"): (1, Decimal("110.00"))}  # the video visit only
    before = visit_lines([c("1", A, date="2020-03-10", contact_type="phone")], book, "2020-03")
    assert before == {("C1", "VF_DR_PHONE"): (1, Decimal("80.00"))}  # 2020: its own product (illustrative)


@pytest.mark.parametrize("date", ["2016-06-01", "2022-03-10"])
def test_fees_and_caps_read_one_definition_of_a_visit(book, date):
    # Every contact type by A's own doctor: the caps count it (CAP_DOCTOR, home care aside) exactly
    # when it is a visit, and from 2021-02-01 the base fee is paid exactly for visits.
    types = ["clinic_visit", "team_visit", "group_team_visit", "group_visit", "home_visit", "video", "phone"]
    e = duckdb_engine(region([c(str(i), A, date=date, contact_type=t) for i, t in enumerate(types)]))
    day = dt.date.fromisoformat(date)
    f = contact_facts(e, book, e["contacts"], day, day)
    cap = product_code(f, book["cap_reduction.categories"], day, day)
    fee = product_code(f, book["visit_fee.decision_table"], day, day)
    rows = f.select("contact_type", "visit", cap=cap, fee=fee).to_pyarrow().to_pylist()
    visits = set(book["visit_fee.visit_contact_types"].at(day).value)
    for r in rows:
        assert r["visit"] == (r["contact_type"] in visits)
        assert (r["cap"] == "CAP_DOCTOR") == r["visit"], r
        if day >= dt.date(2021, 2, 1):
            assert (r["fee"] is not None) == r["visit"], r
    assert "phone" not in visits


# --- 5. no residence on the contact date --------------------------------------------------------------

HELD_CASE = [
    c("1", D, contact_type="home_care_visit", profession="nurse"),  # died 2022-02-15: held (was 878 out-of-county)
    c("2", X),                                                      # not in persons: held
    c("3", O, profession="nurse"),                                  # Uppsala resident: 878 out-of-county
    c("4", R),                                                      # reservnummer: priced as before, 110 (+100 unlisted)
]


def test_no_residence_on_the_date_is_held_not_priced_out_of_county(book):
    # Out-of-county pricing (000: utomlänspatienter) is for residents of another county on the date.
    got = visit_lines(HELD_CASE, book)
    assert got == {
        ("C1", "UL_OTHER_VISIT"): (1, Decimal("878.00")),  # contact 3
        ("C1", "VF_BASE"): (1, Decimal("110.00")),         # contact 4 (reservnummer: county unknown, RULES.md §8)
        ("C1", "SUP_UNLISTED"): (1, Decimal("100.00")),    # contact 4: listed for capitation nowhere
    }
    e = duckdb_engine(region(HELD_CASE))
    held = held_contacts(e, book, e["contacts"], "2022-03").to_pylist()
    assert held == [
        {"month": "2022-03", "clinic_id": "C1", "kombika": K1, "contact_id": "1", "code": "no_residence_on_date"},
        {"month": "2022-03", "clinic_id": "C1", "kombika": K1, "contact_id": "2", "code": "no_residence_on_date"},
    ]
    facts = {r["contact_id"]: r for r in contact_facts(e, book, e["contacts"], dt.date(2022, 3, 1), dt.date(2022, 3, 31)).to_pyarrow().to_pylist()}
    assert [(facts[k]["resident"], facts[k]["out_of_county"]) for k in "1234"] == [(False, False), (False, False), (True, True), (False, False)]


COLUMNS = ["contact_id", "kombika", "person_id", "date", "contact_type", "profession", "diagnoses", "actions", "record_type", "reported_at"]


def test_a_held_contact_is_stored_with_the_month_shown_to_its_clinic_only_and_priced_once_corrected(book, tmp_path):
    engine = open_engine(tmp_path / "held.duckdb")
    tables = region([])
    store_inputs(engine, {k: v for k, v in tables.items() if k != "contacts"})
    path = tmp_path / "march.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for r in [{"kombika": K1, "contact_type": "clinic_visit", "profession": "doctor", **h} for h in [*HELD_CASE, c("5", B, kombika=K3)]]:
            w.writerow({k: r.get(k, "") for k in COLUMNS} | {"reported_at": "2022-03-31T10:00:00"})
    assert intake(engine, path, received_at=dt.datetime(2022, 4, 1, 8)).rejected == 0
    run_month(engine, "2022-03", book)
    con = engine.con.con
    assert con.sql("SELECT contact_id, code FROM held_contacts ORDER BY 1").fetchall() == [
        ("1", "no_residence_on_date"), ("2", "no_residence_on_date")]
    mine = errors_to_fix(con, "C1")
    held = [e for e in mine if e["kind"] == "held"]
    assert [(e["kombika"], e["contact_id"], e["code"]) for e in held] == [(K1, "1", "no_residence_on_date"), (K1, "2", "no_residence_on_date")]
    assert "folkbokföring" in held[0]["message"] and "population register" in held[0]["message_en"]
    assert not any(D in str(v) or X in str(v) for e in held for v in e.values())  # never a person number
    assert [e for e in errors_to_fix(con, "C3") if e["kind"] == "held"] == []  # never another clinic's
    # The trace of the held contact says so, with its code.
    found = trace_contact(engine, book, K1, "2")
    assert found["held"]["code"] == "no_residence_on_date" and found["products"] == []
    # The population data is corrected (X is a resident after all): a rerun prices it, 110 + 100
    # unlisted supplement, and nothing is held for it any more.
    store_inputs(engine, {"persons": typed_tables(persons=persons({**PERSON, "person_id": X, "birth_date": "1957-03-31"}))["persons"]})
    run_month(engine, "2022-03", book)
    assert con.sql("SELECT contact_id FROM held_contacts").fetchall() == [("1",)]
    assert trace_contact(engine, book, K1, "2")["held"] is None
    engine.con.disconnect()


# --- 6. "listed" = listed for capitation -----------------------------------------------------------------

def test_listings_without_capitation_trigger_neither_plus_nor_minus_300(book):
    # 002: the listing clinic is "kostnadsansvarig" for its listed patients' physical visits elsewhere;
    # reading (RULES.md §10): listed = listed for capitation. R2 (reservnummer) and O (Uppsala) are
    # listed at C1, which is paid no capitation for them.
    got = visit_lines([
        c("1", R2, kombika=K3),                              # at C3: 110 + 100 unlisted, no +300, no -300 on C1
        c("2", R2, contact_type="video", profession="nurse"),  # at C1 itself: 110 + 300 video (not listed for capitation)
        c("3", O, kombika=K3, profession="nurse"),             # Uppsala resident at C3: 878, no -300 on C1
        c("4", A, kombika=K3),                                 # A, listed at C1 for capitation: 110 + 300 at C3, -300 on C1
    ], book)
    assert got == {
        ("C3", "VF_BASE"): (2, Decimal("220.00")),              # contacts 1, 4
        ("C3", "SUP_UNLISTED"): (1, Decimal("100.00")),         # contact 1
        ("C3", "UL_OTHER_VISIT"): (1, Decimal("878.00")),       # contact 3
        ("C3", "SUP_OTHER_CLINIC"): (1, Decimal("300.00")),     # contact 4
        ("C1", "DED_OWN_ELSEWHERE"): (1, Decimal("-300.00")),   # contact 4 only
        ("C1", "VF_BASE"): (1, Decimal("110.00")),              # contact 2
        ("C1", "SUP_VIDEO_UNLISTED"): (1, Decimal("300.00")),   # contact 2
    }
    e = duckdb_engine(region([c("1", R2, kombika=K3), c("3", O, kombika=K3), c("5", D, date="2022-02-20")]))
    f = contact_facts(e, book, e["contacts"], dt.date(2022, 2, 1), dt.date(2022, 3, 31)).to_pyarrow().to_pylist()
    assert {(r["contact_id"], r["listing"], r["listing_clinic"]) for r in f} == {("1", "none", None), ("3", "none", None), ("5", "none", None)}


# --- 8. the 115 SEK base fee ---------------------------------------------------------------------------------

def test_the_115_sek_fee_is_a_documented_illustrative_reading(book):
    # A November 2022 local-newspaper summary gives 115 SEK (RULES.md §3); its start date is a reading.
    v = book["visit_fee.prices"].at(dt.date(2022, 11, 1))
    assert v.start == dt.date(2022, 11, 1) and v.value["VF_BASE"] == 115
    assert v.illustrative and "reading:" in v.reference
    assert visit_lines([c("1", A, date="2022-11-03")], book, "2022-11") == {("C1", "VF_BASE"): (1, Decimal("115.00"))}
