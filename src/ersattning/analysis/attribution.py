"""One month's statement lines split over the areas where the persons behind them live.

Capitation lines are split by what their amount counts — the persons the paying expression
counted (`capitation.capitation_units`), each with what they add — by area of residence;
visit lines by the patients' area of residence on the contact date (and whether they were
listed); any other line of a clinic (goal-based pay, adjustments) by its listed persons.
A line with nothing to split it by goes to the clinic's own area. Whole tables in DuckDB.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.period import first_day, last_day
from ersattning.products.capitation import capitation_components, capitation_units, listed_units, paid_components, residents
from ersattning.products.facts import contact_facts
from ersattning.products.visits import BILLED_TO_LISTING_CLINIC, product_code, visit_components
from ersattning.region import county_resident
from ersattning.rulebook.loader import Rulebook

WEIGHT_SCHEMA = pa.schema([("clinic_id", pa.string()), ("basis", pa.string()), ("area_code", pa.string()),
                           ("listed", pa.bool_()), ("w", pa.float64())])
ALLOCATED_SCHEMA = pa.schema([("clinic_id", pa.string()), ("component", pa.string()), ("product_code", pa.string()),
                              ("area_code", pa.string()), ("listed", pa.bool_()), ("amount_ore", pa.int64())])
#: Base visits (production and consumption of visits, seed 003 Figure 11).
BASE_VISITS = ("visit_fee", "visit_out_of_county")


def capitation_weights(engine: Engine, book: Rulebook, month: str) -> tuple[pa.Table, pa.Table]:
    """(weights, population): what each capitation line counts per clinic and area of residence,
    from the persons the line paid for (`capitation.capitation_units`, the rows `capitation_rows`
    sums; basis `cap:COMPONENT:PRODUCT`) and the listed persons per clinic and area (`persons`,
    for lines with nothing of their own to split by); residents and listed residents per area."""
    d = last_day(month)
    r = residents(engine, d)
    res = r.select(r_pid=r.person_id, area_code=r.area_code)
    # Computed once for every per-listed component, released when the weights are read.
    listed = listed_units(engine, book, month).cache()
    parts = []

    def weigh(units: ibis.Table, basis) -> ibis.Table:
        j = units.join(res, units.person_id == res.r_pid)
        g = j.group_by(clinic_id=j.clinic_id, basis=basis(j), area_code=j.area_code).aggregate(w=j.contribution.sum())
        return g.select("clinic_id", "basis", "area_code", listed=ibis.literal(True), w=g.w.cast("float64"))

    for component in paid_components(book, month):
        units, _ = capitation_units(engine, book, month, component, listed=listed)
        parts.append(weigh(units, lambda j, c=component: ibis.literal(f"cap:{c}:") + j.product_code))
    everyone = listed.mutate(contribution=ibis.literal(1))
    parts.append(weigh(everyone, lambda j: ibis.literal("persons")))
    try:
        weights = ibis.union(*parts).to_pyarrow()
    finally:
        listed.release()
    return weights.select(WEIGHT_SCHEMA.names).cast(WEIGHT_SCHEMA), population_on(engine, d)


def population_on(engine: Engine, d: dt.date) -> pa.Table:
    """Residents of the county (who may earn capitation) and those listed, per area, on `d`."""
    res = residents(engine, d)
    li = engine["listings"]
    on = li.filter(li.valid_from.isnull() | (li.valid_from <= d), li.valid_to.isnull() | (li.valid_to >= d))
    on = on.select(l_pid=on.person_id).distinct()
    j = res.left_join(on, res.person_id == on.l_pid)
    g = j.group_by(area_code=j.area_code).aggregate(residents=j.count(), listed=j.l_pid.count())
    out = g.to_pyarrow()
    return pa.table({"area_code": out["area_code"], "residents": pc.cast(out["residents"], pa.float64()),
                     "listed": pc.cast(out["listed"], pa.float64())})


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
    # Each line is split by the rows of the expression that paid it (its component's producer).
    visit_list = ", ".join(f"'{c}'" for c in visit_components(book))
    capitation_list = ", ".join(f"'{c}'" for c in capitation_components(book))
    con = engine.con.con
    con.register("_an_lines", lines.select(["clinic_id", "component", "product_code", "amount_ore"]))
    con.register("_an_weights", weights)
    try:
        out = con.sql(f"""
            WITH l AS (
                SELECT clinic_id, component, product_code, sum(amount_ore) AS amount_ore,
                       CASE WHEN component IN ({capitation_list}) THEN 'cap:' || component || ':' || product_code
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


