"""Where an analysis runs and what it is compared with: the synthetic region or a database,
another rulebook (a reform file or the rulebook as of a date), passive listing; and the
difference between two analyses by clinic, area and income decile (winners and losers)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ersattning.analysis.core import Analysis
from ersattning.analysis.measures import area_table, clinic_table, income_deciles
from ersattning.engine import Engine
from ersattning.region import county_resident_sql

#: Default size of the synthetic region for `ersattning analyze --synthetic` (a few minutes for 2016–2022).
DEFAULT_PERSONS = 50_000
#: Stockholm county's inhabitants on 2022-12-31 (RULES.md §9): to extrapolate totals.
REGION_INHABITANTS_2022 = 2_440_027


#: In a folder `synthetic_region` generated (to be reused): its arguments and generate's summary.
REGION_FILE = "region.json"


def synthetic_engine(persons: int, years: list[int], seed: int = 2022, folder: Path | None = None,
                     reuse: bool = False) -> tuple[Engine, dict]:
    """The synthetic region (drifting year by year from the year before the first) with a year
    of contacts for each analysed year, validated and loaded into an in-memory engine. With
    `reuse`, a `folder` `synthetic_region` generated before with the same persons, years and
    seed is read again instead of generated (`ersattning bench --analysis` caches it so)."""
    from ersattning.inputs import read_inputs
    from ersattning.register import read_contacts

    if folder is None:  # the tables are copied into the engine: the files are not needed afterwards
        with tempfile.TemporaryDirectory(prefix="ersattning-analysis-") as tmp:
            return synthetic_engine(persons, years, seed, Path(tmp))
    folder = Path(folder)
    summary = synthetic_region(folder, persons, years, seed, reuse=reuse)
    inputs = read_inputs(folder).require_clean()
    engine = Engine.duckdb().register(inputs.tables)
    contacts, _ = read_contacts(folder / "contacts.parquet", inputs.tables, today=dt.date(max(years) + 1, 6, 30))
    engine.register({"contacts": contacts})
    return engine, summary


def synthetic_region(folder: Path, persons: int, years: list[int], seed: int = 2022, reuse: bool = True) -> dict:
    """Generate the analysis's synthetic region into `folder` (Parquet; contacts for `years`) and
    return generate's summary; with `reuse`, a folder already generated so is kept as it is."""
    import json

    from ersattning.synth import generate

    folder = Path(folder)
    key = {"persons": persons, "years": sorted(years), "seed": seed}
    done = folder / REGION_FILE
    if reuse and done.is_file():
        noted = json.loads(done.read_text(encoding="utf-8"))
        if noted.get("key") == key:
            return noted["summary"]
    done.unlink(missing_ok=True)
    summary = generate(folder, persons=persons, seed=seed, first_year=min(min(years) - 1, 2015), last_year=max(years),
                       fmt="parquet", contact_years=years)
    if reuse:  # written last: a folder whose generation was cut off is generated again
        done.write_text(json.dumps({"key": key, "summary": summary}), encoding="utf-8")
    return summary


def database_engine(db: Path) -> Engine:
    """A database's stored inputs and the register's live contacts."""
    from ersattning.store import attach_contacts, open_engine

    engine = open_engine(db).attach_stored()
    attach_contacts(engine)
    return engine


def stored_lines(engine: Engine):
    """month -> the month's stored statement lines (draft or issued), or None when not computed."""
    if "statement_lines" not in engine.table_names():
        return None
    con = engine.con.con

    def lines(month: str) -> pa.Table | None:
        t = con.sql("SELECT * FROM statement_lines WHERE month = ?", params=[month]).to_arrow_table()
        return t if t.num_rows else None

    return lines


def passive_listings(engine: Engine, first: dt.date, last: dt.date) -> pa.Table:
    """Listings with passive listing (seed 003 glossary): every county resident not listed on a
    day of first..last is listed, for that gap, at the nearest clinic — read as the physical
    clinic of their residence area with the most listed residents of that area."""
    con = engine.con.con
    return con.sql(f"""
        WITH res AS (
            SELECT person_id, area_code, greatest(coalesce(valid_from, DATE '{first}'), DATE '{first}') AS f,
                   least(coalesce(valid_to, DATE '{last}'), DATE '{last}') AS t
            FROM persons WHERE {county_resident_sql()}),
        res1 AS (SELECT * FROM res WHERE f <= t),
        l AS (
            SELECT r.person_id, r.area_code, r.f, r.t, greatest(li.valid_from, r.f) AS lf,
                   least(coalesce(li.valid_to, DATE '9999-12-31'), r.t) AS lt
            FROM res1 r JOIN listings li ON li.person_id = r.person_id
             AND li.valid_from <= r.t AND coalesce(li.valid_to, DATE '9999-12-31') >= r.f),
        o AS (SELECT *, lag(lt) OVER (PARTITION BY person_id, f ORDER BY lf) AS prev FROM l),
        gaps AS (
            SELECT person_id, area_code, coalesce(prev + 1, f) AS gf, lf - 1 AS gt FROM o
            UNION ALL
            SELECT person_id, area_code, max(lt) + 1, t FROM o GROUP BY person_id, area_code, f, t
            UNION ALL
            SELECT r.person_id, r.area_code, r.f, r.t FROM res1 r
            WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.person_id = r.person_id AND l.f = r.f)),
        own AS (
            SELECT li.clinic_id, c.area_code, count(*) AS n FROM listings li
            JOIN clinics c ON c.clinic_id = li.clinic_id
            JOIN persons p ON p.person_id = li.person_id AND p.area_code = c.area_code
            GROUP BY ALL),
        nearest AS (SELECT area_code, arg_max(clinic_id, n) AS clinic_id FROM own GROUP BY area_code)
        SELECT person_id, clinic_id, valid_from, valid_to FROM (
            SELECT g.person_id, n.clinic_id, g.gf AS valid_from, g.gt AS valid_to
            FROM gaps g JOIN nearest n ON g.area_code = n.area_code WHERE g.gf <= g.gt)
        UNION ALL
        SELECT person_id, clinic_id, valid_from, valid_to FROM listings
    """).to_arrow_table()


#: Winners and losers: the bands of a clinic's, area's or decile's change (scenario − base, % of base).
BANDS = ("loses > 5 %", "loses < 5 %", "unchanged", "gains < 5 %", "gains > 5 %")


def band(difference_sek: pd.Series, difference_pct: pd.Series) -> pd.Series:
    """The band of each change: unchanged when equal to the öre; more than 5 % of the base
    (or anything when the base is 0) is "> 5 %", up to 5 % is "< 5 %"."""
    d, p = difference_sek.fillna(0.0).to_numpy(), difference_pct.to_numpy(dtype=float)
    big = np.isnan(p) | (np.abs(np.nan_to_num(p)) > 5)
    return pd.Series(np.select([np.abs(d) < 0.005, (d < 0) & big, d < 0, ~big], [BANDS[2], BANDS[0], BANDS[1], BANDS[3]], BANDS[4]),
                     index=difference_sek.index)


def compare(base: Analysis, other: Analysis) -> dict[str, pd.DataFrame]:
    """Winners and losers: `other` (the scenario) minus `base` per clinic, per area (per
    inhabitant) and per income decile of areas, each year, with each one's band (`BANDS`);
    `bands`: how many clinics, areas and deciles fall in each band."""
    keys = ["year", "clinic_id"]
    b, o = clinic_table(base), clinic_table(other)
    clinics = b[[*keys, "name", "area_code", "listed", "total"]].merge(
        o[[*keys, "total"]], on=keys, how="outer", suffixes=("_base", "_scenario")).fillna({"total_base": 0.0, "total_scenario": 0.0})
    clinics["difference_sek"] = clinics.total_scenario - clinics.total_base
    clinics["difference_pct"] = 100.0 * clinics.difference_sek / clinics.total_base.where(clinics.total_base != 0)
    clinics = clinics.rename(columns={"total_base": "base_sek", "total_scenario": "scenario_sek"})
    clinics["band"] = band(clinics.difference_sek, clinics.difference_pct)

    ab, ao = area_table(base), area_table(other)
    cols = ["year", "area_code", "category"]
    areas = ab[[*cols, "name", "income_sek", "residents", "residence_sek", "per_inhabitant_sek"]].merge(
        ao[[*cols, "residence_sek", "per_inhabitant_sek"]], on=cols, how="outer", suffixes=("_base", "_scenario"))
    areas = areas[areas.category == "total"].drop(columns="category")
    areas["difference_sek"] = areas.residence_sek_scenario.fillna(0) - areas.residence_sek_base.fillna(0)
    areas["difference_per_inhabitant_sek"] = areas.per_inhabitant_sek_scenario - areas.per_inhabitant_sek_base
    areas["difference_pct"] = 100.0 * areas.difference_sek / areas.residence_sek_base.where(areas.residence_sek_base != 0)
    areas["band"] = band(areas.difference_sek, areas.difference_pct)

    deciles = []
    for year in sorted(set(areas.year)):
        d = income_deciles(base, int(year))
        part = areas[areas.year == year].assign(decile=lambda x: x.area_code.map(d))
        g = part.groupby("decile", as_index=False)[["residents", "residence_sek_base", "residence_sek_scenario", "difference_sek"]].sum()
        g["difference_per_inhabitant_sek"] = g.difference_sek / g.residents.where(g.residents > 0)
        g["difference_pct"] = 100.0 * g.difference_sek / g.residence_sek_base.where(g.residence_sek_base != 0)
        deciles.append(g.assign(year=year))
    deciles = pd.concat(deciles, ignore_index=True) if deciles else pd.DataFrame()
    if len(deciles):
        deciles = deciles[["year", "decile", "residents", "residence_sek_base", "residence_sek_scenario", "difference_sek",
                           "difference_per_inhabitant_sek", "difference_pct"]]
        deciles["band"] = band(deciles.difference_sek, deciles.difference_pct)
    out = {"clinics": clinics.sort_values(["year", "difference_sek"]).reset_index(drop=True),
           "areas": areas.sort_values(["year", "difference_per_inhabitant_sek"]).reset_index(drop=True),
           "deciles": deciles}
    out["bands"] = bands(out)
    return out


def bands(diff: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """reform_bands.csv: per level (clinic, area, income decile), year and band, how many fall
    in it, their persons (listed at the clinics, residents of the areas) and base, scenario and difference SEK."""
    rows = []
    for level, key, persons, base_col, scen_col in (("clinic", "clinics", "listed", "base_sek", "scenario_sek"),
                                                     ("area", "areas", "residents", "residence_sek_base", "residence_sek_scenario"),
                                                     ("income decile", "deciles", "residents", "residence_sek_base", "residence_sek_scenario")):
        d = diff[key]
        if not len(d):
            continue
        for year in sorted(set(d.year)):
            part = d[d.year == year]
            for b in BANDS:
                p = part[part.band == b]
                rows.append({"level": level, "year": year, "band": b, "count": len(p), "persons": float(p[persons].sum()),
                             "base_sek": float(p[base_col].fillna(0).sum()), "scenario_sek": float(p[scen_col].fillna(0).sum()),
                             "difference_sek": float(p.difference_sek.sum())})
    return pd.DataFrame(rows, columns=["level", "year", "band", "count", "persons", "base_sek", "scenario_sek", "difference_sek"])


def budget(base: Analysis, other: Analysis) -> pd.DataFrame:
    """budget.csv: the region's total pay each year, base and scenario, the difference in SEK and
    in % of the base (summed in öre, exact)."""
    rows = []
    for year in other.years:
        b = int(base.year("lines", year)["amount_ore"].to_numpy().sum())
        s = int(other.year("lines", year)["amount_ore"].to_numpy().sum())
        rows.append({"year": year, "base_sek": b / 100, "scenario_sek": s / 100, "difference_sek": (s - b) / 100,
                     "difference_pct": 100.0 * (s - b) / b if b else float("nan"), "difference_ore": s - b})
    return pd.DataFrame(rows)


def extrapolated_total_msek(a: Analysis, year: int) -> float:
    """The year's total pay per county resident (mean of month-ends) × the region's inhabitants, in MSEK."""
    total = a.year("lines", year)["amount_ore"].to_numpy().sum() / 100.0
    residents = a.year("population", year)["residents"].to_numpy().sum()
    return float(total / residents * REGION_INHABITANTS_2022 / 1e6) if residents else float(np.nan)
