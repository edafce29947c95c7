"""One month's statement lines split over the areas where the persons behind them live.

Capitation lines are split by what their amount counts — the persons the paying expression
counted (`capitation.capitation_units`), each with what they add — by area of residence;
visit lines by the patients' area of residence on the contact date (and whether they were
listed); any other line of a clinic (goal-based pay, adjustments) by its listed persons.
A line with nothing to split it by goes to the clinic's own area. Whole tables in DuckDB.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.period import first_day, last_day
from ersattning.products.capitation import (
    PER_LISTED, at_month_ends, capitation_components, capitation_units, consecutive_runs, listed_units, paid_components,
    resident_on, spells)
from ersattning.products.facts import contact_facts
from ersattning.products.visits import BILLED_TO_LISTING_CLINIC, product_code, visit_components
from ersattning.region import county_resident
from ersattning.rulebook.loader import Rulebook
from ersattning.statements.memo import PassMemo

WEIGHT_SCHEMA = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("basis", pa.string()), ("area_code", pa.string()),
                           ("listed", pa.bool_()), ("w", pa.float64())])
VISITS_SCHEMA = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("patient_area", pa.string()), ("n", pa.int64())])
ALLOCATED_SCHEMA = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("component", pa.string()), ("product_code", pa.string()),
                              ("area_code", pa.string()), ("listed", pa.bool_()), ("amount_ore", pa.int64())])
#: Base visits (production and consumption of visits, seed 003 Figure 11).
BASE_VISITS = ("visit_fee", "visit_out_of_county")


def capitation_weights(engine: Engine, book: Rulebook, months: list[str], by_person: bool = False,
                       listed_areas: pa.Table | None = None, memo: PassMemo | None = None) -> tuple[pa.Table, pa.Table]:
    """(weights, population) of consecutive `months`: what each capitation line counts per month,
    clinic and area of residence, from the persons the line paid for (`capitation.capitation_units`,
    the rows `capitation_rows` sums; basis `cap:COMPONENT:PRODUCT`) and the listed persons per
    clinic and area (`persons`, for lines with nothing of their own to split by); residents and
    listed residents per month and area. All months' persons in one pass (`listed_units`).
    `by_person`: each weight's area_code is `AREA|PERSON_ID` (the need standardisation's split
    by person, `analysis.need`; never written out). `listed_areas`: the months' statements'
    own per-band sums by area (`statements.YearPass.listed_areas`), which the per-listed
    components' weights are read from instead of the persons being listed again; `memo`: with
    them, the enrolled persons' and residents' counts of another run (`statements.memo.PassMemo`)."""
    if listed_areas is not None and not by_person:
        return _weights_from_pass(engine, book, months, listed_areas, memo)
    # Computed once for every per-listed component, released when the weights are read.
    listed = listed_units(engine, book, months).cache()
    paid = {m: paid_components(book, m) for m in months}
    parts = []
    for component in capitation_components(book):
        paid_in = [m for m in months if component in paid[m]]
        if not paid_in:
            continue
        if component in PER_LISTED:
            rows = listed if len(paid_in) == len(months) else listed.filter(listed.month.isin(paid_in))
            units, _ = capitation_units(engine, book, paid_in[0], component, listed=rows)
            parts.append(_weigh(units, _basis(component, units), by_person))
        else:
            parts.extend(_enrolled_weights(engine, book, component, paid_in, by_person))
    everyone = listed.mutate(contribution=ibis.literal(1))
    parts.append(_weigh(everyone, ibis.literal("persons"), by_person))
    # Listed residents per area: the persons listed for capitation (resident in the county, as the residents below).
    on_list = listed.group_by("month", "area_code").aggregate(listed=listed.count())
    try:
        weights = ibis.union(*parts).to_pyarrow()
        listed_per_area = on_list.to_pyarrow()
    finally:
        listed.release()
    return weights.select(WEIGHT_SCHEMA.names).cast(WEIGHT_SCHEMA), population_at(engine, months, listed_per_area)


def _basis(component: str, units: ibis.Table) -> ibis.Value:
    """The weight basis of a capitation line's units: `cap:COMPONENT:PRODUCT` (`allocate` joins on it)."""
    return ibis.literal(f"cap:{component}:") + units.product_code


def _weigh(units: ibis.Table, basis: ibis.Value, by_person: bool = False) -> ibis.Table:
    """`units`' contributions summed per month, clinic, basis and area (`AREA|PERSON_ID` with `by_person`)."""
    area = units.area_code.concat("|", units.person_id) if by_person else units.area_code
    g = units.group_by(month=units.month, clinic_id=units.clinic_id, basis=basis, area_code=area).aggregate(
        w=units.contribution.sum())
    return g.select("month", "clinic_id", "basis", "area_code", listed=ibis.literal(True), w=g.w.cast("float64"))


def _enrolled_weights(engine: Engine, book: Rulebook, component: str, paid_in: list[str], by_person: bool = False) -> list[ibis.Table]:
    """The weights of a component paid for enrolled persons or children (not per listed person) in
    the months `paid_in`: its units by the area of their residence on the month's last day."""
    parts = []
    for run in consecutive_runs(paid_in):
        units, _ = capitation_units(engine, book, run, component)
        if "r_area" not in units.columns:
            units = resident_on(engine, units)
        units = units.mutate(area_code=units.r_area)
        parts.append(_weigh(units, _basis(component, units), by_person))
    return parts


def _weights_from_pass(engine: Engine, book: Rulebook, months: list[str], listed_areas: pa.Table,
                       memo: PassMemo | None = None) -> tuple[pa.Table, pa.Table]:
    """`capitation_weights` with the per-listed components' weights, the `persons` weights and the
    listed residents per area summed from the statements' per-band table cut by area (each person
    is in one (month, clinic, band, area) group, so these are the same sums as over the persons):
    only the enrolled persons and the children are counted here (given again by `memo` when the same)."""
    paid = {m: paid_components(book, m) for m in months}
    selects = []
    for component, decl in PER_LISTED.items():
        paid_in = [m for m in months if component in paid[m]]
        if not paid_in:
            continue
        code = "product_code" if decl.by_band else _sql_text(book.code(component))
        # What the persons add: one each (of those with the `only` flag: its per-band sum), else
        # the per-band sum of their contribution (a null sum: no person with a value, 0 each).
        w = decl.only or ("persons" if decl.contribution == "persons" else f"coalesce({decl.contribution}, 0)")
        in_months = ", ".join(_sql_text(m) for m in paid_in)
        selects.append(f"SELECT month, clinic_id, {_sql_text(f'cap:{component}:')} || {code} AS basis, area_code, "
                       f"sum({w}) AS w FROM _an_bands WHERE month IN ({in_months}) GROUP BY ALL"
                       + (f" HAVING sum({decl.only}) > 0" if decl.only else ""))
    selects.append("SELECT month, clinic_id, 'persons' AS basis, area_code, sum(persons) AS w FROM _an_bands GROUP BY ALL")
    con = engine.local_sql()
    con.register("_an_bands", listed_areas)
    try:
        union = " UNION ALL ".join(f"({q})" for q in selects)
        weights = con.sql(f"SELECT month, clinic_id, basis, area_code, true AS listed, CAST(w AS DOUBLE) AS w "
                          f"FROM ({union})").to_arrow_table()
        on_list = con.sql("SELECT month, area_code, CAST(sum(persons) AS BIGINT) AS listed FROM _an_bands GROUP BY ALL").to_arrow_table()
    finally:
        con.unregister("_an_bands")
    def compute(b: Rulebook) -> tuple[list[pa.Table], pa.Table]:
        enrolled = [g for c in capitation_components(b) if c not in PER_LISTED
                    for g in _enrolled_weights(engine, b, c, [m for m in months if c in paid[m]])]
        return [g.to_pyarrow().select(WEIGHT_SCHEMA.names).cast(WEIGHT_SCHEMA) for g in enrolled], residents_at(engine, months)

    # A scenario that pays the same components takes the base's (the inputs alone decide them).
    key = ("enrolled_and_residents", tuple(months), tuple((m, tuple(paid[m])) for m in months))
    enrolled, residents = compute(book) if memo is None else memo.call(key, engine, book, compute)
    parts = [weights.select(WEIGHT_SCHEMA.names).cast(WEIGHT_SCHEMA), *enrolled]
    return pa.concat_tables(parts), population_at(engine, months, on_list, residents)


def _sql_text(value: str) -> str:
    """A SQL string literal (rulebook codes and months: no quote in them, doubled if there were)."""
    return "'" + value.replace("'", "''") + "'"


def residents_at(engine: Engine, months: list[str]) -> pa.Table:
    """Residents of the county (who may earn capitation) per month-end and area: (month, area_code, residents)."""
    p = engine["persons"]
    p = spells(p.filter(county_resident(p)), last_day(months[0]), last_day(months[-1]))
    at = at_month_ends(p.select("area_code", "start", "end"), months)
    return at.group_by("month", "area_code").aggregate(residents=at.count()).to_pyarrow()


def population_at(engine: Engine, months: list[str], listed: pa.Table, residents: pa.Table | None = None) -> pa.Table:
    """Residents of the county (who may earn capitation) and those listed (`listed`: month,
    area_code, listed), per month-end and area: (month, area_code, residents, listed).
    `residents`: `residents_at` of the months, when computed already."""
    res = residents if residents is not None else residents_at(engine, months)
    j = res.join(listed, ["month", "area_code"], join_type="left outer")
    return pa.table({"month": j["month"], "area_code": j["area_code"], "residents": pc.cast(j["residents"], pa.float64()),
                     "listed": pc.cast(pc.fill_null(j["listed"], 0), pa.float64())})


def visit_weights(engine: Engine, book: Rulebook, months: list[str], by_person: bool = False) -> tuple[pa.Table, pa.Table]:
    """(weights, visits) of consecutive `months`: each visit product's contacts per month, payee,
    patient's area of residence and listed or not; and base visits per month, performing clinic and
    patient area. A pass per few months of contacts (`statements.months_per_pass`). `by_person`:
    the patient area is `AREA|PERSON_ID` (as `capitation_weights`)."""
    from ersattning.statements import months_per_pass

    weights, visits = [], []
    step = months_per_pass(engine) if len(months) > 1 else 1
    for i in range(0, len(months), step):
        w, v = _visit_weights(engine, book, months[i:i + step], by_person)
        weights.append(w)
        visits.append(v)
    return pa.concat_tables(weights), pa.concat_tables(visits)


def _visit_weights(engine: Engine, book: Rulebook, months: list[str], by_person: bool = False) -> tuple[pa.Table, pa.Table]:
    empty = (WEIGHT_SCHEMA.empty_table(), VISITS_SCHEMA.empty_table())
    start, end = first_day(months[0]), last_day(months[-1])
    contacts = engine.contacts(start, end)
    if contacts is None:
        return empty
    f = contact_facts(engine, book, contacts, start, end)
    codes = {}
    for component in visit_components(book):
        code = product_code(f, book[f"{component}.decision_table"], start, end)
        if code is not None:
            codes[component] = code
    if not codes:
        return empty
    month = f.date.strftime("%Y-%m") if len(months) > 1 else ibis.literal(months[0])
    area = f.patient_area.concat("|", f.person_id) if by_person else f.patient_area
    counted = f.group_by(month=month, clinic_id=f.clinic_id, listing_clinic=f.listing_clinic, patient_area=area,
                         **codes).aggregate(n=f.count()).to_pyarrow()
    return weights_from_counts(counted, list(codes))


def weights_from_counts(counted: pa.Table, codes: list[str]) -> tuple[pa.Table, pa.Table]:
    """(weights, visits) from contacts counted per (month, clinic_id, listing_clinic, patient_area)
    and each visit component's product (`codes`: those components' columns) — as the statements'
    visit pass counts them with `with_areas` (`visits.VisitPass.areas`), or `_visit_weights`."""
    codes = [c for c in codes if c in counted.column_names]
    if not codes:
        return WEIGHT_SCHEMA.empty_table(), VISITS_SCHEMA.empty_table()
    parts = []
    listed = pc.is_valid(counted["listing_clinic"])
    for component in codes:
        payee = counted["listing_clinic"] if component in BILLED_TO_LISTING_CLINIC else counted["clinic_id"]
        t = pa.table({
            "month": counted["month"],
            "clinic_id": payee,
            "basis": pc.binary_join_element_wise(f"visit:{component}", counted[component], ":"),
            "area_code": counted["patient_area"],
            "listed": listed,
            "w": pc.cast(counted["n"], pa.float64()),
        })
        parts.append(t.filter(pc.is_valid(counted[component])))
    keys = ["month", "clinic_id", "basis", "area_code", "listed"]
    weights = pa.concat_tables(parts).group_by(keys).aggregate([("w", "sum")])
    weights = weights.rename_columns([*keys, "w"]).select(WEIGHT_SCHEMA.names).cast(WEIGHT_SCHEMA)
    base = None
    for component in BASE_VISITS:
        if component in codes:
            m = pc.is_valid(counted[component])
            base = m if base is None else pc.or_(base, m)
    visits = counted.filter(base) if base is not None else counted.slice(0, 0)
    visits = visits.group_by(["month", "clinic_id", "patient_area"]).aggregate([("n", "sum")])
    visits = visits.rename_columns(["month", "clinic_id", "patient_area", "n"]).select(VISITS_SCHEMA.names).cast(VISITS_SCHEMA)
    return weights, visits


def allocate(engine: Engine, book: Rulebook, lines: pa.Table, weights: pa.Table) -> pa.Table:
    """Each line's amount split over its weights' (area, listed) rows in whole öre, the parts
    adding up to the line exactly (largest remainder); lines with no weight go whole to the
    clinic's own area."""
    # Each line is split by the rows of the expression that paid it (its component's producer).
    visit_list = ", ".join(f"'{c}'" for c in visit_components(book))
    capitation_list = ", ".join(f"'{c}'" for c in capitation_components(book))
    con = engine.local_sql()
    con.register("_an_lines", lines.select(["month", "clinic_id", "component", "product_code", "amount_ore"]))
    con.register("_an_weights", weights)
    # The clinics' own areas, collected (a few hundred rows): the query runs where the lines are.
    con.register("_an_clinics", engine["clinics"].select("clinic_id", "area_code").to_pyarrow())
    try:
        out = con.sql(f"""
            WITH l AS (
                SELECT month, clinic_id, component, product_code, sum(amount_ore) AS amount_ore,
                       CASE WHEN component IN ({capitation_list}) THEN 'cap:' || component || ':' || product_code
                            WHEN component IN ({visit_list}) THEN 'visit:' || component || ':' || product_code
                            ELSE 'persons' END AS basis
                FROM _an_lines GROUP BY ALL),
            -- Exact split in whole öre: weights as integer micro-units, each part floored, the
            -- öre left over given to the parts with the largest remainders (largest remainder).
            j AS (
                SELECT l.month, l.clinic_id, l.component, l.product_code, l.amount_ore, w.area_code, w.listed,
                       CAST(round(w.w * 1000000) AS HUGEINT) AS wi
                FROM l JOIN _an_weights w ON l.month = w.month AND l.clinic_id = w.clinic_id AND l.basis = w.basis),
            t AS (
                SELECT *, sum(wi) OVER (PARTITION BY month, clinic_id, component, product_code) AS total FROM j),
            p AS (
                SELECT *, (abs(amount_ore)::HUGEINT * wi) // total AS part, (abs(amount_ore)::HUGEINT * wi) % total AS rem
                FROM t WHERE total <> 0),
            q AS (
                SELECT *, abs(amount_ore) - sum(part) OVER (PARTITION BY month, clinic_id, component, product_code) AS left_over,
                       row_number() OVER (PARTITION BY month, clinic_id, component, product_code ORDER BY rem DESC, area_code, listed) AS rk
                FROM p)
            SELECT month, clinic_id, component, product_code, area_code, listed,
                   CAST(sign(amount_ore) * (part + CASE WHEN rk <= left_over THEN 1 ELSE 0 END) AS BIGINT) AS amount_ore
            FROM q
            UNION ALL
            SELECT l.month, l.clinic_id, l.component, l.product_code, c.area_code, true, l.amount_ore
            FROM l LEFT JOIN _an_clinics c ON l.clinic_id = c.clinic_id
            WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.month = l.month AND t.clinic_id = l.clinic_id AND t.component = l.component
                              AND t.product_code = l.product_code AND t.total <> 0)
        """).to_arrow_table()
    finally:
        con.unregister("_an_lines")
        con.unregister("_an_weights")
        con.unregister("_an_clinics")
    return out.cast(ALLOCATED_SCHEMA)


def attribution(engine: Engine, book: Rulebook, months: list[str], lines: pa.Table,
                areas: pa.Table | None = None, listed_areas: pa.Table | None = None,
                memo: PassMemo | None = None) -> dict[str, pa.Table]:
    """allocated lines, population by area, base visits and listed persons per clinic of consecutive
    `months` (each table with its `month`): `lines` are the months' statement lines; `areas`: their
    visit pass's contacts per patient area (`statements.year_pass(with_areas=True)`), else the
    contacts are counted here; `listed_areas`: that pass's listed persons per area
    (`YearPass.listed_areas`), else they are listed here."""
    cap, population = capitation_weights(engine, book, months, listed_areas=listed_areas, memo=memo)
    if areas is not None:
        vis, visits = weights_from_counts(areas, list(visit_components(book)))
    else:
        vis, visits = visit_weights(engine, book, months)
    allocated = allocate(engine, book, lines, pa.concat_tables([cap, vis]))
    persons = cap.filter(pc.equal(cap["basis"], "persons")).group_by(["month", "clinic_id"]).aggregate([("w", "sum")])
    clinic_listed = persons.rename_columns(["month", "clinic_id", "listed"])
    return {"allocated": allocated, "population": population, "visits": visits, "clinic_listed": clinic_listed}


def month_attribution(engine: Engine, book: Rulebook, month: str, lines: pa.Table) -> dict[str, pa.Table]:
    """`attribution` of one month, without the month column."""
    return {name: t.drop_columns(["month"]) for name, t in attribution(engine, book, [month], lines).items()}
