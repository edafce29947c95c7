"""Pseudonymised microdata for an analyst's own models (`ersattning analyze --microdata`): the
year's statement lines split down to person-months and contacts, written as Parquet.

The statement lines are not priced again: each line is split over the units its paying
expression counted — the persons behind a capitation line (`capitation.capitation_units`), the
contacts behind a visit line, the clinic's listed persons for any other line — in whole öre
(largest remainder), as `attribution.allocate` splits them over areas, so the parts add up to
the lines exactly. Persons appear only as `pseudonym` (HMAC-SHA256 of the person id, the same
function as the trace's, `trace.pseudonym`), computed in DuckDB over whole tables.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ersattning.engine import Engine
from ersattning.period import first_day, last_day
from ersattning.products.capitation import (
    PER_LISTED, capitation_components, capitation_units, consecutive_runs, listed_units, paid_components)
from ersattning.products.facts import contact_facts
from ersattning.products.visits import BILLED_TO_LISTING_CLINIC, product_code, visit_components
from ersattning.rulebook.loader import Rulebook
from ersattning.trace import PSEUDONYM_LETTERS

#: Base visits (as the analysis counts them, `attribution.BASE_VISITS`): counted by contact type.
BASE_VISITS = ("visit_fee", "visit_out_of_county")
#: Age bands of five years (the last open), as official statistics give them: fewer persons
#: can be singled out than by year of age.
AGE_BAND_WIDTH, AGE_BAND_TOP = 5, 85

_UNITS = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("basis", pa.string()), ("person_id", pa.string()),
                    ("contact", pa.int64()), ("w", pa.float64())])


def read_key(path: Path) -> bytes:
    """The pseudonym key kept in `path` (hex), created with a new random secret when missing.
    The same key gives the same pseudonyms run after run; the key is never a person number."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        path.chmod(0o600)
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < 16:
        raise ValueError(f"the pseudonym key in {path} is shorter than 16 bytes")
    return key


def pseudonym_sql(key: bytes, column: str) -> str:
    """A DuckDB expression computing `trace.pseudonym(key, column)` (HMAC-SHA256, "p" + 16
    consonants) for a whole column at once: HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))."""
    k = hashlib.sha256(key).digest() if len(key) > 64 else key
    k = k.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in k).hex()
    outer = bytes(b ^ 0x5C for b in k).hex()
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE 'p' || translate(left(sha256(unhex('{outer}') || "
            f"unhex(sha256(unhex('{inner}') || encode({column})))), 16), '0123456789abcdef', "
            f"'{PSEUDONYM_LETTERS}') END")


def _contacts(engine: Engine, book: Rulebook, months: list[str]) -> pa.Table | None:
    """The months' contacts with each visit component's product (one row per contact and component
    with a product): month, clinic paid, basis, person_id, contact (row number), and the contact's
    date, clinic, contact type and profession."""
    start, end = first_day(months[0]), last_day(months[-1])
    contacts = engine.contacts(start, end)
    if contacts is None:
        return None
    f = contact_facts(engine, book, contacts, start, end)
    # numbered in a fixed order: the same contact has the same number in every component's rows
    f = f.mutate(contact=ibis.row_number().over(order_by=[f.kombika, f.contact_id, f.date, f.person_id]))
    parts = []
    for component in visit_components(book):
        code = product_code(f, book[f"{component}.decision_table"], start, end)
        if code is None:
            continue
        payee = f.listing_clinic if component in BILLED_TO_LISTING_CLINIC else f.clinic_id
        g = f.mutate(_code=code)
        g = g.filter(g._code.notnull())
        parts.append(g.select(month=g.date.strftime("%Y-%m"), paid_clinic_id=payee, component=ibis.literal(component),
                              product_code=g._code, person_id=g.person_id, contact=g.contact, date=g.date,
                              clinic_id=g.clinic_id, contact_type=g.contact_type, profession=g.profession))
    if not parts:
        return None
    return ibis.union(*parts).to_pyarrow()


def _capitation_units(engine: Engine, book: Rulebook, months: list[str], listed: ibis.Table) -> pa.Table:
    """Every capitation line's persons (basis `cap:COMPONENT:PRODUCT`, w = what each adds) and the
    listed persons (basis `persons`, w = 1) for lines with nothing of their own to split by."""
    paid = {m: paid_components(book, m) for m in months}
    parts = []

    def unit(u: ibis.Table, basis: ibis.Value, w: ibis.Value) -> ibis.Table:
        return u.select(month=u.month, clinic_id=u.clinic_id, basis=basis, person_id=u.person_id,
                        contact=ibis.null("int64"), w=w.cast("float64"))

    for component in capitation_components(book):
        paid_in = [m for m in months if component in paid[m]]
        for run in consecutive_runs(paid_in) if component not in PER_LISTED else ([paid_in] if paid_in else []):
            rows = listed if component in PER_LISTED and len(run) == len(months) else (
                listed.filter(listed.month.isin(run)) if component in PER_LISTED else None)
            units, _ = capitation_units(engine, book, run, component, listed=rows)
            parts.append(unit(units, ibis.literal(f"cap:{component}:") + units.product_code, units.contribution))
    parts.append(unit(listed, ibis.literal("persons"), ibis.literal(1)))
    return ibis.union(*parts).to_pyarrow().cast(_UNITS)


def year_tables(engine: Engine, book: Rulebook, year: int, months: list[str], lines: pa.Table,
                key: bytes) -> tuple[pa.Table, pa.Table]:
    """(person_months, contacts) of `months` of `year` from the months' statement lines `lines`
    (month, clinic_id, component, product_code, amount_ore), pseudonymised with `key`."""
    from ersattning.statements import months_per_pass

    listed = listed_units(engine, book, months).cache()
    try:
        cap = _capitation_units(engine, book, months, listed)
        attrs = listed.select("month", "person_id", listed_clinic=listed.clinic_id, acg_weight=listed.acg_weight,
                              cni=listed.cni).to_pyarrow()
    finally:
        listed.release()
    step = months_per_pass(engine) if len(months) > 1 else 1
    runs = [r[i:i + step] for r in consecutive_runs(months) for i in range(0, len(r), step)]
    found = [t for t in (_contacts(engine, book, run) for run in runs) if t is not None]
    # contacts numbered across the passes (each pass numbers its own from 0)
    offset, numbered = 0, []
    for t in found:
        numbered.append(t.set_column(t.schema.get_field_index("contact"), "contact", pc.add(t["contact"], offset)))
        offset += t.num_rows
    contacts = pa.concat_tables(numbered) if numbered else None
    persons = engine["persons"].select("person_id", "birth_date", "sex", "area_code", "valid_from", "valid_to").to_pyarrow()
    con = engine.con.con
    names = {"_md_lines": lines.select(["month", "clinic_id", "component", "product_code", "amount_ore"]), "_md_cap": cap,
             "_md_attrs": attrs, "_md_persons": persons}
    if contacts is not None:
        names["_md_contacts"] = contacts
    for name, t in names.items():
        con.register(name, t)
    visit_list = ", ".join(f"'{c}'" for c in visit_components(book)) or "''"
    cap_list = ", ".join(f"'{c}'" for c in capitation_components(book)) or "''"
    contact_units = ("SELECT month, paid_clinic_id AS clinic_id, 'visit:' || component || ':' || product_code AS basis, "
                     "person_id, contact, 1.0 AS w FROM _md_contacts") if contacts is not None else \
        "SELECT * FROM _md_cap WHERE false"
    pseudo = pseudonym_sql(key, "person_id")
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _md_parts AS
            WITH l AS (
                SELECT month, clinic_id, component, product_code, sum(amount_ore) AS amount_ore,
                       CASE WHEN component IN ({cap_list}) THEN 'cap:' || component || ':' || product_code
                            WHEN component IN ({visit_list}) THEN 'visit:' || component || ':' || product_code
                            ELSE 'persons' END AS basis
                FROM _md_lines GROUP BY ALL),
            u AS (SELECT * FROM _md_cap WHERE basis <> 'persons' UNION ALL {contact_units}),
            -- the split of attribution.allocate, down to persons and contacts: weights as integer
            -- micro-units, each part floored, the öre left given to the largest remainders
            uw AS (SELECT month, clinic_id, basis, person_id, contact, CAST(round(w * 1000000) AS HUGEINT) AS wi FROM u),
            tot AS (SELECT month, clinic_id, basis, sum(wi) AS total FROM uw GROUP BY ALL HAVING sum(wi) <> 0),
            p AS (SELECT l.month, l.clinic_id, l.component, l.product_code, l.amount_ore, uw.person_id, uw.contact,
                         (abs(l.amount_ore)::HUGEINT * uw.wi) // tot.total AS part, (abs(l.amount_ore)::HUGEINT * uw.wi) % tot.total AS rem
                  FROM l JOIN tot USING (month, clinic_id, basis) JOIN uw USING (month, clinic_id, basis)),
            q AS (SELECT *, abs(amount_ore) - sum(part) OVER (PARTITION BY month, clinic_id, component, product_code) AS left_over,
                         row_number() OVER (PARTITION BY month, clinic_id, component, product_code
                                            ORDER BY rem DESC, person_id, contact) AS rk
                  FROM p),
            -- a line split by the clinic's listed persons: all weigh the same, so each gets the
            -- amount // n and the first (amount % n) by person id one öre more — the largest
            -- remainder split with equal weights, without sorting each line's persons
            pr AS (SELECT month, clinic_id, person_id, row_number() OVER (PARTITION BY month, clinic_id ORDER BY person_id) AS rk,
                          count(*) OVER (PARTITION BY month, clinic_id) AS n
                   FROM _md_cap WHERE basis = 'persons')
            SELECT month, clinic_id, component, product_code, person_id, contact,
                   CAST(sign(amount_ore) * (part + CASE WHEN rk <= left_over THEN 1 ELSE 0 END) AS BIGINT) AS amount_ore
            FROM q
            UNION ALL
            SELECT l.month, l.clinic_id, l.component, l.product_code, pr.person_id, NULL,
                   CAST(sign(l.amount_ore) * (abs(l.amount_ore) // pr.n + CASE WHEN pr.rk <= abs(l.amount_ore) % pr.n THEN 1 ELSE 0 END)
                        AS BIGINT)
            FROM l JOIN pr ON l.month = pr.month AND l.clinic_id = pr.clinic_id WHERE l.basis = 'persons'
            UNION ALL
            -- a line with nobody behind it (e.g. a manual line of a clinic with no listed persons)
            SELECT l.month, l.clinic_id, l.component, l.product_code, NULL, NULL, l.amount_ore
            FROM l WHERE CASE WHEN l.basis = 'persons'
                              THEN NOT EXISTS (SELECT 1 FROM pr WHERE pr.month = l.month AND pr.clinic_id = l.clinic_id)
                              ELSE NOT EXISTS (SELECT 1 FROM tot WHERE tot.month = l.month AND tot.clinic_id = l.clinic_id
                                               AND tot.basis = l.basis) END
        """)
        person_months = _person_months(con, pseudo, year, months, contacts is not None)
        contact_rows = _contact_rows(con, pseudo) if contacts is not None else _EMPTY_CONTACTS.empty_table()
    finally:
        con.execute("DROP TABLE IF EXISTS _md_parts")
        for name in names:
            con.unregister(name)
    return person_months, contact_rows


_EMPTY_CONTACTS = pa.schema([("pseudonym", pa.string()), ("date", pa.date32()), ("clinic_id", pa.string()),
                             ("paid_clinic_id", pa.string()), ("contact_type", pa.string()), ("profession", pa.string()),
                             ("component", pa.string()), ("product_code", pa.string()), ("amount_ore", pa.int64())])


def _person_months(con, pseudo: str, year: int, months: list[str], with_contacts: bool) -> pa.Table:
    components = [r[0] for r in con.execute("SELECT DISTINCT component FROM _md_parts ORDER BY 1").fetchall()]
    types = [r[0] for r in con.execute(
        f"SELECT DISTINCT contact_type FROM _md_contacts WHERE component IN {BASE_VISITS} AND contact_type IS NOT NULL "
        "ORDER BY 1").fetchall()] if with_contacts else []
    amounts = ", ".join(f"CAST(coalesce(sum(amount_ore) FILTER (WHERE component = '{c}'), 0) AS BIGINT) AS \"{c}_ore\""
                        for c in components)
    counts = ", ".join(f"CAST(count(DISTINCT contact) FILTER (WHERE contact_type = '{t}') AS BIGINT) AS \"visits_{t}\""
                       for t in types)
    visits = (f"SELECT month, person_id, {counts} FROM _md_contacts WHERE component IN {BASE_VISITS} GROUP BY ALL"
              if types else "SELECT NULL::VARCHAR AS month, NULL::VARCHAR AS person_id WHERE false")
    month_ends = ", ".join(f"('{m}', DATE '{last_day(m).isoformat()}')" for m in months)
    top = AGE_BAND_TOP
    width = AGE_BAND_WIDTH
    # The age band on the month's last day; the area of residence then; sex from the persons table.
    band = (f"CASE WHEN age IS NULL THEN NULL WHEN age >= {top} THEN '{top}+' ELSE "
            f"CAST(age // {width} * {width} AS VARCHAR) || '-' || CAST(age // {width} * {width} + {width - 1} AS VARCHAR) END")
    vcols = "".join(f", coalesce(v.\"visits_{t}\", 0) AS \"visits_{t}\"" for t in types)
    acols = "".join(f", a.\"{c}_ore\"" for c in components)
    pm_amounts = "".join(f", coalesce(a.\"{c}_ore\", 0) AS \"{c}_ore\"" for c in components)
    sql = f"""
        WITH a AS (SELECT month, person_id, min(clinic_id) FILTER (WHERE person_id IS NULL) AS paid_clinic{',' if amounts else ''} {amounts}
                   FROM _md_parts GROUP BY month, person_id, CASE WHEN person_id IS NULL THEN clinic_id END),
             v AS ({visits}),
             e(month, d) AS (VALUES {month_ends}),
             k AS (SELECT DISTINCT month, person_id FROM _md_attrs UNION SELECT DISTINCT month, person_id FROM _md_parts
                   WHERE person_id IS NOT NULL),
             pm AS (
                SELECT k.month, k.person_id, e.d, p.sex, p.area_code,
                       date_diff('year', p.birth_date, e.d) - CASE WHEN strftime(e.d, '%m%d') < strftime(p.birth_date, '%m%d')
                                                                    THEN 1 ELSE 0 END AS age
                FROM k JOIN e USING (month)
                LEFT JOIN _md_persons p ON p.person_id = k.person_id AND (p.valid_from IS NULL OR p.valid_from <= e.d)
                                   AND (p.valid_to IS NULL OR p.valid_to >= e.d)
                -- one row per person-month whatever the register holds (amounts are joined to it)
                QUALIFY row_number() OVER (PARTITION BY k.month, k.person_id ORDER BY p.valid_from DESC NULLS LAST) = 1),
             s AS (SELECT month, person_id, min(listed_clinic) AS listed_clinic, min(acg_weight) AS acg_weight, min(cni) AS cni
                   FROM _md_attrs GROUP BY month, person_id)
        SELECT {pseudo.replace("person_id", "pm.person_id")} AS pseudonym, CAST({year} AS INTEGER) AS year, CAST(right(pm.month, 2) AS INTEGER) AS month,
               {band} AS age_band, pm.sex, pm.area_code, s.listed_clinic, CAST(s.acg_weight AS DOUBLE) AS acg_weight,
               CAST(s.cni AS DOUBLE) AS cni {pm_amounts} {vcols}
        FROM pm
        LEFT JOIN s ON s.month = pm.month AND s.person_id = pm.person_id
        LEFT JOIN a ON a.month = pm.month AND a.person_id = pm.person_id
        LEFT JOIN v ON v.month = pm.month AND v.person_id = pm.person_id
        UNION ALL
        SELECT NULL, CAST({year} AS INTEGER), CAST(right(a.month, 2) AS INTEGER), NULL, NULL, NULL, a.paid_clinic, NULL, NULL
               {acols} {''.join(', 0' for _ in types)}
        FROM a WHERE a.person_id IS NULL
        ORDER BY 1, 3
    """
    return con.sql(sql).to_arrow_table()


def _contact_rows(con, pseudo: str) -> pa.Table:
    """One row per contact and visit component paid for it."""
    t = con.sql(f"""
        SELECT {pseudo.replace('person_id', 'c.person_id')} AS pseudonym, c.date, c.clinic_id, c.paid_clinic_id, c.contact_type,
               c.profession, c.component, c.product_code, CAST(sum(x.amount_ore) AS BIGINT) AS amount_ore
        FROM _md_contacts c JOIN _md_parts x ON x.contact = c.contact AND x.component = c.component
        GROUP BY ALL ORDER BY c.date, pseudonym, c.component
    """).to_arrow_table()
    return t.cast(_EMPTY_CONTACTS)


def write_year(folder: Path, year: int, person_months: pa.Table, contacts: pa.Table) -> list[Path]:
    """`person_month_YEAR.parquet` and `contacts_YEAR.parquet` in `folder` (one file each per year:
    the components paid differ from year to year, so do the columns)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"person_month_{year}.parquet", folder / f"contacts_{year}.parquet"]
    pq.write_table(person_months, paths[0])
    pq.write_table(contacts, paths[1])
    return paths

