"""`ersattning bench`: intake, month, year and floor timings on a cached synthetic region (medians).

The region is generated once (Parquet) and loaded once into a DuckDB file under
`.cache/`; the timings run in a fresh worker process so that its peak memory is the
calculation's own. `make_contacts` makes many valid contacts for intake timings
(`ersattning bench-api` posts it); `bench_intake` is the contacts/s of one file intake.

    write_bench_contacts("contacts.csv", kombika, clinics, n=1_000_000)
    bench_intake("scratch.duckdb", "contacts.csv")   # -> contacts per second
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from rich.console import Console

from ersattning.ids import make_personnummer
from ersattning.region import county_resident_sql
from ersattning.register.schema import CONTACT_TYPES, PROFESSIONS

BENCH_MONTH = "2022-03"
CACHE = Path(os.environ.get("ERSATTNING_CACHE", ".cache"))


def floor_sql(month_end: str, month: str, bands: list[tuple[int, int | None, int]], acg_ore: int, cni_ore: int,
              fee_ore: int | None = None, with_visits: bool = False) -> str:
    """One hand-written DuckDB query: the month's capitation (age + ACG + CNI) and base visit
    fees per clinic, in öre. The floor the engine is measured against (DESIGN.md Targets)."""
    case = " ".join(
        f"WHEN age >= {lo}" + (f" AND age <= {hi}" if hi is not None else "") + f" THEN {ore}" for lo, hi, ore in bands
    )
    month_start = month + "-01"
    visits = f"""
    , v AS (
        SELECT k.clinic_id, count(*) * {fee_ore} AS ore
        FROM contact_events e JOIN kombika k ON e.kombika = k.kombika
        WHERE e.record_type = 'report' AND e.date BETWEEN DATE '{month_start}' AND DATE '{month_end}'
        GROUP BY k.clinic_id)""" if with_visits else ""
    return f"""
    WITH listed AS (
        SELECT person_id, clinic_id FROM listings
        WHERE valid_from <= DATE '{month_end}' AND (valid_to IS NULL OR valid_to >= DATE '{month_end}')),
    res AS (
        SELECT person_id, datesub('year', birth_date, DATE '{month_end}') AS age FROM persons
        WHERE {county_resident_sql()}
          AND (valid_from IS NULL OR valid_from <= DATE '{month_end}') AND (valid_to IS NULL OR valid_to >= DATE '{month_end}')),
    r AS (
        SELECT person_id, arg_max(acg_weight, month) AS acg, arg_max(cni, month) AS cni
        FROM risk WHERE month <= '{month}' GROUP BY person_id),
    cap AS (
        SELECT clinic_id, round((sum(CASE {case} END) + sum(acg) * {acg_ore} + sum(cni) * {cni_ore}) / 12) AS ore
        FROM listed JOIN res USING (person_id) LEFT JOIN r USING (person_id)
        GROUP BY clinic_id){visits}
    SELECT cap.clinic_id, cap.ore{" + coalesce(v.ore, 0)" if with_visits else ""} AS ore
    FROM cap{" LEFT JOIN v USING (clinic_id)" if with_visits else ""}
    """


def year_floor_sql(months: list[tuple[str, str, list[tuple[int, int | None, int]], int, int, int]]) -> str:
    """Hand-written DuckDB for a year's floor: capitation (age + ACG + CNI) and base visit fees
    per clinic and month, in öre, for every month at once. `months` holds, per month, (month,
    month_end, age bands, ACG öre, CNI öre, base fee öre) as the rulebook gives them at its end.

    One query: a table of the month-ends joined to the listing and residence intervals, the
    persons' latest risk row by an ASOF join, counted per clinic, month and age before pricing
    (a few hundred thousand rows instead of one per listed person and month), and the year's
    reported contacts counted per clinic and month in one scan. Ages as the rulebook counts them
    (a 29 February birthday is reached on 1 March in other years), not `datesub`'s."""
    def case(bands):
        return "CASE " + " ".join(f"WHEN age >= {lo}" + (f" AND age <= {hi}" if hi is not None else "") + f" THEN {ore}"
                                  for lo, hi, ore in bands) + " END"

    groups: dict[tuple, list[str]] = {}  # months with the same age bands share one CASE
    for month, _, bands, *_ in months:
        groups.setdefault(tuple(bands), []).append(month)
    if len(groups) == 1:
        age_ore = case(next(iter(groups)))
    else:
        age_ore = "CASE " + " ".join(
            f"WHEN month IN ({', '.join(repr(m) for m in ms)}) THEN {case(bands)}" for bands, ms in groups.items()) + " END"
    values = ", ".join(f"('{month}', DATE '{end}', {acg}, {cni}, {fee})" for month, end, _, acg, cni, fee in months)
    first_end, last_end = min(m[1] for m in months), max(m[1] for m in months)
    first_month, last_month = min(m[0] for m in months), max(m[0] for m in months)
    first_day = first_month + "-01"
    return f"""
    WITH m(month, month_end, acg_ore, cni_ore, fee_ore) AS (VALUES {values}),
    listed AS (
        SELECT l.person_id, l.clinic_id, m.month, m.month_end
        FROM listings l JOIN m ON l.valid_from <= m.month_end AND coalesce(l.valid_to, DATE '9999-12-31') >= m.month_end
        WHERE l.valid_from <= DATE '{last_end}' AND coalesce(l.valid_to, DATE '9999-12-31') >= DATE '{first_end}'),
    res AS (
        SELECT person_id, birth_date, coalesce(valid_from, DATE '0001-01-01') AS f, coalesce(valid_to, DATE '9999-12-31') AS t
        FROM persons
        WHERE {county_resident_sql()}
          AND coalesce(valid_from, DATE '0001-01-01') <= DATE '{last_end}' AND coalesce(valid_to, DATE '9999-12-31') >= DATE '{first_end}'),
    lr AS (
        SELECT listed.person_id, listed.clinic_id, listed.month, year(listed.month_end) - year(res.birth_date)
               - CASE WHEN month(res.birth_date) * 100 + day(res.birth_date)
                           > month(listed.month_end) * 100 + day(listed.month_end) THEN 1 ELSE 0 END AS age
        FROM listed JOIN res ON res.person_id = listed.person_id AND res.f <= listed.month_end AND res.t >= listed.month_end),
    rk AS (
        SELECT person_id, month AS f, lead(month, 1, '9999-12') OVER (PARTITION BY person_id ORDER BY month) AS t,
               acg_weight, cni
        FROM risk WHERE month <= '{last_month}'
        QUALIFY t > '{first_month}'),
    counted AS (
        SELECT lr.clinic_id, lr.month, lr.age, count(*) AS n, sum(rk.acg_weight) AS acg, sum(rk.cni) AS cni
        FROM lr LEFT JOIN rk ON lr.person_id = rk.person_id AND lr.month >= rk.f AND lr.month < rk.t
        GROUP BY ALL),
    cap AS (
        SELECT c.clinic_id, c.month,
               round((sum(c.n * {age_ore}) + coalesce(sum(c.acg), 0) * any_value(m.acg_ore)
                      + coalesce(sum(c.cni), 0) * any_value(m.cni_ore)) / 12) AS cap_ore
        FROM counted c JOIN m USING (month)
        GROUP BY c.clinic_id, c.month),
    v AS (
        SELECT k.clinic_id, strftime(e.date, '%Y-%m') AS month, count(*) AS n
        FROM contact_events e JOIN kombika k ON e.kombika = k.kombika
        WHERE e.record_type = 'report' AND e.date BETWEEN DATE '{first_day}' AND DATE '{last_end}'
        GROUP BY ALL),
    vis AS (SELECT v.clinic_id, v.month, v.n * m.fee_ore AS visit_ore FROM v JOIN m USING (month))
    SELECT clinic_id, month, coalesce(cap.cap_ore, 0) AS cap_ore, coalesce(vis.visit_ore, 0) AS visit_ore,
           coalesce(cap.cap_ore, 0) + coalesce(vis.visit_ore, 0) AS ore
    FROM cap FULL OUTER JOIN vis USING (clinic_id, month)
    """


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
    from ersattning.register import intake
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



def ensure_region(persons: int, console: Console) -> tuple[Path, Path, dict]:
    """Generate (Parquet, with a year of contacts) and load the master data once; later runs
    reuse the cache. Returns the master database, the contacts CSV for intake and the meta."""
    import pyarrow.parquet as pq

    from ersattning.inputs import read_inputs
    from ersattning.store import open_engine, store_inputs
    from ersattning.synth import generate

    folder = CACHE / "synth" / f"p{persons}-s2022-c{BENCH_MONTH[:4]}"
    db = CACHE / "bench" / f"p{persons}-master.duckdb"
    meta_path = CACHE / "bench" / f"p{persons}-master.json"
    contacts_csv = folder / "intake" / "contacts.csv"
    if meta_path.exists() and db.exists() and contacts_csv.exists():
        return db, contacts_csv, json.loads(meta_path.read_text())
    meta: dict = {}
    if not (folder / "DONE").exists():
        with console.status(f"Generating {persons:,} persons and a year of contacts (once)…"):
            t0 = time.perf_counter()
            generate(folder, persons=persons, seed=2022, first_year=int(BENCH_MONTH[:4]) - 1, last_year=int(BENCH_MONTH[:4]),
                     fmt="parquet", contact_years=[int(BENCH_MONTH[:4])])
            meta["generate_s"] = round(time.perf_counter() - t0, 2)
            # Intake reads the format PAS files mostly come in: CSV.
            contacts_csv.parent.mkdir(parents=True, exist_ok=True)
            pacsv.write_csv(pq.read_table(folder / "contacts.parquet"), contacts_csv)
        (folder / "DONE").write_text("ok")
    with console.status("Validating and loading the master data (once)…"):
        t0 = time.perf_counter()
        inputs = read_inputs(folder).require_clean()
        meta["validate_s"] = round(time.perf_counter() - t0, 2)
        db.parent.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
        t0 = time.perf_counter()
        store_inputs(open_engine(db), inputs.tables)
        meta["store_s"] = round(time.perf_counter() - t0, 2)
        meta["rows"] = {k: v.num_rows for k, v in inputs.tables.items()}
    meta_path.write_text(json.dumps(meta))
    return db, contacts_csv, meta


def time_intake(master_db: Path, contacts_csv: Path, runs: int, console: Console) -> tuple[Path, list[float], int]:
    """Contacts/s of file intake, each run into a fresh copy of the master database; the last
    copy (now holding the contacts) is the database the month and year are timed on."""
    import shutil

    work = master_db.with_name(master_db.stem.replace("-master", "-work") + ".duckdb")
    rates = []
    for i in range(runs):
        work.unlink(missing_ok=True)
        shutil.copyfile(master_db, work)
        with console.status(f"Intake of {contacts_csv.name}, run {i + 1}/{runs}…"):
            rates.append(bench_intake(work, contacts_csv))
    import duckdb

    con = duckdb.connect(str(work))
    n = con.execute("SELECT count(*) FROM contact_events").fetchone()[0]
    con.close()
    return work, rates, n


def run_bench(persons: int, json_path: Path | None, runs: int, with_year: bool, console: Console) -> dict:
    master, contacts_csv, meta = ensure_region(persons, console)
    db, rates, n_events = time_intake(master, contacts_csv, max(1, min(runs, 3)), console)
    with console.status(f"Timing ({runs} runs each)…"):
        proc = subprocess.run(
            [sys.executable, "-m", "ersattning.bench", str(db), str(runs), "1" if with_year else "0"],
            capture_output=True, text=True, check=False,
        )
    if proc.returncode != 0:
        console.print(proc.stderr)
        raise SystemExit(proc.returncode)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    result = {
        "persons": persons,
        "contacts": n_events,
        "month_s": figures["month_s"],
        "floor_s": figures["floor_s"],
        "ratio": round(figures["month_s"] / figures["floor_s"], 2) if figures["floor_s"] else None,
        "year_s": figures.get("year_s"),
        "intake_per_s": round(statistics.median(rates)),
        "intake_runs_per_s": [round(r) for r in rates],
        "peak_rss_mb": figures["peak_rss_mb"],
        "intake_peak_rss_mb": peak_rss_mb(),  # this process: generation, validation and intake
        "runs": runs,
        "month": BENCH_MONTH,
        "clinics": figures["clinics"],
        "lines": figures["lines"],
        "month_runs_s": figures["month_runs_s"],
        "floor_matches_engine": figures["floor_matches_engine"],
        **{k: v for k, v in meta.items() if k != "rows"},
        "rows": meta.get("rows"),
        "cpu_count": os.cpu_count(),
    }
    for key in ("persons", "contacts", "intake_per_s", "month_s", "floor_s", "ratio", "year_s", "peak_rss_mb", "floor_matches_engine"):
        console.print(f"{key:>22}: {result[key]}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
        console.print(f"written {json_path}")
    return result


def _worker(db: str, runs: int, with_year: bool) -> dict:
    """Timings inside a fresh process: month (engine), floor (one SQL query), year."""
    from ersattning.core import Core
    from ersattning.engine import Engine
    from ersattning.money import to_ore
    from ersattning.period import last_day
    from ersattning.statements import compute_month, compute_year
    from ersattning.store import attach_contacts

    engine = Engine.duckdb(db).attach_stored()
    attach_contacts(engine)
    book = Core(engine).book  # the rulebook `run` would use on this database
    month_times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = compute_month(engine, book, BENCH_MONTH)
        month_times.append(time.perf_counter() - t0)
    rules = book.at(last_day(BENCH_MONTH))
    bands = [(lo, hi, to_ore(a)) for lo, hi, a in rules.value("capitation_age.amounts")]
    fee = rules.value("visit_fee.prices")["VF_BASE"]
    sql = floor_sql(last_day(BENCH_MONTH).isoformat(), BENCH_MONTH, bands, to_ore(rules.value("capitation_acg.rate")),
                    to_ore(rules.value("capitation_cni.rate")), to_ore(fee), with_visits=True)
    raw = engine.con.con
    floor_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        raw.execute(sql).fetchall()
        floor_times.append(time.perf_counter() - t0)
    # The floor sums capitation (age, ACG, CNI) without the engine's per-line rounding, so
    # the capitation parts must agree within a few öre per clinic; visits are not compared
    # (the floor prices every reported row at the base fee, the engine applies the model).
    floor_cap = raw.execute(floor_sql(last_day(BENCH_MONTH).isoformat(), BENCH_MONTH, bands,
                                      to_ore(rules.value("capitation_acg.rate")), to_ore(rules.value("capitation_cni.rate")))).fetchall()
    eng = {}
    for cid, comp, ore in zip(result.lines["clinic_id"].to_pylist(), result.lines["component"].to_pylist(), result.lines["amount_ore"].to_pylist()):
        if comp in ("capitation_age", "capitation_acg", "capitation_cni"):
            eng[cid] = eng.get(cid, 0) + ore
    matches = all(abs(eng.get(cid, 0) - int(ore)) <= 6 for cid, ore in floor_cap)
    out = {
        "month_s": round(statistics.median(month_times), 3),
        "month_runs_s": [round(t, 3) for t in month_times],
        "floor_s": round(statistics.median(floor_times), 3),
        "clinics": result.statements.num_rows,
        "lines": result.lines.num_rows,
        "floor_matches_engine": matches,
    }
    if with_year:
        year_times = []
        for _ in range(max(1, min(3, runs))):
            t0 = time.perf_counter()
            # The twelve months and the year's reconciliation (caps, quality goals), one pass.
            compute_year(engine, book, int(BENCH_MONTH[:4]))
            year_times.append(time.perf_counter() - t0)
        out["year_s"] = round(statistics.median(year_times), 3)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: on Linux that survives
    exec, so a worker would report its parent's peak (here: the 10 M-contact intake)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1")))
