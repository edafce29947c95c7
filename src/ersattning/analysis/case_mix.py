"""An open case-mix index, a reform option for the ACG component: the Charlson comorbidity groups
(Swedish ICD-10 adaptation, src/ersattning/data/charlson_se.csv) found in the register's own
diagnoses, rescaled to a region mean of 1.0. Not ACG: `analyze --case-mix open` pays on it instead.

For each month M paid and person: a group is present when one of its codes is on a contact dated in
the 18 calendar months before M (36 for a group marked chronic), M itself not included; the
hierarchy (`supersedes`, `or_all_of`) applied; score = the sum of the present groups' weights;
raw = 1 + score (so that a person without a recorded condition still counts, as an ACG weight
does); index = raw / (the mean raw over the county's residents on M's last day), rounded to the
six decimals of the risk table. Whole tables in DuckDB.
"""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pandas as pd
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.period import last_day
from ersattning.region import county_resident_sql

#: The look-back windows in calendar months (before the month paid).
WINDOW_MONTHS = {"no": 18, "yes": 36}
#: What `--case-mix` accepts: the rulebook's ACG weights (the base) or this open index.
CASE_MIX = ("acg", "open")
#: The label the outputs carry: the index is not the proprietary ACG weight.
LABEL = "open case-mix index (Charlson, Swedish ICD-10 adaptation, Ludvigsson et al. 2021; not ACG)"


def charlson_groups() -> list[dict]:
    """The groups of src/ersattning/data/charlson_se.csv (comment lines skipped), each with its
    weight (int), window (months) and ICD-10 prefixes."""
    path = resources.files("ersattning") / "data" / "charlson_se.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return [{"group": r["group"], "label": r["label"], "weight": int(r["weight"]), "window": WINDOW_MONTHS[r["chronic"]],
             "supersedes": r["supersedes"] or None, "or_all_of": r["or_all_of"].split(), "icd10": r["icd10"].split()}
            for r in rows]


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_text(n: int) -> str:
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def _register(con, groups: list[dict], months: list[str], contacts: pa.Table) -> None:
    con.register("_cm_groups", pa.table({
        "grp": [g["group"] for g in groups], "weight": pa.array([g["weight"] for g in groups], pa.int64()),
        "window": pa.array([g["window"] for g in groups], pa.int64()), "supersedes": [g["supersedes"] for g in groups]}))
    con.register("_cm_prefixes", pa.table({
        "grp": [g["group"] for g in groups for _ in g["icd10"]], "prefix": [p for g in groups for p in g["icd10"]]}))
    con.register("_cm_all_of", pa.table({
        "grp": pa.array([g["group"] for g in groups for _ in g["or_all_of"]], pa.string()),
        "needed": pa.array([n for g in groups for n in g["or_all_of"]], pa.string())}))
    nums = [_month_number(m) for m in months]
    con.register("_cm_months", pa.table({
        "m": pa.array(nums, pa.int64()), "month": months,
        "month_end": pa.array([last_day(m) for m in months], pa.date32())}))
    con.register("_cm_contacts", contacts)


_UNREGISTER = ("_cm_groups", "_cm_prefixes", "_cm_all_of", "_cm_months", "_cm_contacts")

#: Per person and month paid: the groups present after the hierarchy (`kept`).
_PRESENT = f"""
    WITH codes AS (
        SELECT DISTINCT person_id, year(date) * 12 + month(date) - 1 AS dm,
               upper(replace(trim(code), '.', '')) AS code
        FROM (SELECT person_id, date, unnest(string_split(diagnoses, ';')) AS code FROM _cm_contacts
              WHERE diagnoses IS NOT NULL)),
    hits AS (
        SELECT DISTINCT c.person_id, p.grp, c.dm FROM codes c JOIN _cm_prefixes p ON starts_with(c.code, p.prefix)),
    -- a diagnosis month makes its group present in the months after it, within the group's window
    found AS (
        SELECT DISTINCT h.person_id, h.grp, m.m FROM hits h JOIN _cm_groups g USING (grp)
        JOIN _cm_months m ON m.m > h.dm AND m.m <= h.dm + g.window),
    derived AS (
        SELECT f.person_id, a.grp, f.m FROM found f JOIN _cm_all_of a ON f.grp = a.needed
        GROUP BY f.person_id, a.grp, f.m
        HAVING count(DISTINCT a.needed) = (SELECT count(*) FROM _cm_all_of b WHERE b.grp = a.grp)),
    present AS (SELECT * FROM found UNION SELECT * FROM derived),
    kept AS (
        SELECT p.* FROM present p WHERE NOT EXISTS (
            SELECT 1 FROM present q JOIN _cm_groups g ON q.grp = g.grp
            WHERE q.person_id = p.person_id AND q.m = p.m AND g.supersedes = p.grp)),
    score AS (
        SELECT k.person_id, k.m, sum(g.weight) AS score FROM kept k JOIN _cm_groups g USING (grp) GROUP BY ALL),
    residents AS (
        SELECT DISTINCT p.person_id, m.m FROM persons p JOIN _cm_months m
          ON (p.valid_from IS NULL OR p.valid_from <= m.month_end) AND (p.valid_to IS NULL OR p.valid_to >= m.month_end)
        WHERE {county_resident_sql('p')}),
    mean_raw AS (
        SELECT r.m, count(*) AS residents, 1 + coalesce(sum(s.score), 0) / count(*) AS mean_raw
        FROM residents r LEFT JOIN score s ON s.person_id = r.person_id AND s.m = r.m GROUP BY r.m)
"""


def _contacts(engine: Engine, first: dt.date, last: dt.date) -> pa.Table:
    c = engine.contacts(first, last)
    if c is None:
        return pa.table({"person_id": pa.array([], pa.string()), "date": pa.array([], pa.date32()),
                         "diagnoses": pa.array([], pa.string())})
    c = c.filter(c.date >= first, c.date <= last, c.diagnoses.notnull())
    return c.select("person_id", "date", "diagnoses").to_pyarrow()


def _months_of(years: list[int]) -> list[str]:
    return [f"{y:04d}-{m:02d}" for y in sorted(set(years)) for m in range(1, 13)]


def _registered(engine: Engine, years: list[int]):
    """The raw connection with the groups, the months of `years` and the contacts of their
    look-back windows registered for `_PRESENT` (unregister `_UNREGISTER` after)."""
    months = _months_of(years)
    groups = charlson_groups()
    first = _month_number(months[0]) - max(g["window"] for g in groups)
    contacts = _contacts(engine, dt.date(first // 12, first % 12 + 1, 1), dt.date(max(years), 12, 31))
    con = engine.con.con
    _register(con, groups, months, contacts)
    return con


def open_risk(engine: Engine, years: list[int]) -> pa.Table:
    """The risk table with `acg_weight` replaced by the open index: one row per person (of
    `persons`) and month of `years`, the CNI in force that month kept as it was (the latest risk
    row at or before the month; null before a person's first row)."""
    con = _registered(engine, years)
    # without a risk table there is no CNI to keep
    risk = "risk" if "risk" in engine.table_names() else \
        "(SELECT NULL::VARCHAR AS person_id, NULL::VARCHAR AS month, NULL::DECIMAL(18, 6) AS cni WHERE false)"
    try:
        return con.sql(_PRESENT + f"""
            , everyone AS (SELECT DISTINCT person_id FROM persons),
            grid AS (SELECT e.person_id, m.m, m.month FROM everyone e CROSS JOIN _cm_months m)
            SELECT g.person_id, g.month,
                   CAST(round((1 + coalesce(s.score, 0)) / mr.mean_raw, 6) AS DECIMAL(18, 6)) AS acg_weight, r.cni
            FROM grid g JOIN mean_raw mr ON mr.m = g.m
            LEFT JOIN score s ON s.person_id = g.person_id AND s.m = g.m
            ASOF LEFT JOIN {risk} r ON r.person_id = g.person_id AND g.month >= r.month
            ORDER BY g.person_id, g.month
        """).to_arrow_table()
    finally:
        for name in _UNREGISTER:
            con.unregister(name)


def case_mix_table(engine: Engine, years: list[int]) -> pd.DataFrame:
    """case_mix.csv: per year and Charlson group, its weight and window, the county's residents
    with it (mean of the month-ends) and their share, and the year's mean raw score (1 + weights,
    mean of the month-ends) the index divides by."""
    con = _registered(engine, years)
    try:
        by_group = con.sql(_PRESENT + """
            , held AS (SELECT k.* FROM kept k JOIN residents r USING (person_id, m))
            SELECT CAST(m.m // 12 AS INTEGER) AS year, g.grp AS "group", g.weight, g.window AS window_months,
                   count(h.person_id) / 12.0 AS residents_with
            FROM _cm_groups g CROSS JOIN _cm_months m LEFT JOIN held h ON h.grp = g.grp AND h.m = m.m
            GROUP BY ALL ORDER BY year, "group"
        """).df()
        means = con.sql(_PRESENT + """
            SELECT CAST(m // 12 AS INTEGER) AS year, avg(residents) AS residents, avg(mean_raw) AS mean_raw
            FROM mean_raw GROUP BY ALL ORDER BY year
        """).df()
    finally:
        for name in _UNREGISTER:
            con.unregister(name)
    labels = {g["group"]: g["label"] for g in charlson_groups()}
    out = by_group.merge(means, on="year", how="left")
    out["label"] = out["group"].map(labels)
    out["share_pct"] = 100.0 * out.residents_with / out.residents.where(out.residents > 0)
    return out[["year", "group", "label", "weight", "window_months", "residents_with", "share_pct", "mean_raw"]]


#: The report section's texts (analysis.language has them in Swedish).
SECTION_HEADING = "Scenario: the ACG component paid on an {label}"
SECTION_TEXT = ("Charlson groups found in the register's diagnoses in the 18 months before each month paid (36 for "
                "chronic conditions); index = (1 + the weights' sum) / its mean over the county's residents, so the region's "
                "mean is 1.0. The base pays on the ACG weights. Residents with each group, {year} (mean of month-ends):")


def report_section(table: pd.DataFrame, _table, _=lambda text, **v: text.format(**v)) -> list[str]:
    """report.html's section on the open index (with `--case-mix open`): the groups found, the last
    year. `_table` draws a table the report's way (given by analysis.report, which imports this)."""
    import html

    if not len(table):
        return []
    last = table.year.max()
    t = table[table.year == last]
    return [f"<h2>{html.escape(_(SECTION_HEADING, label=_(LABEL)))}</h2>", f"<p>{html.escape(_(SECTION_TEXT, year=last))}</p>",
            _table(t[["group", "label", "weight", "window_months", "residents_with", "share_pct", "mean_raw"]], digits=3)]
