"""A tiny region for the trace (AF), API and web tests: two clinics in different groups, four
persons, a few contacts of March 2022 (one rejected), the month computed as a draft.

Clinic A1 (kombika KA) lists P_ADULT (41) and P_OLD (70); clinic B1 (kombika KB) lists
P_CHILD (7). P_OUT lives in another county. Contacts reported on 2022-04-05:
  a-1  KA, P_ADULT, clinic visit, doctor  → visit_fee VF_BASE at A1
  a-2  KA, P_CHILD, clinic visit, nurse   → VF_BASE + SUP_OTHER_CLINIC at A1; DED_OWN_ELSEWHERE billed to B1
  a-3  KA, a person number with a bad check digit → rejected (bad_person_id)
  b-1  KB, P_CHILD, phone, nurse          → no product (a phone contact is not a visit from 2021-02-01)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from support import typed_tables

from ersattning import rulebook
from ersattning.ids import make_personnummer
from ersattning.register import intake_table, records_table
from ersattning.store import open_engine, run_month, store_inputs

KA, KB = "11010046M30", "11010050M30"
P_ADULT, P_OLD, P_CHILD, P_OUT = (str(p) for p in make_personnummer(
    np.array(["1980-05-17", "1951-12-01", "2015-02-28", "1990-01-01"], "datetime64[D]"), np.array([123, 456, 789, 12])))
BAD_PID = P_ADULT[:-1] + str((int(P_ADULT[-1]) + 1) % 10)
RECEIVED = dt.datetime(2022, 4, 5, 8, 0)
MONTH = "2022-03"

MASTER = typed_tables(
    clinics=[
        {"clinic_id": "A1", "name": "Vårdcentralen Alfa", "group_id": "GA", "area_code": "0180", "opened": "2015-01-01"},
        {"clinic_id": "B1", "name": "Vårdcentralen Beta", "group_id": "GB", "area_code": "0180", "opened": "2015-01-01"},
    ],
    kombika=[
        {"kombika": KA, "clinic_id": "A1", "assignment": "hlv", "valid_from": "2015-01-01"},
        {"kombika": KB, "clinic_id": "B1", "assignment": "hlv", "valid_from": "2015-01-01"},
    ],
    persons=[
        {"person_id": P_ADULT, "birth_date": "1980-05-17", "sex": "M", "county_code": "01", "area_code": "0180"},
        {"person_id": P_OLD, "birth_date": "1951-12-01", "sex": "F", "county_code": "01", "area_code": "0180"},
        {"person_id": P_CHILD, "birth_date": "2015-02-28", "sex": "F", "county_code": "01", "area_code": "0180"},
        {"person_id": P_OUT, "birth_date": "1990-01-01", "sex": "M", "county_code": "03"},
    ],
    listings=[
        {"person_id": P_ADULT, "clinic_id": "A1", "valid_from": "2020-01-01"},
        {"person_id": P_OLD, "clinic_id": "A1", "valid_from": "2020-01-01"},
        {"person_id": P_CHILD, "clinic_id": "B1", "valid_from": "2020-01-01"},
    ],
    risk=[
        {"person_id": P_ADULT, "month": "2022-01", "acg_weight": "1.2", "cni": "0.9"},
        {"person_id": P_OLD, "month": "2022-01", "acg_weight": "2.5", "cni": "1.1"},
        {"person_id": P_CHILD, "month": "2022-01", "acg_weight": "0.4", "cni": "1.3"},
    ],
)


def contact(contact_id: str, kombika: str, person_id: str, date: str = "2022-03-10", contact_type: str = "clinic_visit",
            profession: str = "doctor", **more) -> dict:
    return {"contact_id": contact_id, "kombika": kombika, "person_id": person_id, "date": date,
            "contact_type": contact_type, "profession": profession, "diagnoses": "J06.9", "actions": None,
            "record_type": None, "reported_at": "2022-03-31T10:00:00", **more}


CONTACTS = [
    contact("a-1", KA, P_ADULT),
    contact("a-2", KA, P_CHILD, date="2022-03-12", profession="nurse"),
    contact("a-3", KA, BAD_PID),
    contact("b-1", KB, P_CHILD, date="2022-03-15", contact_type="phone", profession="nurse"),
]


def build(path: Path, run: bool = True):
    """The region in a DuckDB file at `path`, contacts reported, March 2022 as a draft; returns the engine."""
    engine = open_engine(path)
    store_inputs(engine, MASTER)
    intake_table(engine, records_table(CONTACTS), "pas-batch.jsonl", received_at=RECEIVED)
    if run:
        run_month(engine, MONTH, rulebook.load())
    return engine
