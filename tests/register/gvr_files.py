"""Helpers for the register tests: small master data and contact files in CSV, JSON Lines or
Parquet written from plain rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from support import typed_tables

from ersattning.ids import make_personnummer
from ersattning.register import ensure_log
from ersattning.register.schema import CONTACTS

K1 = "11010046M30"  # clinic C1, open since 2020, valid since 2020
K_CLOSED = "11010047M30"  # clinic C2, closed 2023-06-30
K_ENDED = "11010048M30"  # clinic C1, kombika valid 2020 - 2022 only
K_NEW = "11010049M30"  # clinic C3, opened 2024-01-01 (kombika valid since 2020)
K2 = "11010050M30"  # clinic C1, a second kombika
PIDS = list(make_personnummer(np.array(["1980-05-17", "1951-12-01", "2015-02-28", "1999-07-30"], "datetime64[D]"),
                              np.array([123, 456, 789, 12])))
RECEIVED = dt.datetime(2024, 6, 1, 12, 0, 0)

MASTER = typed_tables(
    clinics=[
        {"clinic_id": "C1", "name": "Ett", "group_id": "G", "area_code": "0180", "opened": "2020-01-01"},
        {"clinic_id": "C2", "name": "Två", "group_id": "G", "area_code": "0180", "opened": "2020-01-01", "closed": "2023-06-30"},
        {"clinic_id": "C3", "name": "Tre", "group_id": "G", "area_code": "0180", "opened": "2024-01-01"},
    ],
    kombika=[
        {"kombika": K1, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2020-01-01"},
        {"kombika": K_CLOSED, "clinic_id": "C2", "assignment": "hlv", "valid_from": "2020-01-01"},
        {"kombika": K_ENDED, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2020-01-01", "valid_to": "2022-12-31"},
        {"kombika": K_NEW, "clinic_id": "C3", "assignment": "hlv", "valid_from": "2020-01-01"},
        {"kombika": K2, "clinic_id": "C1", "assignment": "hlv", "valid_from": "2020-01-01"},
    ],
)


def contact(contact_id: str, **changes) -> dict:
    """A valid report row (all values as text), with `changes` applied."""
    row = {
        "contact_id": contact_id, "kombika": K1, "person_id": PIDS[0], "date": "2024-03-01",
        "contact_type": "clinic_visit", "profession": "doctor", "diagnoses": "J06.9", "actions": "",
        "record_type": "", "reported_at": "2024-03-01T10:00:00",
    }
    row.update(changes)
    return row


def cancel(contact_id: str, kombika: str = K1, reported_at: str = "") -> dict:
    return {"contact_id": contact_id, "kombika": kombika, "record_type": "cancel", "reported_at": reported_at}


def write_contacts(path: Path, rows: list[dict]) -> Path:
    """Rows as CSV, JSON Lines or Parquet by `path`'s suffix; every contract column, text."""
    names = CONTACTS.column_names
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        lines = [",".join(names)] + [",".join(str(r.get(c) or "") for c in names) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({c: r.get(c) or None for c in names}) + "\n" for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.table({c: pa.array([r.get(c) or None for r in rows], pa.string()) for c in names}), path)
    return path


def counts(engine) -> tuple[int, int, int]:
    """Rows in contact_events, contact_errors and contact_batches."""
    con = engine.con.con
    ensure_log(con)
    return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                 for t in ("contact_events", "contact_errors", "contact_batches"))
