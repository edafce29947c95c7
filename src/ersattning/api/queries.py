"""What the API and the web app read from the database: statements, lines, errors to fix,
region totals, the capitation breakdown and the ACG follow-up (whole-table SQL, filtered by clinic)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb

from ersattning.money import sek_text
from ersattning.period import last_day
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
