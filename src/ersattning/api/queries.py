"""What the API and the web app read from the database: statements, lines, errors to fix,
region totals, the capitation breakdown, the ACG follow-up, a month against earlier ones and the
money waiting for fixes (whole-table SQL, filtered by clinic)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.money import sek_text
from ersattning.period import first_day, last_day
from ersattning.products.visits import HELD_CODES
from ersattning.register import CONTACT_ERROR_CODES
from ersattning.statements import COMPONENT_GROUP

#: ACG weight bands for the follow-up (a display choice, not a model value): [lower, upper).
ACG_BANDS = ((Decimal("0"), Decimal("0.5")), (Decimal("0.5"), Decimal("1")), (Decimal("1"), Decimal("2")),
             (Decimal("2"), Decimal("5")), (Decimal("5"), None))

BATCHES_DDL = "CREATE TABLE IF NOT EXISTS api_batches (batch_id BIGINT, token_id VARCHAR, clinic_id VARCHAR)"


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def rows(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [{n: _plain(v) for n, v in zip(names, r)} for r in cur.fetchall()]


def has_table(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()[0][0])


def months(con) -> list[dict]:
    if not has_table(con, "months"):
        return []
    return rows(con, "SELECT month, status, computed_at, issued_at, issued_by, content_hash FROM months ORDER BY month DESC")


def month_status(con, month: str) -> str | None:
    if not has_table(con, "months"):
        return None
    found = con.execute("SELECT status FROM months WHERE month = ?", [month]).fetchall()
    return found[0][0] if found else None


def clinics(con, clinic_id: str | None = None) -> list[dict]:
    if not has_table(con, "clinics"):
        return []
    where, params = ("WHERE clinic_id = ?", [clinic_id]) if clinic_id else ("", [])
    return rows(con, f"SELECT clinic_id, name, group_id, area_code, opened, closed FROM clinics {where} ORDER BY clinic_id", params)


def clinic_exists(con, clinic_id: str) -> bool:
    return bool(clinics(con, clinic_id))


def _with_sek(items: list[dict], *cols: str) -> list[dict]:
    for item in items:
        for c in cols:
            if c in item:
                item[c.replace("_ore", "_sek")] = sek_text(item[c] or 0)
    return items


def statements(con, clinic_id: str | None = None, month: str | None = None) -> list[dict]:
    if not has_table(con, "statements"):
        return []
    cond, params = [], []
    if clinic_id:
        cond.append("s.clinic_id = ?"), params.append(clinic_id)
    if month:
        cond.append("s.month = ?"), params.append(month)
    where = ("WHERE " + " AND ".join(cond)) if cond else ""
    out = rows(con, f"""
        SELECT s.clinic_id, s.month, m.status, s.fixed_ore, s.variable_ore, s.goal_ore, s.adjustment_ore, s.total_ore
        FROM statements s LEFT JOIN months m USING (month) {where} ORDER BY s.month DESC, s.clinic_id""", params)
    return _with_sek(out, "fixed_ore", "variable_ore", "goal_ore", "adjustment_ore", "total_ore")


def lines(con, clinic_id: str | None, month: str) -> list[dict]:
    if not has_table(con, "statement_lines"):
        return []
    where, params = "WHERE month = ?", [month]
    if clinic_id:
        where, params = where + " AND clinic_id = ?", params + [clinic_id]
    out = rows(con, f"""
        SELECT line_id, clinic_id, month, component, product_code, quantity, basis, divisor, unit, unit_price_ore,
               amount_ore, rule, reference, illustrative, persons, snapshot
        FROM statement_lines {where} ORDER BY clinic_id, component, product_code, line_id""", params)
    for line in out:
        line["group"] = COMPONENT_GROUP.get(line["component"], "adjustment")
    return _with_sek(out, "unit_price_ore", "amount_ore")


def line_clinic(con, line_id: str) -> str | None:
    if not has_table(con, "statement_lines"):
        return None
    found = con.execute("SELECT clinic_id FROM statement_lines WHERE line_id = ?", [line_id]).fetchall()
    return found[0][0] if found else None


def by_component(con, clinic_id: str | None, month: str) -> list[dict]:
    """Amounts per component for one clinic (or the whole region), with their group."""
    if not has_table(con, "statement_lines"):
        return []
    where, params = "WHERE month = ?", [month]
    if clinic_id:
        where, params = where + " AND clinic_id = ?", params + [clinic_id]
    out = rows(con, f"""SELECT component, sum(amount_ore)::BIGINT AS amount_ore, count(*) AS lines
                        FROM statement_lines {where} GROUP BY component ORDER BY amount_ore DESC""", params)
    for item in out:
        item["group"] = COMPONENT_GROUP.get(item["component"], "adjustment")
    return _with_sek(out, "amount_ore")


def errors_to_fix(con, clinic_id: str | None = None, batch_id: int | None = None, limit: int = 1000) -> list[dict]:
    """Rejected rows (newest first) with what to do; `fixed` when a later version of the same
    contact was accepted. A clinic sees the errors on its own kombika and those of the batches it sent."""
    if not has_table(con, "contact_errors"):
        return []
    con.execute(BATCHES_DDL).fetchall()
    cond, params = [], []
    if clinic_id:
        cond.append("(k.clinic_id = ? OR e.batch_id IN (SELECT batch_id FROM api_batches WHERE clinic_id = ?))")
        params += [clinic_id, clinic_id]
    if batch_id is not None:
        cond.append("e.batch_id = ?"), params.append(batch_id)
    where = ("WHERE " + " AND ".join(cond)) if cond else ""
    out = rows(con, f"""
        WITH k AS (SELECT DISTINCT kombika, clinic_id FROM kombika)
        SELECT e.batch_id, e.received_at, e.source, e.line, e.kombika, e.contact_id, e.code, e.field, e.message,
               k.clinic_id,
               EXISTS (SELECT 1 FROM contact_events v WHERE v.kombika = e.kombika AND v.contact_id = e.contact_id
                       AND v.received_at > e.received_at) AS fixed
        FROM contact_errors e LEFT JOIN k ON k.kombika = e.kombika {where}
        ORDER BY e.batch_id DESC, e.line, e.code LIMIT {int(limit)}""", params)
    for item in out:
        item["kind"] = "rejected"
        item["what_to_do"] = CONTACT_ERROR_CODES.get(item["code"], "")
    if batch_id is None and len(out) < limit:
        out += held_to_fix(con, clinic_id, limit - len(out))
    return out


def held_to_fix(con, clinic_id: str | None = None, limit: int = 1000) -> list[dict]:
    """Accepted contacts the last computation of their month held unpriced (no residence on the
    date, ...), newest month first, with what to do in Swedish and English: only to the clinic
    owning the kombika (an administrator sees all). No person number."""
    if not has_table(con, "held_contacts"):
        return []
    where, params = ("WHERE clinic_id = ?", [clinic_id]) if clinic_id else ("", [])
    out = rows(con, f"""SELECT month, clinic_id, kombika, contact_id, code FROM held_contacts {where}
                        ORDER BY month DESC, kombika, contact_id LIMIT {int(limit)}""", params)
    for item in out:
        text = HELD_CODES.get(item["code"], {})
        item.update(kind="held", batch_id=None, received_at=None, source="held", line=None, field="person_id",
                    message=text.get("sv", ""), message_en=text.get("en", ""), what_to_do=text.get("en", ""), fixed=False)
    return out


def capitation_breakdown(con, clinic_id: str, month: str) -> dict:
    """The month's capitation lines of a clinic: persons, basis, price and amount per product."""
    items = [ln for ln in lines(con, clinic_id, month) if ln["component"].startswith("capitation_")]
    total = sum(ln["amount_ore"] for ln in items)
    return {"clinic_id": clinic_id, "month": month, "lines": items, "total_ore": total, "total_sek": sek_text(total)}


def acg_followup(core, clinic_id: str, month: str) -> dict:
    """The clinic's listed persons on the month's last day: mean ACG weight and the share in each
    ACG band, against the whole region's listed persons. The persons are those the month's ACG
    capitation counted (`capitation.listed_units` under the month's rulebook: resident in the
    county, not on a reservnummer, with the risk row in force), those with an ACG weight."""
    import ibis

    from ersattning.products.capitation import listed_units

    d = last_day(month)
    con = core.engine.con.con
    if not all(has_table(con, t) for t in ("listings", "persons", "risk")):
        return {"clinic_id": clinic_id, "month": month, "bands": [], "clinic_mean": None, "region_mean": None}
    core.engine.attach_stored()
    u = listed_units(core.engine, core.book_of_month(month), month)
    u = u.filter(u.acg_weight.notnull())
    band = ibis.cases(*[((u.acg_weight >= lo) if hi is None else ((u.acg_weight >= lo) & (u.acg_weight < hi)), i)
                        for i, (lo, hi) in enumerate(ACG_BANDS)])
    b = u.mutate(band=band, mine=(u.clinic_id == clinic_id).ifelse(1, 0))
    g = b.group_by("band").aggregate(
        clinic_n=b.mine.sum(), region_n=b.count(),
        clinic_sum=(b.mine * b.acg_weight).sum(), region_sum=b.acg_weight.sum())
    found = g.to_pyarrow().to_pylist()
    by_band = {r["band"]: r for r in found}
    clinic_n = sum(r["clinic_n"] for r in found)
    region_n = sum(r["region_n"] for r in found)
    clinic_sum = sum(Decimal(r["clinic_sum"] or 0) for r in found)
    region_sum = sum(Decimal(r["region_sum"] or 0) for r in found)
    bands = []
    for i, (lo, hi) in enumerate(ACG_BANDS):
        r = by_band.get(i, {"clinic_n": 0, "region_n": 0})
        bands.append({
            "band": f"{lo}–{hi}" if hi is not None else f"≥ {lo}", "lower": str(lo), "upper": None if hi is None else str(hi),
            "clinic_persons": r["clinic_n"], "region_persons": r["region_n"],
            "clinic_share": round(r["clinic_n"] / clinic_n, 4) if clinic_n else None,
            "region_share": round(r["region_n"] / region_n, 4) if region_n else None,
        })
    return {
        "clinic_id": clinic_id, "month": month, "snapshot": d.isoformat(), "clinic_persons": clinic_n,
        "region_persons": region_n,
        "clinic_mean": str(round(clinic_sum / clinic_n, 4)) if clinic_n else None,
        "region_mean": str(round(region_sum / region_n, 4)) if region_n else None,
        "bands": bands,
    }


# --- "Varför fick vi det här?": a month against the previous one and the same month last year ---

def month_before(month: str, months: int = 1) -> str:
    """The month `months` before `month` (YYYY-MM)."""
    y, m = int(month[:4]), int(month[5:7]) - months
    while m < 1:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def component_figures(con, clinic_id: str, months: list[str]) -> dict[str, dict[str, dict]]:
    """month -> component -> amount_ore, the visits its visit lines count and the persons its
    capitation lines count (None where the component counts neither), for one clinic."""
    if not has_table(con, "statement_lines") or not months:
        return {}
    marks = ", ".join("?" * len(months))
    found = rows(con, f"""
        SELECT month, component, sum(amount_ore)::BIGINT AS amount_ore,
               (sum(quantity) FILTER (WHERE unit = 'SEK/visit'))::BIGINT AS visits,
               (sum(persons) FILTER (WHERE component LIKE 'capitation_%'))::BIGINT AS persons
        FROM statement_lines WHERE clinic_id = ? AND month IN ({marks})
        GROUP BY month, component""", [clinic_id, *months])
    out: dict[str, dict[str, dict]] = {m: {} for m in months}
    for r in found:
        out[r["month"]][r["component"]] = r
    return out


def _change_text(label: str, now: dict | None, before: dict | None) -> str:
    """One component's change in Swedish: "Besöksersättning minskade med 12 340,00 kr (−8 %): 41 färre besök"."""
    from ersattning.api import format

    a, b = (now or {}).get("amount_ore") or 0, (before or {}).get("amount_ore") or 0
    diff = a - b
    if before is None:
        return f"{label} är ny: {format.kronor(a)}"
    if now is None:
        return f"{label} finns inte längre (förra gången {format.kronor(b)})"
    text = f"{label} {'ökade' if diff > 0 else 'minskade'} med {format.kronor(abs(diff))}"
    if b:
        share = format.percent(Decimal(diff) / Decimal(abs(b)), 0)
        text += f" ({'+' if diff > 0 else ''}{share})"
    for key, word in (("visits", "besök"), ("persons", "listade")):
        n, m = now.get(key), before.get(key)
        if n is None and m is None:
            continue
        d = (n or 0) - (m or 0)
        if d:
            text += f": {format.number(abs(d))} {'fler' if d > 0 else 'färre'} {word}"
        else:
            text += f": lika många {word} ({format.number(n or 0)}), annat pris eller annan fördelning på produkter"
        break
    return text


def month_comparison(con, clinic_id: str, month: str, biggest: int = 3) -> dict:
    """The clinic's month against the previous month and the same month last year, by component
    (amounts, differences), with the `biggest` changes of each comparison in Swedish words."""
    from ersattning.statements import COMPONENT_LABELS_SV

    previous, last_year = month_before(month), month_before(month, 12)
    figures = component_figures(con, clinic_id, [month, previous, last_year])
    now, prev, year = (figures.get(m, {}) for m in (month, previous, last_year))
    computed = {m["month"] for m in months(con)}
    table = []
    for component in sorted(set(now) | set(prev) | set(year), key=lambda c: -abs((now.get(c) or {}).get("amount_ore") or 0)):
        a = (now.get(component) or {}).get("amount_ore") or 0
        row = {"component": component, "group": COMPONENT_GROUP.get(component, "adjustment"), "amount_ore": a,
               "previous_ore": (prev.get(component) or {}).get("amount_ore") if previous in computed else None,
               "last_year_ore": (year.get(component) or {}).get("amount_ore") if last_year in computed else None}
        row["vs_previous_ore"] = None if row["previous_ore"] is None and previous not in computed else a - (row["previous_ore"] or 0)
        row["vs_last_year_ore"] = None if row["last_year_ore"] is None and last_year not in computed else a - (row["last_year_ore"] or 0)
        table.append(row)

    def explained(other: dict, key: str, when: str) -> list[str]:
        if when not in computed:
            return []
        changed = [r for r in table if r[key] and r["component"] != "adjustment"]
        changed.sort(key=lambda r: -abs(r[key]))
        return [_change_text(COMPONENT_LABELS_SV.get(r["component"], r["component"]), now.get(r["component"]),
                             other.get(r["component"])) for r in changed[:biggest]]

    return {"month": month, "previous": previous, "last_year": last_year,
            "previous_computed": previous in computed, "last_year_computed": last_year in computed,
            "components": table,
            "total_ore": sum(r["amount_ore"] for r in table),
            "previous_total_ore": sum(r["previous_ore"] or 0 for r in table) if previous in computed else None,
            "last_year_total_ore": sum(r["last_year_ore"] or 0 for r in table) if last_year in computed else None,
            "explain_previous": explained(prev, "vs_previous_ore", previous),
            "explain_last_year": explained(year, "vs_last_year_ore", last_year)}


def trend(con, clinic_id: str, month: str, length: int = 12) -> list[dict]:
    """The clinic's amount per component in each computed month of the `length` months up to
    `month` (month, component, amount_ore), oldest first."""
    if not has_table(con, "statement_lines"):
        return []
    return rows(con, """
        SELECT month, component, sum(amount_ore)::BIGINT AS amount_ore FROM statement_lines
        WHERE clinic_id = ? AND month > ? AND month <= ? GROUP BY month, component ORDER BY month, component""",
                [clinic_id, month_before(month, length), month])


def adjustment_lines(con, clinic_id: str, month: str) -> dict[str, dict]:
    """The month's adjustment lines of a clinic, by line_id: the month and line each corrects,
    what issued statements paid for that line before it (the figure `trace._corrected_line`
    gives) and what it is now."""
    if not has_table(con, "statement_lines") or not has_table(con, "months"):
        return {}
    found = rows(con, """
        WITH a AS (SELECT line_id, corrects_month, corrects_line_id, amount_ore FROM statement_lines
                   WHERE clinic_id = ? AND month = ? AND corrects_line_id IS NOT NULL),
        issued AS (SELECT l.* FROM statement_lines l JOIN months m ON m.month = l.month AND m.status = 'issued')
        SELECT a.line_id, a.corrects_month, a.corrects_line_id, a.amount_ore,
               coalesce(sum(l.amount_ore), 0)::BIGINT AS paid_ore
        FROM a LEFT JOIN issued l
          ON ((l.month = a.corrects_month AND l.line_id = a.corrects_line_id AND l.corrects_month IS NULL)
              OR (l.corrects_month = a.corrects_month AND l.corrects_line_id = a.corrects_line_id))
             AND l.line_id <> a.line_id
        GROUP BY ALL""", [clinic_id, month])
    return {r["line_id"]: {**r, "now_ore": r["paid_ore"] + r["amount_ore"]} for r in found}


# --- "Pengar som väntar på rättning": rejected and held contacts priced as if corrected -------

#: What each input field is called in the web app's sentences.
FIELD_NAMES_SV = {"kombika": "kombika", "contact_id": "kontakt-id", "person_id": "personnummer", "date": "datum",
                  "contact_type": "kontakttyp", "profession": "yrke", "actions": "åtgärder", "diagnoses": "diagnoser",
                  "record_type": "posttyp", "reported_at": "rapporterad", "first_contact": "första kontakt",
                  "requested_on": "sökte vård", None: "raden"}
#: The fields every visit product depends on: the clinic (kombika), the patient (age, residence,
#: listing), the date (the tables and prices in force) and which contact and version it is.
_ALWAYS_DECIDING = {"kombika", "contact_id", "person_id", "date", "record_type"}
#: The facts the decision tables read that come from one reported field each.
_FACT_FIELDS = {"contact_type": "contact_type", "setting": "contact_type", "visit": "contact_type",
                "profession": "profession", "actions_include": "actions", "actions": "actions", "diagnoses": "diagnoses"}


def product_fields(book) -> set[str]:
    """The reported fields that decide a contact's visit products under `book`: those every
    product depends on and those the visit components' decision tables read (any version)."""
    from ersattning.products.visits import visit_components

    fields = set(_ALWAYS_DECIDING)
    for component in visit_components(book):
        for version in book[f"{component}.decision_table"].values:
            for when, _ in version.value or ():
                fields.update(_FACT_FIELDS[f] for f in when if f in _FACT_FIELDS)
    if "visit_fee.visit_contact_types" in book:
        fields.add("contact_type")
    return fields


_REJECTED_ATTEMPTS = """
WITH k AS (SELECT DISTINCT kombika, clinic_id FROM kombika),
e AS (
    -- The contact is its key as sent (contact_rejected_rows), not as the error row shows it: a
    -- contact id that looks like a person number is shown masked, and masked ids would merge.
    SELECT e.*, k.clinic_id, coalesce(v0.contact_id, e.contact_id) AS raw_id,
           CASE WHEN e.kombika IS NULL OR coalesce(v0.contact_id, e.contact_id) IS NULL THEN 'rad:' || e.batch_id || ':' || e.line
                ELSE e.kombika || ':' || coalesce(v0.contact_id, e.contact_id) END AS contact_key
    FROM contact_errors e LEFT JOIN k ON k.kombika = e.kombika
         LEFT JOIN contact_rejected_rows v0 ON v0.batch_id = e.batch_id AND v0.line = e.line {where}),
attempts AS (
    SELECT contact_key, batch_id, any_value(kombika) AS kombika, any_value(contact_id) AS contact_id, any_value(raw_id) AS raw_id,
           any_value(clinic_id) AS clinic_id, any_value(received_at) AS received_at, any_value(source) AS source,
           min(line) AS line, list(DISTINCT code ORDER BY code) AS codes, list(DISTINCT field ORDER BY field) AS fields,
           list({{'code': code, 'field': field, 'message': message}} ORDER BY code, field) AS errors
    FROM e GROUP BY contact_key, batch_id),
ranked AS (SELECT *, row_number() OVER (PARTITION BY contact_key ORDER BY batch_id DESC) AS attempt FROM attempts)
SELECT r.contact_key, r.raw_id, r.batch_id, r.kombika, r.contact_id, r.clinic_id, r.received_at, r.source, r.line, r.codes, r.fields,
       r.errors, v.date, v.record_type, v.person_id IS NOT NULL AS has_person, v.line IS NOT NULL AS has_row,
       EXISTS (SELECT 1 FROM contact_events x WHERE x.kombika = r.kombika AND x.contact_id = r.raw_id
               AND x.received_at > r.received_at) AS fixed,
       (SELECT list({{'batch_id': o.batch_id, 'received_at': o.received_at, 'line': o.line, 'codes': o.codes,
                      'errors': o.errors}} ORDER BY o.batch_id DESC)
        FROM ranked o WHERE o.contact_key = r.contact_key AND o.attempt > 1) AS earlier
FROM ranked r LEFT JOIN contact_rejected_rows v ON v.batch_id = r.batch_id AND v.line = r.line
WHERE r.attempt = 1
"""


def _rejected_attempts(con, clinic_id: str | None) -> pa.Table:
    """Per rejected contact its latest attempt (batch, errors, the values read) and the earlier
    ones; a clinic sees those on its own kombika and those of the batches it sent."""
    con.execute(BATCHES_DDL).fetchall()
    if not has_table(con, "contact_rejected_rows"):
        from ersattning.register import ensure_log
        ensure_log(con)
    where, params = "", []
    if clinic_id:
        where = "WHERE (k.clinic_id = ? OR e.batch_id IN (SELECT batch_id FROM api_batches WHERE clinic_id = ?))"
        params = [clinic_id, clinic_id]
    return con.sql(_REJECTED_ATTEMPTS.format(where=where), params=params).to_arrow_table()


def _priced(core, contacts: pa.Table, month: str, assume: dict | None = None) -> pa.Table:
    """What the month's visit components pay the performing clinic for these contacts, priced by
    the engine that pays the month (`visits.contact_products` under the month's rulebook):
    (kombika, contact_id, amount_ore, products)."""
    import ibis

    from ersattning.products.visits import contact_products

    contacts = ibis.memtable(contacts)
    core.engine.attach_stored()
    p = contact_products(core.engine, core.book_of_month(month), contacts, month, assume=assume)
    p = p.filter(p.payee == p.performed_by)
    out = p.group_by("kombika", "contact_id").aggregate(amount_ore=p.unit_price_ore.fill_null(0).sum().cast("int64"),
                                                        products=p.count())
    return out.to_pyarrow()


_CONTACT_COLUMNS = "kombika, contact_id, person_id, date, contact_type, profession, diagnoses, actions"


def pending_fixes(core, clinic_id: str | None, month: str | None = None, code: str | None = None) -> dict:
    """The clinic's rejected contacts (the latest attempt of each; earlier attempts with it) and
    held contacts, each priced as if corrected, and the sums per error code.

    A rejected contact is priced from the values its latest attempt was read with, unless an
    error is in a field that decides the product (`product_fields`): then it is not priceable
    and says why. A held contact is priced as its hold's correction would have it
    (`visits.HELD_CORRECTED`). Only what the performing clinic would be paid is summed (a
    deduction billed to the listing clinic is that clinic's). A rejected contact already
    corrected (a later version accepted) is listed, not summed. No person number leaves here."""
    import ibis

    from ersattning.products.visits import HELD_CODES, HELD_CORRECTED
    from ersattning.register import current_contacts

    con = core.engine.con.con
    if not has_table(con, "contact_errors"):
        return {"contacts": [], "by_code": [], "total_ore": 0, "not_priceable": 0, "months": [], "codes": []}
    att = _rejected_attempts(con, clinic_id)
    att_months = pc.strftime(att["date"], "%Y-%m") if att.num_rows else pa.array([], pa.string())
    att = att.append_column("month", att_months.cast(pa.string()))
    # Not priceable: no values kept, a cancel, or an error in a field that decides the product.
    deciding = {m: product_fields(core.book_of_month(m)) for m in set(att["month"].to_pylist()) - {None}}
    name = "_pending_attempts"
    con.register(name, att)
    try:
        con.register("_pending_deciding", pa.table({"month": pa.array(list(deciding), pa.string()),
                                                     "deciding": pa.array([sorted(f) for f in deciding.values()],
                                                                          pa.list_(pa.string()))}))
        # What decides the contact's product and was wrong: the blocking fields of its errors.
        flagged = con.sql(f"""
            SELECT a.*, list_filter(a.fields, lambda f: f IS NULL OR list_contains(coalesce(d.deciding, []), f)) AS blocking
            FROM {name} a LEFT JOIN _pending_deciding d ON d.month = a.month""").to_arrow_table()
        con.unregister(name)
        con.register(name, flagged)
        priceable_sql = f"""SELECT {_CONTACT_COLUMNS} FROM contact_rejected_rows v SEMI JOIN (
            SELECT batch_id, line FROM {name} WHERE NOT fixed AND has_row AND has_person AND month = ?
              AND coalesce(record_type, 'report') = 'report' AND len(blocking) = 0) a USING (batch_id, line)"""
        priced = [_priced(core, con.sql(priceable_sql, params=[m]).to_arrow_table(), m) for m in sorted(deciding)]
        held_rows = []
        if has_table(con, "held_contacts"):
            cond, params = ["TRUE"], []
            if clinic_id:
                cond.append("clinic_id = ?"), params.append(clinic_id)
            held = con.sql(f"SELECT month, clinic_id, kombika, contact_id, code FROM held_contacts WHERE {' AND '.join(cond)}",
                           params=params).to_arrow_table()
            con.register("_pending_held", held)
            held_priced = []
            for (m, c) in sorted(set(zip(held["month"].to_pylist(), held["code"].to_pylist()))):  # months × codes
                keys = ibis.memtable(con.sql("SELECT kombika, contact_id FROM _pending_held WHERE month = ? AND code = ?",
                                             params=[m, c]).to_arrow_table())
                live = current_contacts(con, dated_between=(first_day(m), last_day(m)))
                # Only the held ones leave the database: the month's other contacts stay there.
                mine = live.semi_join(keys, ["kombika", "contact_id"]).select(*_CONTACT_COLUMNS.split(", ")).to_pyarrow()
                held_priced.append(_priced(core, mine, m, assume=HELD_CORRECTED.get(c)))
            held_rows = [held, held_priced]
        empty = pa.schema([("kombika", pa.string()), ("contact_id", pa.string()), ("amount_ore", pa.int64()),
                           ("products", pa.int64())]).empty_table()
        con.register("_pending_priced", pa.concat_tables([t.cast(empty.schema) for t in priced] or [empty]))
        rejected = rows(con, f"""
            SELECT 'rejected' AS kind, a.month, a.kombika, a.contact_id, a.clinic_id, a.batch_id, a.received_at, a.source,
                   a.line, a.codes, a.fields, a.errors, a.earlier, a.fixed, a.blocking,
                   NOT a.fixed AND a.has_row AND a.has_person AND coalesce(a.record_type, 'report') = 'report'
                       AND len(a.blocking) = 0 AS priceable,
                   CASE WHEN a.fixed THEN NULL
                        WHEN len(a.blocking) > 0 THEN 'blocking'
                        WHEN NOT a.has_row THEN 'no_row'
                        WHEN coalesce(a.record_type, 'report') <> 'report' THEN 'cancel'
                        WHEN NOT a.has_person THEN 'blocking' END AS not_priceable,
                   p.amount_ore, coalesce(p.products, 0) AS products
            FROM {name} a LEFT JOIN _pending_priced p ON p.kombika = a.kombika AND p.contact_id = a.raw_id
                 AND NOT a.fixed AND len(a.blocking) = 0
            ORDER BY a.batch_id DESC, a.line""")
        held_out = []
        if held_rows:
            con.register("_pending_held_priced", pa.concat_tables([t.cast(empty.schema) for t in held_rows[1]] or [empty]))
            held_out = rows(con, """
                SELECT 'held' AS kind, h.month, h.kombika, h.contact_id, h.clinic_id, [h.code] AS codes, ['person_id'] AS fields,
                       false AS fixed, true AS priceable, NULL AS not_priceable,
                       coalesce(p.amount_ore, 0)::BIGINT AS amount_ore, coalesce(p.products, 0) AS products
                FROM _pending_held h LEFT JOIN _pending_held_priced p USING (kombika, contact_id)
                ORDER BY h.month DESC, h.kombika, h.contact_id""")
    finally:
        for t in (name, "_pending_deciding", "_pending_priced", "_pending_held", "_pending_held_priced"):
            try:
                con.unregister(t)
            except Exception:  # not registered on this path
                pass
    everything = rejected + held_out
    found_months = sorted({c["month"] for c in everything if c["month"]}, reverse=True)
    shown = [c for c in everything if (month is None or c["month"] == month) and (code is None or code in c["codes"])]
    for c in shown:  # the words for display only; the amounts are computed above
        c["amount_ore"] = c["amount_ore"] if c["priceable"] else None
        if c["kind"] == "held":
            c["messages"] = [HELD_CODES.get(c["codes"][0], {}).get("sv", "")]
        else:
            c["messages"] = [e["message"] for e in c["errors"]]
            c["what_to_do"] = [CONTACT_ERROR_CODES.get(x, "") for x in c["codes"]]
        c["reason"] = _not_priceable_sv(c)
    by_code: dict[str, dict] = {}
    for c in shown:  # one summary row per error code: a handful
        for x in c["codes"]:
            s = by_code.setdefault(x, {"code": x, "kind": c["kind"], "contacts": 0, "priceable": 0, "not_priceable": 0,
                                       "fixed": 0, "amount_ore": 0})
            s["contacts"] += 1
            if c["fixed"]:
                s["fixed"] += 1
            elif c["priceable"]:
                s["priceable"] += 1
                s["amount_ore"] += c["amount_ore"] or 0
            else:
                s["not_priceable"] += 1
    return {"contacts": shown, "by_code": sorted(by_code.values(), key=lambda s: (-s["amount_ore"], s["code"])),
            "total_ore": sum(c["amount_ore"] or 0 for c in shown if c["priceable"]),
            "not_priceable": sum(1 for c in shown if not c["priceable"] and not c["fixed"]),
            "months": found_months,
            "codes": sorted({x for c in everything if month is None or c["month"] == month for x in c["codes"]})}


def _not_priceable_sv(c: dict) -> str | None:
    """Why a contact cannot be priced, in Swedish (None when it can, or is already corrected)."""
    why = c.get("not_priceable")
    if why == "blocking":
        fields = [FIELD_NAMES_SV.get(f, f) for f in (c.get("blocking") or [None]) ] or ["personnummer"]
        return f"Kan inte prissättas: felet gäller {', '.join(dict.fromkeys(fields))}, som avgör vilken produkt kontakten ger."
    if why == "no_row":
        return "Kan inte prissättas: radens värden sparades inte (avvisad innan de sparades)."
    if why == "cancel":
        return "Kan inte prissättas: en makulering ger ingen ersättning."
    return None
