"""One month's statement lines split over the areas where the persons behind them live.

Capitation lines are split by what their amount counts (persons in the age band, ACG or
CNI sums, enrolled persons …) among the clinic's listed persons by area of residence;
visit lines by the patients' area of residence on the contact date (and whether they were
listed); any other line of a clinic (goal-based pay, adjustments) by its listed persons.
A line with nothing to split it by goes to the clinic's own area. Whole tables in DuckDB.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.period import first_day, last_day
from ersattning.products.facts import contact_facts
from ersattning.products.visits import BILLED_TO_LISTING_CLINIC, product_code, visit_components
from ersattning.region import county_resident, county_resident_sql
from ersattning.rulebook.loader import Rulebook

WEIGHT_SCHEMA = pa.schema([("clinic_id", pa.string()), ("basis", pa.string()), ("area_code", pa.string()),
                           ("listed", pa.bool_()), ("w", pa.float64())])
ALLOCATED_SCHEMA = pa.schema([("clinic_id", pa.string()), ("component", pa.string()), ("product_code", pa.string()),
                              ("area_code", pa.string()), ("listed", pa.bool_()), ("amount_ore", pa.int64())])
#: Base visits (production and consumption of visits, seed 003 Figure 11).
BASE_VISITS = ("visit_fee", "visit_out_of_county")


def _covers(alias: str, d: dt.date) -> str:
    return f"({alias}.valid_from IS NULL OR {alias}.valid_from <= DATE '{d}') AND ({alias}.valid_to IS NULL OR {alias}.valid_to >= DATE '{d}')"


def _residents_sql(d: dt.date) -> str:
    """County residents on `d` who may earn capitation (as products.capitation.residents)."""
    return (f"SELECT person_id, birth_date, area_code FROM persons p WHERE {_covers('p', d)} "
            f"AND {county_resident_sql('p')}")


def capitation_weights(engine: Engine, book: Rulebook, month: str) -> tuple[pa.Table, pa.Table]:
    """(weights, population): what each capitation basis counts per clinic and area of
    residence on the month's last day; residents and listed residents per area."""
    d = last_day(month)
    rules = book.at(d)
    md = d.month * 100 + d.day
    bands = rules.value("capitation_age.amounts") or ()
    age = book.component("capitation_age")
    band_sql = "CASE " + " ".join(
        f"WHEN age >= {lo}" + (f" AND age <= {hi}" if hi is not None else "") + f" THEN '{age.band_code(lo, hi)}'"
        for lo, hi, _ in bands) + " ELSE '' END" if bands else "''"
    sick = rules.value("capitation_sick_leave_coordination.ages")
    sick_sql = (f"CASE WHEN age >= {sick[0]}" + (f" AND age <= {sick[1]}" if sick[1] is not None else "") + " THEN 1 ELSE 0 END") if sick else "0"
    con = engine.con.con
    weights = con.sql(f"""
        WITH res AS ({_residents_sql(d)}),
        lst AS (
            SELECT l.clinic_id, r.person_id, r.area_code,
                   {d.year} - year(r.birth_date) - CASE WHEN month(r.birth_date) * 100 + day(r.birth_date) > {md} THEN 1 ELSE 0 END AS age
            FROM listings l JOIN res r ON l.person_id = r.person_id WHERE {_covers('l', d)}),
        rk AS (
            SELECT person_id, arg_max(acg_weight, month) AS acg, arg_max(cni, month) AS cni
            FROM risk WHERE month <= '{month}' AND person_id IN (SELECT person_id FROM lst) GROUP BY person_id),
        j AS (SELECT lst.clinic_id, lst.area_code, {band_sql} AS band, {sick_sql} AS sick, rk.acg, rk.cni
              FROM lst LEFT JOIN rk ON lst.person_id = rk.person_id),
        g AS (SELECT clinic_id, area_code, band, count(*) AS persons, sum(acg) AS acg, sum(cni) AS cni, sum(sick) AS sick
              FROM j GROUP BY ALL)
        SELECT clinic_id, 'band:' || band AS basis, area_code, true AS listed, persons::DOUBLE AS w FROM g
        UNION ALL SELECT clinic_id, 'persons', area_code, true, sum(persons)::DOUBLE FROM g GROUP BY ALL
        UNION ALL SELECT clinic_id, 'acg', area_code, true, sum(coalesce(acg, 0))::DOUBLE FROM g GROUP BY ALL
        UNION ALL SELECT clinic_id, 'cni', area_code, true, sum(coalesce(cni, 0))::DOUBLE FROM g GROUP BY ALL
        UNION ALL SELECT clinic_id, 'sick', area_code, true, sum(sick)::DOUBLE FROM g GROUP BY ALL
        UNION ALL SELECT h.clinic_id, 'home_care', r.area_code, true, count(DISTINCT h.person_id)::DOUBLE
              FROM home_care h JOIN res r ON h.person_id = r.person_id WHERE {_covers('h', d)} GROUP BY ALL
    """).to_arrow_table()
    population = con.sql(f"""
        WITH res AS ({_residents_sql(d)}),
        l AS (SELECT DISTINCT person_id FROM listings l WHERE {_covers('l', d)})
        SELECT r.area_code, count(*)::DOUBLE AS residents, count(l.person_id)::DOUBLE AS listed
        FROM res r LEFT JOIN l ON r.person_id = l.person_id GROUP BY r.area_code
    """).to_arrow_table()
    return weights.cast(WEIGHT_SCHEMA), population


def visit_weights(engine: Engine, book: Rulebook, month: str) -> tuple[pa.Table, pa.Table]:
    """(weights, visits): each visit product's contacts per payee, patient's area of residence
    and listed or not; and base visits per performing clinic and patient area."""
    empty = (WEIGHT_SCHEMA.empty_table(),
             pa.table({"clinic_id": pa.array([], pa.string()), "patient_area": pa.array([], pa.string()), "n": pa.array([], pa.int64())}))
    start, end = first_day(month), last_day(month)
    contacts = engine.contacts(start, end)
    if contacts is None:
        return empty
    f = contact_facts(engine, book, contacts, start, end)
    p = engine["persons"]
    res = p.filter(county_resident(p)).select(
        pa_pid=p.person_id, pa_from=p.valid_from, pa_to=p.valid_to, patient_area=p.area_code)
    f = f.left_join(res, [f.person_id == res.pa_pid, res.pa_from.isnull() | (res.pa_from <= f.date),
                          res.pa_to.isnull() | (res.pa_to >= f.date)])
    codes = {}
    for component in visit_components(book):
        code = product_code(f, book[f"{component}.decision_table"], start, end)
        if code is not None:
            codes[component] = code
    if not codes:
        return empty
    counted = f.group_by(clinic_id=f.clinic_id, listing_clinic=f.listing_clinic, patient_area=f.patient_area, **codes).aggregate(
        n=f.count()).to_pyarrow()
    parts = []
    listed = pc.is_valid(counted["listing_clinic"])
    for component in codes:
        payee = counted["listing_clinic"] if component in BILLED_TO_LISTING_CLINIC else counted["clinic_id"]
        t = pa.table({
            "clinic_id": payee,
            "basis": pc.binary_join_element_wise(f"visit:{component}", counted[component], ":"),
            "area_code": counted["patient_area"],
            "listed": listed,
            "w": pc.cast(counted["n"], pa.float64()),
        })
        parts.append(t.filter(pc.is_valid(counted[component])))
    weights = pa.concat_tables(parts).group_by(["clinic_id", "basis", "area_code", "listed"]).aggregate([("w", "sum")])
    weights = weights.rename_columns(["clinic_id", "basis", "area_code", "listed", "w"]).cast(WEIGHT_SCHEMA)
    base = None
    for component in BASE_VISITS:
        if component in codes:
            m = pc.is_valid(counted[component])
            base = m if base is None else pc.or_(base, m)
    visits = counted.filter(base) if base is not None else counted.slice(0, 0)
    visits = visits.group_by(["clinic_id", "patient_area"]).aggregate([("n", "sum")]).rename_columns(["clinic_id", "patient_area", "n"])
    return weights, visits


def allocate(engine: Engine, book: Rulebook, lines: pa.Table, weights: pa.Table) -> pa.Table:
    """Each line's amount split over its weights' (area, listed) rows in whole öre, the parts
    adding up to the line exactly (largest remainder); lines with no weight go whole to the
    clinic's own area."""
    visit_list = ", ".join(f"'{c}'" for c in visit_components(book))
    con = engine.con.con
    con.register("_an_lines", lines.select(["clinic_id", "component", "product_code", "amount_ore"]))
    con.register("_an_weights", weights)
    try:
        out = con.sql(f"""
            WITH l AS (
                SELECT clinic_id, component, product_code, sum(amount_ore) AS amount_ore,
                       CASE WHEN component = 'capitation_age' THEN 'band:' || product_code
                            WHEN component = 'capitation_acg' THEN 'acg'
                            WHEN component = 'capitation_cni' THEN 'cni'
                            WHEN component = 'capitation_sick_leave_coordination' THEN 'sick'
                            WHEN component = 'capitation_home_care' THEN 'home_care'
                            WHEN component IN ({visit_list}) THEN 'visit:' || component || ':' || product_code
                            ELSE 'persons' END AS basis
                FROM _an_lines GROUP BY ALL),
            -- Exact split in whole öre: weights as integer micro-units, each part floored, the
            -- öre left over given to the parts with the largest remainders (largest remainder).
            j AS (
                SELECT l.clinic_id, l.component, l.product_code, l.amount_ore, w.area_code, w.listed,
                       CAST(round(w.w * 1000000) AS HUGEINT) AS wi
                FROM l JOIN _an_weights w ON l.clinic_id = w.clinic_id AND l.basis = w.basis),
            t AS (
                SELECT *, sum(wi) OVER (PARTITION BY clinic_id, component, product_code) AS total FROM j),
            p AS (
                SELECT *, (abs(amount_ore)::HUGEINT * wi) // total AS part, (abs(amount_ore)::HUGEINT * wi) % total AS rem
                FROM t WHERE total <> 0),
            q AS (
                SELECT *, abs(amount_ore) - sum(part) OVER (PARTITION BY clinic_id, component, product_code) AS left_over,
                       row_number() OVER (PARTITION BY clinic_id, component, product_code ORDER BY rem DESC, area_code, listed) AS rk
                FROM p)
            SELECT clinic_id, component, product_code, area_code, listed,
                   CAST(sign(amount_ore) * (part + CASE WHEN rk <= left_over THEN 1 ELSE 0 END) AS BIGINT) AS amount_ore
            FROM q
            UNION ALL
            SELECT l.clinic_id, l.component, l.product_code, c.area_code, true, l.amount_ore
            FROM l LEFT JOIN clinics c ON l.clinic_id = c.clinic_id
            WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.clinic_id = l.clinic_id AND t.component = l.component
                              AND t.product_code = l.product_code AND t.total <> 0)
        """).to_arrow_table()
    finally:
        con.unregister("_an_lines")
        con.unregister("_an_weights")
    return out.cast(ALLOCATED_SCHEMA)


def month_attribution(engine: Engine, book: Rulebook, month: str, lines: pa.Table) -> dict[str, pa.Table]:
    """allocated lines, population by area, base visits and listed persons per clinic of one month."""
    cap, population = capitation_weights(engine, book, month)
    vis, visits = visit_weights(engine, book, month)
    allocated = allocate(engine, book, lines, pa.concat_tables([cap, vis]))
    persons = cap.filter(pc.equal(cap["basis"], "persons")).group_by("clinic_id").aggregate([("w", "sum")])
    clinic_listed = persons.rename_columns(["clinic_id", "listed"])
    return {"allocated": allocated, "population": population, "visits": visits, "clinic_listed": clinic_listed}


