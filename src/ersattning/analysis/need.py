"""Need-standardised pay by area: indirect standardisation of the pay for each area's residents
by age band, sex and ACG weight band, and the concentration index (by area income rank) of raw
and need-standardised pay per inhabitant, its standard error with the within-area term.

`person_pay` weighs the statement lines by person (the attribution's weights with the person as
the key), sums the weights per (area, cell) and splits the lines over those exactly in öre; each
person's unrounded share feeds only the within-area variance. `need_cells` keeps small tables per
(area, cell) and per area: person numbers are in neither, nor in any output.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa

from ersattning.analysis.attribution import allocate, capitation_weights, visit_weights
from ersattning.engine import Engine
from ersattning.period import last_day
from ersattning.region import county_resident_sql
from ersattning.rulebook.loader import Rulebook

#: Age bands (lower bounds, years on the last day of the year's last month analysed).
AGE_BANDS = (0, 7, 18, 35, 50, 65, 75, 85)
#: ACG weight bands (upper bounds, exclusive): < 0.5, 0.5–1, 1–2, 2–4, ≥ 4; "none" without a weight.
ACG_BANDS = (0.5, 1.0, 2.0, 4.0)

CELL_PAY_SCHEMA = pa.schema([("area_code", pa.string()), ("sex", pa.string()), ("age_band", pa.string()),
                             ("acg_band", pa.string()), ("amount_ore", pa.int64())])
PERSON_PAY_SCHEMA = pa.schema([("area_code", pa.string()), ("person_id", pa.string()), ("pay_ore", pa.float64())])


def _band_sql(value: str, bounds, labels) -> str:
    cases = " ".join(f"WHEN {value} < {b} THEN '{label}'" for b, label in zip(bounds, labels))
    return f"CASE {cases} ELSE '{labels[-1]}' END"


def person_cells(engine: Engine, months: list[str]) -> pa.Table:
    """(person_id, sex, age_band, acg_band) of every person, for the year of `months`: age on the
    last day of its last month, the ACG weight in force in that month (`none` without one; the
    ACG weights even when a scenario pays on the open index)."""
    end = last_day(months[-1])
    age_labels = [f"{lo}-{hi - 1}" for lo, hi in zip(AGE_BANDS, AGE_BANDS[1:])] + [f"{AGE_BANDS[-1]}+"]
    acg_labels = [f"<{ACG_BANDS[0]:g}"] + [f"{lo:g}-{hi:g}" for lo, hi in zip(ACG_BANDS, ACG_BANDS[1:])] + [f">={ACG_BANDS[-1]:g}"]
    # `risk_acg`: the ACG weights kept aside when a scenario pays on another index (--case-mix open)
    table = next((t for t in ("risk_acg", "risk") if t in engine.table_names()), None)
    risk = ("(SELECT person_id, CAST(arg_max(acg_weight, month) AS DOUBLE) AS acg FROM " + table +
            f" WHERE month <= '{months[-1]}' GROUP BY person_id)") if table else \
        "(SELECT NULL::VARCHAR AS person_id, NULL::DOUBLE AS acg WHERE false)"
    return engine.con.con.sql(f"""
        WITH who AS (
            SELECT person_id, arg_max(sex, coalesce(valid_from, DATE '0001-01-01')) AS sex,
                   arg_max(birth_date, coalesce(valid_from, DATE '0001-01-01')) AS birth_date
            FROM persons GROUP BY person_id),
        p AS (SELECT w.person_id, coalesce(w.sex, 'unknown') AS sex, date_sub('year', w.birth_date, DATE '{end}') AS age, k.acg
              FROM who w LEFT JOIN {risk} k USING (person_id))
        SELECT person_id, sex, CASE WHEN age IS NULL THEN 'unknown' ELSE {_band_sql('age', AGE_BANDS[1:], age_labels)} END AS age_band,
               CASE WHEN acg IS NULL THEN 'none' ELSE {_band_sql('acg', ACG_BANDS, acg_labels)} END AS acg_band
        FROM p
    """).to_arrow_table()


def person_pay(engine: Engine, book: Rulebook, months: list[str], lines: pa.Table, cells: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(cell_pay, person_pay) of consecutive `months`' lines split over the persons they paid for
    (capitation), the patients (visits) and the listed persons (other clinic lines), by area of
    residence: `cell_pay` (area_code, sex, age_band, acg_band, amount_ore) in whole öre as
    `attribution.allocate` splits them, the persons' weights summed per cell of `cells`
    (`person_cells`) first; `person_pay` (area_code, person_id, pay_ore) each person's share
    unrounded (a float: it only feeds the within-area variance). Lines with no person (gone to
    the clinic's area) and out-of-county patients are left out."""
    from ersattning.products.capitation import capitation_components
    from ersattning.products.visits import visit_components

    cap, _ = capitation_weights(engine, book, months, by_person=True)
    vis, _ = visit_weights(engine, book, months, by_person=True)
    con = engine.con.con
    con.register("_nd_w", pa.concat_tables([cap, vis]))
    con.register("_nd_cells", cells)
    con.register("_nd_lines", lines.select(["month", "clinic_id", "component", "product_code", "amount_ore"]))
    visit_list = ", ".join(f"'{c}'" for c in visit_components(book)) or "''"
    capitation_list = ", ".join(f"'{c}'" for c in capitation_components(book)) or "''"
    try:
        by_cell = con.sql("""
            SELECT w.month, w.clinic_id, w.basis,
                   split_part(w.area_code, '|', 1) || '|' || coalesce(c.sex, 'unknown') || '|' || coalesce(c.age_band, 'unknown')
                     || '|' || coalesce(c.acg_band, 'none') AS area_code, w.listed, sum(w.w) AS w
            FROM _nd_w w LEFT JOIN _nd_cells c ON c.person_id = split_part(w.area_code, '|', 2)
            WHERE w.area_code IS NOT NULL GROUP BY ALL
        """).to_arrow_table()
        persons = con.sql(f"""
            WITH l AS (
                SELECT month, clinic_id, CASE WHEN component IN ({capitation_list}) THEN 'cap:' || component || ':' || product_code
                            WHEN component IN ({visit_list}) THEN 'visit:' || component || ':' || product_code
                            ELSE 'persons' END AS basis, sum(amount_ore) AS amount_ore
                FROM _nd_lines GROUP BY ALL),
            t AS (SELECT month, clinic_id, basis, sum(w) AS total FROM _nd_w GROUP BY ALL)
            SELECT split_part(w.area_code, '|', 1) AS area_code, split_part(w.area_code, '|', 2) AS person_id,
                   sum(l.amount_ore * w.w / t.total) AS pay_ore
            FROM _nd_w w JOIN t USING (month, clinic_id, basis) JOIN l USING (month, clinic_id, basis)
            WHERE t.total <> 0 AND w.area_code IS NOT NULL GROUP BY ALL
        """).to_arrow_table()
    finally:
        for name in ("_nd_w", "_nd_cells", "_nd_lines"):
            con.unregister(name)
    allocated = allocate(engine, book, lines, by_cell)
    con.register("_nd_alloc", allocated)
    try:
        cell_pay = con.sql("""
            SELECT split_part(area_code, '|', 1) AS area_code, split_part(area_code, '|', 2) AS sex,
                   split_part(area_code, '|', 3) AS age_band, split_part(area_code, '|', 4) AS acg_band,
                   CAST(sum(amount_ore) AS BIGINT) AS amount_ore
            FROM _nd_alloc WHERE contains(area_code, '|') GROUP BY ALL
        """).to_arrow_table()
    finally:
        con.unregister("_nd_alloc")
    return cell_pay.cast(CELL_PAY_SCHEMA), persons.cast(PERSON_PAY_SCHEMA)


def need_cells(engine: Engine, months: list[str], cells: pa.Table, cell_pay: pa.Table, pay: pa.Table,
               scale: int = 1) -> tuple[pa.Table, pa.Table]:
    """(cells, within) of one year's `months` (the month-ends residents are counted on), its
    persons' cells (`person_cells`) and the pay (`person_pay`'s, amounts × `scale`: a year from a
    few months):

    - cells: area_code, sex, age_band, acg_band, person_months (county residents at the months'
      ends), months (their number), amount_ore (the pay for the cell's persons in the area);
    - within: area_code, persons, person_months, months, pay_sek, pay2_sek (Σ over the area's
      residents of wᵢyᵢ², yᵢ their pay per person-year in SEK, wᵢ their person-years): the
      within-area variance of the concentration index's standard error.
    """
    con = engine.con.con
    con.register("_nd_cells", cells)
    con.register("_nd_cell_pay", cell_pay)
    con.register("_nd_pay", pay)
    con.register("_nd_months", pa.table({"month_end": pa.array([last_day(m) for m in months], pa.date32())}))
    n = len(months)
    try:
        con.sql(f"""
            CREATE OR REPLACE TEMP TABLE _nd_res AS
            SELECT p.person_id, p.area_code, count(*) AS pm FROM persons p JOIN _nd_months m
              ON (p.valid_from IS NULL OR p.valid_from <= m.month_end) AND (p.valid_to IS NULL OR p.valid_to >= m.month_end)
            WHERE {county_resident_sql('p')} AND p.area_code IS NOT NULL GROUP BY ALL
        """)
        out_cells = con.sql(f"""
            WITH res AS (
                SELECT r.area_code, coalesce(c.sex, 'unknown') AS sex, coalesce(c.age_band, 'unknown') AS age_band,
                       coalesce(c.acg_band, 'none') AS acg_band, sum(r.pm) AS pm
                FROM _nd_res r LEFT JOIN _nd_cells c USING (person_id) GROUP BY ALL),
            pay AS (SELECT area_code, sex, age_band, acg_band, sum(amount_ore) * {scale} AS amount_ore FROM _nd_cell_pay GROUP BY ALL)
            SELECT area_code, sex, age_band, acg_band, CAST(coalesce(res.pm, 0) AS BIGINT) AS person_months, {n} AS months,
                   CAST(coalesce(pay.amount_ore, 0) AS BIGINT) AS amount_ore
            FROM res FULL JOIN pay USING (area_code, sex, age_band, acg_band)
        """).to_arrow_table()
        within = con.sql(f"""
            WITH pay AS (SELECT area_code, person_id, sum(pay_ore) * {scale} AS pay_ore FROM _nd_pay GROUP BY ALL)
            SELECT r.area_code, count(*) AS persons, CAST(sum(r.pm) AS BIGINT) AS person_months, {n} AS months,
                   sum(coalesce(p.pay_ore, 0) / 100.0) AS pay_sek, sum(power(coalesce(p.pay_ore, 0) / 100.0, 2) * {n} / r.pm) AS pay2_sek
            FROM _nd_res r LEFT JOIN pay p USING (area_code, person_id) GROUP BY ALL
        """).to_arrow_table()
    finally:
        con.sql("DROP TABLE IF EXISTS _nd_res")
        for name in ("_nd_cells", "_nd_cell_pay", "_nd_pay", "_nd_months"):
            con.unregister(name)
    return out_cells, within


def _round(x: Fraction) -> int:
    """To the nearest öre, half away from zero."""
    return int(math.copysign(math.floor(abs(x) + Fraction(1, 2)), x))


def standardise(cells: pd.DataFrame) -> pd.DataFrame:
    """Indirect standardisation of `need_cells` (year, area_code, sex, age_band, acg_band,
    person_months, months, amount_ore), exactly (fractions of öre, rounded once, half away from
    zero): per year and area, residents (person-years), `paid_ore`, `expected_ore` = Σ over the
    area's cells of its person-months × the region's mean pay per person-month in the cell,
    `ratio` = paid / expected (a ratio, float) and `need_per_inhabitant_ore` = ratio × the region's
    mean pay per person-year (paid / residents over all areas)."""
    rows = []
    for year, c in cells.groupby("year"):
        n = int(c.months.iloc[0])
        region = c.groupby(["sex", "age_band", "acg_band"])[["person_months", "amount_ore"]].sum()
        # the region's mean pay per person-month in each cell (cells with no resident give none)
        rate = {k: Fraction(int(r.amount_ore), int(r.person_months)) for k, r in region.iterrows() if r.person_months > 0}
        total_pm = int(c.person_months.sum())
        mean = Fraction(int(c.amount_ore.sum()) * n, total_pm) if total_pm else Fraction(0)  # per person-year
        for area, part in c.groupby("area_code"):
            paid = int(part.amount_ore.sum())
            expected = sum((int(r.person_months) * rate.get((r.sex, r.age_band, r.acg_band), Fraction(0))
                            for r in part.itertuples()), Fraction(0))
            ratio = Fraction(paid) / expected if expected else None
            need = _round(ratio * mean) if ratio is not None else None
            rows.append({"year": year, "area_code": area, "residents": int(part.person_months.sum()) / n, "paid_ore": paid,
                         "expected_ore": _round(expected), "ratio": float(ratio) if ratio is not None else np.nan,
                         "need_per_inhabitant_ore": need})
    out = pd.DataFrame(rows, columns=["year", "area_code", "residents", "paid_ore", "expected_ore", "ratio", "need_per_inhabitant_ore"])
    out["need_per_inhabitant_ore"] = out.need_per_inhabitant_ore.astype("Int64")
    return out


def need_table(a, raw: pd.DataFrame) -> pd.DataFrame:
    """need.csv: per year and area, raw pay per listed person and per inhabitant (areas.csv,
    total), the pay for its residents split by person (`paid_ore`, and per resident), the pay expected from its
    residents' (age band, sex, ACG band) cells (`expected_ore`), the standardised ratio and the
    need-standardised pay per inhabitant (`standardise`; öre, and SEK to read). `raw`: the
    report's area table (`measures.area_table(a)`, given by the caller: measures imports
    analysis.core, which imports this module)."""

    cols = ["year", "area_code", "name", "income_sek", "residents", "listed", "per_listed_sek", "per_inhabitant_sek",
            "paid_ore", "paid_per_inhabitant_sek", "expected_ore", "ratio", "need_per_inhabitant_ore", "need_per_inhabitant_sek"]
    if a.need_cells is None or not a.need_cells.num_rows:
        return pd.DataFrame(columns=cols)
    raw = raw[raw.category == "total"][["year", "area_code", "name", "income_sek", "listed", "per_listed_sek", "per_inhabitant_sek"]]
    out = standardise(a.need_cells.to_pandas()).merge(raw, on=["year", "area_code"], how="left")
    out["need_per_inhabitant_sek"] = out.need_per_inhabitant_ore.astype(float) / 100
    # the raw figure on the standardisation's own base: the pay split by person per resident
    out["paid_per_inhabitant_sek"] = out.paid_ore / 100 / out.residents.where(out.residents > 0)
    return out[cols].sort_values(["year", "area_code"]).reset_index(drop=True)


def concentration_index_within(y, w, rank, var_within, n: float) -> tuple[float, float, float]:
    """(C, se_areas, se_persons): the concentration index of `y` over groups ranked by `rank`,
    weighted by `w` (as `measures.concentration_index`, whose standard error over n = groups is
    `se_areas`), and its standard error from Kakwani, Wagstaff & van Doorslaer (1997, eq. 14) with
    the within-group term, n = persons:
    var = (1/n)[Σ fₜaₜ² − (1 + C)²] + (1/(nμ²)) Σ fₜσₜ²(2Rₜ − 1 − C)², σₜ² the variance of y
    between the persons of group t."""
    y, w, rank, v = (np.asarray(x, dtype=float) for x in (y, w, rank, var_within))
    keep = np.isfinite(y) & np.isfinite(w) & np.isfinite(rank) & (w > 0)
    y, w, rank, v = y[keep], w[keep], rank[keep], np.nan_to_num(v[keep])
    order = np.argsort(rank, kind="stable")
    y, v, f = y[order], v[order], w[order] / w[order].sum()
    mu = float((f * y).sum())
    if len(y) < 2 or mu == 0:
        return math.nan, math.nan, math.nan
    R = np.cumsum(f) - f / 2
    C = float(2.0 / mu * (f * y * R).sum() - 1.0)
    q = np.cumsum(f * y) / mu
    a_t = (y / mu) * (2 * R - 1 - C) + 2 - np.r_[0.0, q[:-1]] - q
    between = (f * a_t ** 2).sum() - (1 + C) ** 2
    within = (f * v * (2 * R - 1 - C) ** 2).sum() / mu ** 2
    return C, math.sqrt(max(between / len(y), 0.0)), math.sqrt(max((between + within) / n, 0.0))


def need_concentration(a, t: pd.DataFrame) -> pd.DataFrame:
    """need_concentration.csv: per year, the concentration index over areas ranked by mean income
    of raw pay per inhabitant (the pay split by person) and of need-standardised pay per
    inhabitant, each with `std_error_areas` (between areas, n = areas) and `std_error_persons`
    (with the within-area term, n = residents). `t`: `need_table`'s result."""
    cols = ["year", "measure", "index", "std_error_areas", "std_error_persons", "areas", "residents"]
    if not len(t) or a.need_within is None:
        return pd.DataFrame(columns=cols)
    wv = a.need_within.to_pandas()
    t = t.merge(wv, on=["year", "area_code"], how="left")
    t = t[t.income_sek.notna() & (t.residents > 0)]
    rows = []
    for year, p in t.groupby("year"):
        py = p.person_months / p.months  # person-years
        y_raw = p.pay_sek / py
        var_raw = (p.pay2_sek / py - y_raw ** 2).clip(lower=0)
        # need-standardised: each resident's pay × region mean / the area's expected mean
        expected_mean = p.expected_ore / 100 / p.residents
        y_need = p.need_per_inhabitant_ore.astype(float) / 100
        region_mean = (p.paid_ore.sum() / 100) / p.residents.sum()
        var_need = var_raw * (region_mean / expected_mean.where(expected_mean > 0)) ** 2
        residents = float(py.sum())
        for measure, y, v in (("raw_per_inhabitant", y_raw, var_raw), ("need_per_inhabitant", y_need, var_need)):
            c, se_a, se_p = concentration_index_within(y, py, p.income_sek, v, residents)
            rows.append({"year": year, "measure": measure, "index": c, "std_error_areas": se_a, "std_error_persons": se_p,
                         "areas": int(len(p)), "residents": residents})
    return pd.DataFrame(rows, columns=cols)


#: The report section's texts (analysis.language has them in Swedish).
NEED_HEADING = "Need-standardised pay by area, {year} (age band, sex, ACG band)"
NEED_TEXT = ("Indirect standardisation: expected pay = Σ over the area's residents of the region's mean pay per person "
             "in their (age band, sex, ACG weight band) cell; ratio = paid / expected; need-standardised pay per inhabitant "
             "= ratio × the region's mean. Areas by mean income, poorest first.")
NEED_CONCENTRATION_HEADING = "Concentration index by area income rank: raw and need-standardised pay per inhabitant"


def report_section(tables: dict, _table, tag: str = "", _=lambda text, **v: text.format(**v)) -> list[str]:
    """report.html's section: need-standardised pay by area beside the raw figures (the last year)
    and the concentration index of both. `_table` draws a table the report's way (given by
    analysis.report, which imports this module)."""
    need, conc = tables.get("need"), tables.get("need_concentration")
    if need is None or not len(need):
        return []
    last = need.year.max()
    n = need[need.year == last].sort_values("income_sek")
    parts = [f"<h2>{tag}{_(NEED_HEADING, year=last)}</h2>", f"<p>{_(NEED_TEXT)}</p>"]
    parts.append(_table(n[["name", "income_sek", "residents", "per_listed_sek", "per_inhabitant_sek", "paid_per_inhabitant_sek", "ratio",
                           "need_per_inhabitant_sek"]].rename(columns={"ratio": "ratio (paid / expected)"}), digits=2))
    if conc is not None and len(conc):
        parts.append(f"<h3>{tag}{_(NEED_CONCENTRATION_HEADING)}</h3>")
        parts.append(_table(conc.assign(year=conc.year.astype(str)), digits=4))
    return parts
