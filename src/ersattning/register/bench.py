"""Intake speed: a large valid contact file generated with numpy, and the contacts/s of `intake`.

    write_bench_contacts("contacts.csv", kombika, clinics, n=1_000_000)
    bench_intake("scratch.duckdb", "contacts.csv")   # -> contacts per second
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ersattning.ids import make_personnummer
from ersattning.register.schema import CONTACT_TYPES, PROFESSIONS

_DIAGNOSES = np.array(["J06.9", "I10", "F32.1", "E11.9", "M54.5", "Z00.0", "J45.9", "K21.9", "F41.1", "R05"])
_ACTIONS = np.array(["UX007", "XV016", "XV015", "AU124", "DV071", "QD006", "GD008", "NHB99"])


def make_contacts(n: int, kombika: pa.Table, clinics: pa.Table, until: dt.date, seed: int = 0) -> pa.Table:
    """`n` valid contacts (all text columns, as a PAS would send them) on the given kombika,
    each dated within its kombika's validity and its clinic's open period, up to `until`."""
    rng = np.random.default_rng(seed)
    epoch = np.datetime64("1970-01-01", "D")
    k_days = {c: _days(kombika[c], default) for c, default in (("valid_from", 0), ("valid_to", 10**6))}
    c_index = pc.index_in(kombika["clinic_id"], value_set=clinics["clinic_id"]).to_numpy(zero_copy_only=False)
    opened = _days(clinics["opened"], 0)[c_index]
    closed = _days(clinics["closed"], 10**6)[c_index]
    last = int((np.datetime64(until, "D") - epoch).astype(np.int64))
    start = np.maximum(k_days["valid_from"], opened)
    end = np.minimum(np.minimum(k_days["valid_to"], closed), last)
    usable = np.flatnonzero(end >= start)
    if not len(usable):
        raise ValueError("no kombika is valid at an open clinic on or before the last day")
    k = usable[rng.integers(0, len(usable), n)]
    days = start[k] + (rng.random(n) * (end[k] - start[k] + 1)).astype(np.int64)
    dates = (epoch + days).astype("datetime64[D]")
    births = epoch + rng.integers(-25000, int(days.min()) - 1, n).astype("timedelta64[D]")
    persons = make_personnummer(births, rng.integers(1, 1000, n))
    n_diag = rng.integers(0, 4, n)
    diagnoses = _joined(rng, _DIAGNOSES, n_diag)
    actions = _joined(rng, _ACTIONS, rng.integers(0, 3, n))
    seconds = rng.integers(8 * 3600, 20 * 3600, n)
    reported = (dates.astype("datetime64[s]") + seconds.astype("timedelta64[s]") + np.timedelta64(86400, "s"))
    # never after the start of `until` (a reported_at in the future is refused; `until` is often today)
    reported = np.minimum(reported, np.datetime64(until, "D").astype("datetime64[s]"))
    return pa.table({
        "contact_id": pc.binary_join_element_wise("C", pa.array(np.arange(n).astype(str)), ""),
        "kombika": kombika["kombika"].take(pa.array(k)),
        "person_id": pa.array(persons),
        "date": pa.array(dates).cast(pa.string()),
        "contact_type": pa.array(np.array(CONTACT_TYPES)[rng.integers(0, len(CONTACT_TYPES), n)]),
        "profession": pa.array(np.array(PROFESSIONS)[rng.integers(0, len(PROFESSIONS), n)]),
        "diagnoses": diagnoses,
        "actions": actions,
        "record_type": pa.nulls(n, pa.string()),
        "reported_at": pc.replace_substring(pa.array(reported).cast(pa.string()), " ", "T"),
    })


def write_bench_contacts(path: Path | str, kombika: pa.Table, clinics: pa.Table, n: int = 1_000_000,
                         until: dt.date | None = None, seed: int = 0) -> Path:
    """Write `make_contacts` as a CSV file (the format PAS files mostly come in)."""
    table = make_contacts(n, kombika, clinics, until or dt.date.today(), seed)
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
    return Path(path)


def bench_intake(db_path: Path | str, csv_path: Path | str) -> float:
    """Contacts per second of one `intake` of `csv_path` into `db_path` (reading, validation,
    the idempotency check and the transaction included). The database needs master data
    (`ersattning load`); use a scratch copy: the contacts stay in it."""
    from ersattning.register.log import intake
    from ersattning.store import open_engine

    engine = open_engine(db_path)
    try:
        start = time.perf_counter()
        result = intake(engine, csv_path)
        elapsed = time.perf_counter() - start
    finally:
        engine.con.disconnect()
    return result.rows / elapsed


def _days(dates: pa.ChunkedArray | pa.Array, default: int) -> np.ndarray:
    """Days since 1970 of date (or ISO text) values; `default` where empty."""
    if not pa.types.is_date32(dates.type):
        dates = pc.if_else(pc.equal(dates, ""), pa.scalar(None, pa.string()), dates).cast(pa.date32())
    return pc.fill_null(dates.cast(pa.int32()), default).to_numpy(zero_copy_only=False).astype(np.int64)


def _joined(rng: np.random.Generator, codes: np.ndarray, counts: np.ndarray) -> pa.Array:
    """`counts[i]` codes drawn from `codes`, joined by ';' (null where 0), built as a list array."""
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    flat = pa.array(codes[rng.integers(0, len(codes), int(offsets[-1]))])
    lists = pa.ListArray.from_arrays(pa.array(offsets), flat)
    joined = pc.binary_join(lists, ";")
    return pc.if_else(pa.array(counts == 0), pa.scalar(None, pa.string()), joined)
