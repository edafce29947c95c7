"""One-off timing of read_inputs on a full-size synthetic region (not a test: run by hand).

    .venv/bin/python tests/inputs/perf_full_region.py [/tmp/region] [--years 9]

Writes persons (2.4 M), listings (~2.6 M) and risk (2.4 M a year) as CSV with valid values,
then times reading and validating them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ersattning.ids import make_personnummer
from ersattning.inputs import read_inputs
from ersattning.inputs.read import read_raw
from ersattning.inputs.validate import validate


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]")).cast(pa.string())


def _write(folder: Path, name: str, cols: dict) -> None:
    pacsv.write_csv(pa.table(cols), folder / f"{name}.csv", pacsv.WriteOptions(quoting_style="none"))


def generate(folder: Path, n_persons: int = 2_400_000, years: int = 9, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_clinics = 250
    clinic_ids = np.array([f"C{i:04d}" for i in range(n_clinics)])
    _write(folder, "clinics", {
        "clinic_id": clinic_ids, "name": [f"Vårdcentral {i}" for i in range(n_clinics)],
        "group_id": [f"G{i % 40}" for i in range(n_clinics)], "area_code": ["0180"] * n_clinics,
        "opened": ["2000-01-01"] * n_clinics, "closed": [""] * n_clinics,
    })
    epoch = np.datetime64("1920-01-01").astype(np.int64)
    drawn = int(n_persons * 1.05)  # random serials collide now and then: draw extra, keep n_persons
    birth = rng.integers(epoch, np.datetime64("2013-12-31").astype(np.int64), drawn)
    coordination = rng.random(drawn) < 0.01
    ids = make_personnummer(birth.astype("datetime64[D]"), rng.integers(1, 1000, drawn), coordination)
    ids, first = np.unique(ids, return_index=True)
    keep = rng.permutation(len(ids))[:n_persons]
    ids, birth = ids[keep], birth[first[keep]]
    reserv = rng.random(n_persons) < 0.003
    ids[reserv] = np.char.add("99R", np.char.zfill(np.arange(reserv.sum()).astype(str), 9))
    n = len(ids)
    sexes = np.where(rng.random(n) < 0.5, "F", "M")
    _write(folder, "persons", {
        "person_id": ids, "birth_date": _dates(birth), "sex": sexes,
        "county_code": np.full(n, "01"), "area_code": np.full(n, "0180"),
        "valid_from": np.full(n, ""), "valid_to": np.full(n, ""),
    })
    # Every person listed from a day in 2014–2020; 1 in 12 moves to another clinic later.
    start = rng.integers(np.datetime64("2014-01-01").astype(np.int64), np.datetime64("2020-12-31").astype(np.int64), n)
    movers = rng.random(n) < 1 / 12
    switch = start + rng.integers(30, 600, n)
    clinic = rng.integers(0, n_clinics, n)
    end = np.where(movers, switch - 1, 0)
    p = np.concatenate([ids, ids[movers]])
    c = np.concatenate([clinic_ids[clinic], clinic_ids[(clinic[movers] + 1) % n_clinics]])
    vf = np.concatenate([start, switch[movers]])
    vt_days = np.concatenate([end, np.zeros(movers.sum(), np.int64)])
    vt = _dates(vt_days).to_numpy(zero_copy_only=False)
    vt[vt_days == 0] = ""
    _write(folder, "listings", {"person_id": p, "clinic_id": c, "valid_from": _dates(vf), "valid_to": vt})
    # One risk row per person and year, from January 2014.
    months = np.repeat(np.array([f"{2014 + y}-01" for y in range(years)]), n)
    acg = (rng.integers(0, 50_000, n * years) / 10_000).astype(str)
    cni = (rng.integers(60, 141, n * years) / 100).astype(str)
    _write(folder, "risk", {"person_id": np.tile(ids, years), "month": months, "acg_weight": acg, "cni": cni})


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "/tmp/region")
    years = int(sys.argv[sys.argv.index("--years") + 1]) if "--years" in sys.argv else 9
    if not (folder / "risk.csv").exists():
        t = time.perf_counter()
        generate(folder, years=years)
        print(f"generated in {time.perf_counter() - t:.1f} s")
    for f in sorted(folder.glob("*.csv")):
        print(f"  {f.name}: {f.stat().st_size / 1e6:.0f} MB")
    t0 = time.perf_counter()
    raw = read_raw(folder)
    t1 = time.perf_counter()
    result = validate(raw.tables, raw.sources, raw.errors)
    t2 = time.perf_counter()
    print({k: v.num_rows for k, v in result.tables.items()})
    print(f"errors: {result.errors.num_rows}")
    print(result.errors.slice(0, 5).to_pylist())
    print(f"read {t1 - t0:.1f} s, validate {t2 - t1:.1f} s, total {t2 - t0:.1f} s")
    t = time.perf_counter()
    read_inputs(folder)
    print(f"read_inputs again: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
