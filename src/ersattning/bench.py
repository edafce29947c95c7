"""`ersattning bench`: intake, month, year and their floor queries timed on a cached synthetic
region (medians); optionally the analysis (`--analysis`) and the growth with size (`--scaling`).

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
    month_end, age bands, ACG öre, CNI öre, base fee öre) as the rulebook gives them at its end
    (`year_floor_months`).

    One query, the intervals intersected per person before anything is multiplied by twelve:
    listing ∩ residence ∩ risk row (each risk row holds until the person's next; before a
    person's first row there is no ACG or CNI), those spans joined to a 12-row table of
    month-ends, counted per clinic, month and age, then priced; the year's reported contacts
    are counted per clinic and month in one scan. Ages as the rulebook counts them (a 29
    February birthday is reached on 1 March in other years)."""
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
    last_month = max(m[0] for m in months)
    first_day = min(m[0] for m in months) + "-01"
    never = "DATE '9999-12-31'"
    return f"""
    WITH m(month, month_end, acg_ore, cni_ore, fee_ore) AS (VALUES {values}),
    l AS (
        SELECT person_id, clinic_id, valid_from AS f, coalesce(valid_to, {never}) AS t FROM listings
        WHERE valid_from <= DATE '{last_end}' AND coalesce(valid_to, {never}) >= DATE '{first_end}'),
    res AS (
        SELECT person_id, birth_date, coalesce(valid_from, DATE '0001-01-01') AS f, coalesce(valid_to, {never}) AS t
        FROM persons
        WHERE {county_resident_sql()}
          AND coalesce(valid_from, DATE '0001-01-01') <= DATE '{last_end}' AND coalesce(valid_to, {never}) >= DATE '{first_end}'),
    lr AS (
        SELECT l.clinic_id, l.person_id, res.birth_date, greatest(l.f, res.f) AS f, least(l.t, res.t) AS t
        FROM l JOIN res ON l.person_id = res.person_id AND l.f <= res.t AND res.f <= l.t),
    rk AS (
        SELECT person_id, CAST(month || '-01' AS DATE) AS f,
               CAST(lead(month, 1, '9999-12') OVER (PARTITION BY person_id ORDER BY month) || '-01' AS DATE) - 1 AS t,
               acg_weight, cni
        FROM risk WHERE month <= '{last_month}'
        QUALIFY t >= DATE '{first_end}'),
    first_risk AS (
        SELECT person_id, CAST(min(month) || '-01' AS DATE) AS f FROM risk WHERE month <= '{last_month}' GROUP BY person_id),
    spans AS (
        SELECT lr.clinic_id, lr.birth_date, greatest(lr.f, rk.f) AS f, least(lr.t, rk.t) AS t, rk.acg_weight, rk.cni
        FROM lr JOIN rk ON lr.person_id = rk.person_id AND lr.f <= rk.t AND rk.f <= lr.t
        UNION ALL
        SELECT lr.clinic_id, lr.birth_date, lr.f, least(lr.t, coalesce(fr.f - 1, lr.t)), NULL, NULL
        FROM lr LEFT JOIN first_risk fr ON lr.person_id = fr.person_id
        WHERE fr.f IS NULL OR lr.f < fr.f),
    counted AS (
        SELECT s.clinic_id, m.month,
               year(m.month_end) - year(s.birth_date)
               - CASE WHEN month(s.birth_date) * 100 + day(s.birth_date) > month(m.month_end) * 100 + day(m.month_end)
                      THEN 1 ELSE 0 END AS age,
               count(*) AS n, sum(s.acg_weight) AS acg, sum(s.cni) AS cni
        FROM spans s JOIN m ON s.f <= m.month_end AND s.t >= m.month_end
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


#: `--scaling`'s sizes: a quarter to twice the full region (4.8 M generated at that size, README).
SCALING_SIZES = (300_000, 600_000, 1_200_000, 2_400_000, 4_800_000)
#: The report's seven years (`--analysis`) and the demo size (`ersattning analyze --synthetic`).
ANALYSIS_YEARS = list(range(2016, 2023))
DEMO_PERSONS = 50_000
#: `reform_year_s`'s reform: the ACG rate raised from 2022 (the README's reform example).
REFORM_YAML = """description: ACG rate 1 500 SEK from 2022 (benchmark reform)
reference: "ersattning bench"
parameters:
  capitation_acg.rate:
    values:
      2022-01-01: {value: 1500, reference: "ersattning bench"}
"""


def run_bench(persons: int, json_path: Path | None, runs: int, with_year: bool, console: Console,
              analysis: bool = False, analysis_demo: bool = True, analysis_years: list[int] | None = None,
              scaling: list[int] | None = None) -> dict:
    master, contacts_csv, meta = ensure_region(persons, console)
    db, rates, n_events = time_intake(master, contacts_csv, max(1, min(runs, 3)), console)
    with console.status(f"Timing ({runs} runs each)…"):
        figures = _run_worker(db, runs, "all" if with_year else "month", console)
    result = {
        "persons": persons,
        "contacts": n_events,
        "month_s": figures["month_s"],
        "floor_s": figures["floor_s"],
        "ratio": round(figures["month_s"] / figures["floor_s"], 2) if figures["floor_s"] else None,
        "year_s": figures.get("year_s"),
        "year_floor_s": figures.get("year_floor_s"),
        "year_ratio": figures.get("year_ratio"),
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
        "year_runs_s": figures.get("year_runs_s"),
        "year_floor_runs_s": figures.get("year_floor_runs_s"),
        "year_floor_matches_engine": figures.get("year_floor_matches_engine"),
        "year_floor_max_diff_ore": figures.get("year_floor_max_diff_ore"),
        **{k: v for k, v in meta.items() if k != "rows"},
        "rows": meta.get("rows"),
        "cpu_count": os.cpu_count(),
    }
    shown = ["persons", "contacts", "intake_per_s", "month_s", "floor_s", "ratio", "year_s", "year_floor_s", "year_ratio",
             "peak_rss_mb", "floor_matches_engine", "year_floor_matches_engine"]
    if analysis:
        result.update(time_analysis(persons, analysis_years or ANALYSIS_YEARS, analysis_demo, console))
        shown += [k for k in ("analysis_years_s", "reform_year_s", "analysis_years_50k_s") if k in result]
    for key in shown:
        console.print(f"{key:>26}: {result[key]}")
    chart = None
    if scaling:
        result["scaling"] = scaling_curve(scaling, runs, console, loaded={persons: (db, n_events)})
        result["scaling_exponents"] = exponents = scaling_exponents(result["scaling"])
        for key, k in exponents.items():
            console.print(f"{key:>26}: ∝ persons^{k} ({growth_word(k)})" if k is not None else f"{key:>26}: (one size)")
        chart = (json_path.with_name(f"{json_path.stem}-scaling.svg") if json_path else Path("out") / "bench-scaling.svg")
        write_scaling_chart(result["scaling"], chart)
        result["scaling_chart"] = str(chart)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
        console.print(f"written {json_path}")
    if chart:
        console.print(f"written {chart}")
    return result


def _run_worker(db: Path, runs: int, parts: str, console: Console) -> dict:
    """`_worker` in a fresh process (its peak memory is the calculation's own)."""
    proc = subprocess.run([sys.executable, "-m", "ersattning.bench", str(db), str(runs), parts],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        console.print(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scaling_curve(sizes: list[int], runs: int, console: Console, loaded: dict | None = None) -> list[dict]:
    """The month and the year at each size (regions cached like the bench's own): medians of
    `runs` (the year: up to 3), each calculation in its own fresh process for its peak memory.
    `loaded`: persons -> (database, contacts) already holding that size's contacts."""
    curve = []
    for persons in sizes:
        if loaded and persons in loaded:
            db, n_events = loaded[persons]
        else:
            master, contacts_csv, _ = ensure_region(persons, console)
            db, _, n_events = time_intake(master, contacts_csv, 1, console)
        with console.status(f"Scaling: {persons:,} persons, the month…".replace(",", " ")):
            month = _run_worker(db, runs, "month-only", console)
        with console.status(f"Scaling: {persons:,} persons, the year…".replace(",", " ")):
            year = _run_worker(db, runs, "year-only", console)
        point = {"persons": persons, "contacts": n_events, "clinics": month["clinics"], "month_s": month["month_s"],
                 "year_s": year["year_s"], "month_peak_mb": month["peak_rss_mb"], "year_peak_mb": year["peak_rss_mb"]}
        console.print("  " + ", ".join(f"{k} {v}" for k, v in point.items()))
        curve.append(point)
    return curve


def scaling_exponents(curve: list[dict]) -> dict:
    """The fitted exponent k of each figure ∝ persons^k (least squares on log-log): ~1.0 is
    linear growth, below 1 the fixed costs still weigh (small sizes), above 1 worse than linear."""
    persons = np.log([p["persons"] for p in curve])
    out = {}
    for key in ("month_s", "year_s", "month_peak_mb", "year_peak_mb"):
        values = np.array([p[key] for p in curve], dtype=float)
        ok = values > 0
        fits = ok.sum() >= 2 and len(set(persons[ok])) >= 2
        out[key] = round(float(np.polyfit(persons[ok], np.log(values[ok]), 1)[0]), 2) if fits else None
    return out


def growth_word(k: float) -> str:
    return "linear" if 0.85 <= k <= 1.15 else "sublinear" if k < 0.85 else "superlinear"


def write_scaling_chart(curve: list[dict], path: Path) -> Path:
    """Time and peak memory against persons, month and year, log-log (SVG, or PNG by suffix)."""
    import altair as alt
    import pandas as pd
    import vl_convert as vlc

    rows = [{"persons": p["persons"], "what": what, "seconds": p[f"{what}_s"], "peak_mb": p[f"{what}_peak_mb"]}
            for p in curve for what in ("month", "year")]
    data = alt.Data(values=pd.DataFrame(rows).to_dict("records"))
    x = alt.X("persons:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s"), title="persons")
    color = alt.Color("what:N", title=None)
    base = alt.Chart(data).mark_line(point=True).encode(x=x, color=color).properties(width=320, height=240)
    chart = alt.hconcat(
        base.encode(y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="seconds")).properties(title="time"),
        base.encode(y=alt.Y("peak_mb:Q", scale=alt.Scale(type="log"), title="MB")).properties(title="peak memory"),
    ).properties(title="ersattning bench --scaling")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(chart.to_dict(), scale=2))
    else:
        path.write_text(vlc.vegalite_to_svg(chart.to_dict()), encoding="utf-8")
    return path


def time_analysis(persons: int, years: list[int], demo: bool, console: Console) -> dict:
    """Whole-process times of `ersattning.analysis.analyze` on a cached synthetic region: the
    years at `persons` (`analysis_years_s`), one reform year against its base
    (`reform_year_s`, the last year) and, with `demo`, the years at the demo size
    (`analysis_years_50k_s`). Generation is done once beforehand and not timed."""
    from ersattning.analysis.scenarios import synthetic_region

    out_root = CACHE / "bench" / "analysis-out"
    reform = CACHE / "bench" / "reform-acg.yaml"
    reform.parent.mkdir(parents=True, exist_ok=True)
    reform.write_text(REFORM_YAML, encoding="utf-8")
    runs = [("analysis_years_s", persons, years, None), ("reform_year_s", persons, [max(years)], reform)]
    if demo:
        runs.append(("analysis_years_50k_s", DEMO_PERSONS, years, None))
    out: dict = {"analysis_years": f"{min(years)}-{max(years)}"}
    for key, n, ys, rules in runs:
        folder = CACHE / "synth" / f"analysis-p{n}-s2022-y{min(ys)}-{max(ys)}"
        with console.status(f"Generating the analysis region, {n:,} persons, {min(ys)}–{max(ys)} (once)…".replace(",", " ")):
            synthetic_region(folder, n, ys, seed=2022)
        if key == "analysis_years_50k_s" and n == persons:
            out[key], out["analysis_years_50k_peak_mb"] = out["analysis_years_s"], out["analysis_years_peak_mb"]
            continue
        argv = [sys.executable, "-m", "ersattning.bench", "analyze", str(folder), str(n), ",".join(map(str, ys)),
                str(out_root / key.removesuffix("_s"))] + ([str(rules)] if rules else [])
        with console.status(f"Timing {key} ({n:,} persons)…".replace(",", " ")):
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            console.print(proc.stderr)
            raise SystemExit(proc.returncode)
        inner = json.loads(proc.stdout.strip().splitlines()[-1])
        out[key] = round(seconds, 2)
        out[key.removesuffix("_s") + "_peak_mb"] = inner["peak_rss_mb"]
        out[key.removesuffix("_s") + "_analyze_s"] = inner["analyze_s"]  # analyze() alone, without start-up
    return out


def _analysis_worker(folder: str, persons: int, years: str, output: str, rules: str | None) -> dict:
    """`analyze(...)` as `ersattning analyze --synthetic` calls it, on the cached region."""
    from ersattning.analysis import analyze

    result = analyze([int(y) for y in years.split(",")], Path(output), persons=persons, seed=2022,
                     rules=Path(rules) if rules else None, region=Path(folder))
    return {"analyze_s": round(result.seconds, 2), "peak_rss_mb": peak_rss_mb()}


def _worker(db: str, runs: int, parts: str) -> dict:
    """Timings inside a fresh process: `parts` is "month" (the month and its floor), "all" (and
    the year and its floor), or, for the scaling curve, "month-only" / "year-only" (the engine
    alone, so that the process's peak memory is that calculation's)."""
    from ersattning.core import Core
    from ersattning.engine import Engine
    from ersattning.statements import compute_month, compute_year
    from ersattning.store import attach_contacts

    engine = Engine.duckdb(db).attach_stored()
    attach_contacts(engine)
    book = Core(engine).book  # the rulebook `run` would use on this database
    raw = engine.con.con
    out: dict = {}
    if parts != "year-only":
        month_times, result = [], None
        for _ in range(runs):
            t0 = time.perf_counter()
            result = compute_month(engine, book, BENCH_MONTH)
            month_times.append(time.perf_counter() - t0)
        out["month_s"] = round(statistics.median(month_times), 3)
        out["month_runs_s"] = [round(t, 3) for t in month_times]
        out["clinics"] = result.statements.num_rows
        out["lines"] = result.lines.num_rows
    if parts in ("month", "all"):
        out.update(_month_floor(raw, book, result, runs))
    if parts in ("all", "year-only"):
        year_times, months = [], None
        for _ in range(max(1, min(3, runs))):
            t0 = time.perf_counter()
            # The twelve months and the year's reconciliation (caps, quality goals), one pass.
            months, _ = compute_year(engine, book, int(BENCH_MONTH[:4]))
            year_times.append(time.perf_counter() - t0)
        out["year_s"] = round(statistics.median(year_times), 3)
        out["year_runs_s"] = [round(t, 3) for t in year_times]
        if parts == "all":
            out.update(_year_floor(raw, book, months, runs))
            out["year_ratio"] = round(out["year_s"] / out["year_floor_s"], 2) if out["year_floor_s"] else None
    out["peak_rss_mb"] = peak_rss_mb()
    return out


_CAPITATION = ("capitation_age", "capitation_acg", "capitation_cni")


def _month_floor(raw, book, result, runs: int) -> dict:
    """The month's floor query timed, and its capitation compared with the engine's."""
    from ersattning.money import to_ore
    from ersattning.period import last_day

    rules = book.at(last_day(BENCH_MONTH))
    bands = [(lo, hi, to_ore(a)) for lo, hi, a in rules.value("capitation_age.amounts")]
    fee = rules.value("visit_fee.prices")["VF_BASE"]
    sql = floor_sql(last_day(BENCH_MONTH).isoformat(), BENCH_MONTH, bands, to_ore(rules.value("capitation_acg.rate")),
                    to_ore(rules.value("capitation_cni.rate")), to_ore(fee), with_visits=True)
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
    eng = _capitation_by(result.lines, by_month=False)
    matches = all(abs(eng.get(cid, 0) - int(ore)) <= 6 for cid, ore in floor_cap)
    return {"floor_s": round(statistics.median(floor_times), 3), "floor_matches_engine": matches}


def year_floor_months(book, year: int) -> list[tuple]:
    """`year_floor_sql`'s month table: each month's age bands, ACG, CNI and base fee in öre, as
    the rulebook gives them at the month's end (what the engine prices that month with)."""
    from ersattning.money import to_ore
    from ersattning.period import last_day, months_of

    months = []
    for month in months_of(year):
        rules = book.at(last_day(month))
        bands = [(lo, hi, to_ore(a)) for lo, hi, a in rules.value("capitation_age.amounts")]
        months.append((month, last_day(month).isoformat(), bands, to_ore(rules.value("capitation_acg.rate")),
                       to_ore(rules.value("capitation_cni.rate")), to_ore(rules.value("visit_fee.prices")["VF_BASE"])))
    return months


def _year_floor(raw, book, months, runs: int) -> dict:
    """The year's floor query timed, and its capitation per clinic and month compared with the
    engine's year (`compute_year`'s twelve months)."""
    sql = year_floor_sql(year_floor_months(book, int(BENCH_MONTH[:4])))
    times, rows = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = raw.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    eng: dict = {}
    for m in months:
        for key, ore in _capitation_by(m.lines, by_month=True).items():
            eng[key] = eng.get(key, 0) + ore
    floor = {(cid, month): int(cap) for cid, month, cap, _, _ in rows if cap}
    # Like the month's check: within a few öre per clinic and month (the floor rounds once per
    # clinic-month, the engine per line); a clinic-month only one side has fails it.
    worst = max((abs(eng.get(k, 0) - floor.get(k, 0)) for k in eng.keys() | floor.keys()), default=0)
    return {"year_floor_s": round(statistics.median(times), 3), "year_floor_runs_s": [round(t, 3) for t in times],
            "year_floor_matches_engine": bool(eng) and worst <= 6, "year_floor_max_diff_ore": worst}


def _capitation_by(lines: pa.Table, by_month: bool) -> dict:
    """The engine's capitation (age, ACG, CNI) in öre per clinic (or per clinic and month)."""
    cap = lines.filter(pc.is_in(lines["component"], value_set=pa.array(_CAPITATION)))
    keys = ["clinic_id", "month"] if by_month else ["clinic_id"]
    summed = cap.group_by(keys).aggregate([("amount_ore", "sum")])
    ids = summed["clinic_id"].to_pylist()
    if by_month:
        ids = list(zip(ids, summed["month"].to_pylist()))
    return dict(zip(ids, summed["amount_ore_sum"].to_pylist()))


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
    if sys.argv[1] == "analyze":
        print(json.dumps(_analysis_worker(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
                                          sys.argv[6] if len(sys.argv) > 6 else None)))
    else:
        print(json.dumps(_worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
