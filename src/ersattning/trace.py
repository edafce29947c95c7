"""AF (Avstämningsfunktionen): a contact's path through the chain (GVR → ERSMO → HEJ → VF) and
what lies behind a statement line (its product rows, contacts or listed persons, rule values).

Persons appear only as pseudonyms (HMAC-SHA256 of the person id with a per-database secret).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from decimal import Decimal
from typing import Callable

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.period import first_day, last_day
from ersattning.rulebook.loader import Rulebook

_KEY_DDL = "CREATE TABLE IF NOT EXISTS privacy_key (secret VARCHAR)"
_CONTACT_FIELDS = ("kombika", "contact_id", "person_id", "date", "contact_type", "profession", "diagnoses", "actions")
# Shown with the contact, not priced per contact: they count in the clinic's care-guarantee share.
_SHARE_FIELDS = ("first_contact", "requested_on")
_BAND = re.compile(r"^CAP_AGE_(\d+)_(\d+|PLUS)$")


# --- pseudonyms --------------------------------------------------------------------------------

def person_key(con) -> bytes:
    """The database's secret for pseudonyms, created on first use (never leaves the database)."""
    con.execute(_KEY_DDL).fetchall()
    rows = con.execute("SELECT secret FROM privacy_key LIMIT 1").fetchall()
    if rows:
        return bytes.fromhex(rows[0][0])
    secret = secrets.token_hex(32)
    con.execute("INSERT INTO privacy_key VALUES (?)", [secret]).fetchall()
    return bytes.fromhex(secret)


# The pseudonym's 16 hex characters written in 16 consonants: no digit, so no run of a pseudonym
# can look like a person number to a reader or to a privacy check (hex gave 12 digits in a row
# about once in 50 persons), and no vowel, so no word.
PSEUDONYM_LETTERS = "bcdfghjkmnpqrstv"
_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", PSEUDONYM_LETTERS)


def pseudonym(key: bytes, person_id: str | None) -> str | None:
    """A stable pseudonymous id for a person within one database: "p" and 16 consonants (the first
    64 bits of HMAC-SHA256 of the person id)."""
    if person_id is None:
        return None
    digest = hmac.new(key, person_id.encode(), hashlib.sha256).hexdigest()[:16]
    return "p" + digest.translate(_HEX_TO_LETTERS)


def _pseudonymise(table: pa.Table, key: bytes, keep_ids: bool = False) -> pa.Table:
    """Replace person_id by `person` (pseudonym); only for the page of rows shown. `keep_ids`: keep
    person_id beside it, for a caller that decides per row who may read it (the web app)."""
    if "person_id" not in table.column_names:
        return table
    pseudo = pa.array([pseudonym(key, p) for p in table["person_id"].to_pylist()], pa.string())
    i = table.schema.get_field_index("person_id")
    if keep_ids:
        return table.add_column(i, "person", pseudo)
    return table.set_column(i, "person", pseudo)


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(table: pa.Table) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def _query(con, sql: str, params=()) -> pa.Table:
    return con.sql(sql, params=list(params)).to_arrow_table()


def _has(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchall()[0][0])


# --- a contact ---------------------------------------------------------------------------------

def trace_contact(engine: Engine, book: Rulebook | BookOf, kombika: str, contact_id: str,
                  keep_ids: bool = False) -> dict | None:
    """Everything the chain did with one contact (kombika, contact_id), or None if never received.

    received: each event (batch, when, what); rejected: each error (batch, line, code, message);
    status: accepted / cancelled / rejected; for a live contact: its facts (ERSMO's inputs), its
    products with the clinic billed, the price in force (HEJ) and the statement line (VF).
    `clinics` names the clinics concerned (the reporting clinic and every clinic billed).
    `book`: the rulebook, or a function giving it for the contact's month (`core.Core.book_of_month`).
    `keep_ids`: person_id beside each pseudonym, for the web app's own-patients view (never the API).
    """
    con = engine.con.con
    key = person_key(con)
    events = errors = None
    if _has(con, "contact_events"):
        events = _query(con, """
            SELECT e.event_id, e.batch_id, e.received_at, e.source, e.line, e.record_type, e.person_id, e.date,
                   e.contact_type, e.profession, e.diagnoses, e.actions, e.first_contact, e.requested_on,
                   e.reported_at, e.content_hash
            FROM contact_events e WHERE e.kombika = ? AND e.contact_id = ? ORDER BY e.event_id""", [kombika, contact_id])
        errors = _query(con, """
            SELECT batch_id, received_at, source, line, code, field, message FROM contact_errors
            WHERE kombika = ? AND contact_id = ? ORDER BY batch_id, line, code""", [kombika, contact_id])
    if events is None or (not events.num_rows and not errors.num_rows):
        return None
    clinic = _kombika_clinic(con, kombika)
    out = {
        "kombika": kombika, "contact_id": contact_id, "clinic_id": clinic,
        "received": _rows(_pseudonymise(events.drop_columns(["content_hash"]), key, keep_ids)),
        "rejections": _rows(errors),
        "status": "rejected", "contact": None, "facts": None, "held": None, "products": [],
        "clinics": sorted({clinic} - {None}),
    }
    if not events.num_rows:
        return out
    live = _live_version(events)
    if live["record_type"] == "cancel":
        out["status"] = "cancelled"
        return out
    out["status"] = "accepted"
    contact = {**{f: live.get(f) for f in _CONTACT_FIELDS}, "kombika": kombika, "contact_id": contact_id}
    out["contact"] = {**{k: _plain(v) for k, v in contact.items() if k != "person_id"},
                      **{f: _plain(live.get(f)) for f in _SHARE_FIELDS},
                      "person": pseudonym(key, contact["person_id"]),
                      **({"person_id": contact["person_id"]} if keep_ids else {})}
    month = contact["date"].strftime("%Y-%m")
    out["month"] = month
    book = _book_for_month(book, month)
    engine.attach_stored()
    one = ibis.memtable(pa.Table.from_pylist([contact], schema=pa.schema([
        ("kombika", pa.string()), ("contact_id", pa.string()), ("person_id", pa.string()), ("date", pa.date32()),
        ("contact_type", pa.string()), ("profession", pa.string()), ("diagnoses", pa.string()), ("actions", pa.string()),
    ])))
    from ersattning.products.facts import contact_facts
    from ersattning.products.visits import HELD_CODES, contact_products, held_contacts

    start, end = first_day(month), last_day(month)
    facts = contact_facts(engine, book, one, start, end).to_pyarrow()
    if facts.num_rows:
        f = facts.to_pylist()[0]
        f.pop("person_id", None)
        out["facts"] = {k: _plain(v) for k, v in f.items()}
        out["clinic_id"] = f["clinic_id"]
    # Held: priced by no visit component until its inputs are corrected (visits.held_contacts).
    held = held_contacts(engine, book, one, month)["code"].to_pylist()
    out["held"] = ({"code": held[0], "message_sv": HELD_CODES.get(held[0], {}).get("sv", ""),
                    "message_en": HELD_CODES.get(held[0], {}).get("en", "")} if held else None)
    # The same rows the month's visit lines count (visits.contact_products), for this one contact.
    products = contact_products(engine, book, one, month).to_pyarrow()
    status = _month_status(con, month)
    run_at = computed_at(con, month)
    # A version received after the month was computed is not on its lines (yet): say so, name no line.
    later = run_at is not None and live["received_at"] > run_at
    out["after_run"] = later
    for p in products.sort_by([("component", "ascending")]).to_pylist():
        own = _line_for(con, p["payee"], month, p["component"], p["product_code"], p["rule"])
        line = None if later else own
        # A version received after its month was computed is paid by an adjustment line of a later
        # month computed after it arrived, correcting this product's line of the contact's month.
        adjusted = _adjustment_for(con, p["payee"], month, p["product_code"], own, live["received_at"]) if later else None
        out["products"].append({
            "component": p["component"], "product_code": p["product_code"], "billed_to": p["payee"],
            "performed_by": p["performed_by"], "unit_price_ore": p["unit_price_ore"], "rule": p["rule"],
            "reference": p["reference"], "illustrative": p["illustrative"],
            "decision": decision_of(book, p["decision_row"]), "produced_by": produced_by(book, p["component"]),
            "line_id": line, "month_status": status, "adjustment": adjusted,
        })
    out["clinics"] = sorted({out["clinic_id"], *(p["billed_to"] for p in out["products"])} - {None})
    return out


def decision_of(book: Rulebook, row: str | None) -> dict | None:
    """The decision-table row named `TABLE@VERSION#INDEX`: the table, its version's date (the
    table's own date, which may differ from its prices'), the row's index and its `when`."""
    if not row:
        return None
    table, _, rest = row.partition("@")
    version, _, index = rest.partition("#")
    start = dt.date.fromisoformat(version)
    value = next(v for v in book[table].values if v.start == start)
    when, product = value.value[int(index)]
    return {"table": table, "version": version, "row": int(index), "product": product,
            "when": {k: (list(x) if isinstance(x, tuple) else _plain(x)) for k, x in when.items()},
            "reference": value.reference}


def produced_by(book: Rulebook, component: str) -> list[str] | None:
    """The modules that produce the component's rows, from its declaration in the rulebook."""
    declared = book.components.get(component)
    return list(declared.produced_by) if declared is not None else None


#: A function giving the rulebook a month was computed with (`core.Core.book_of_month`).
BookOf = Callable[[str], Rulebook]


def _book_for_month(book: Rulebook | BookOf, month: str) -> Rulebook:
    return book if isinstance(book, Rulebook) else book(month)


def _live_version(events: pa.Table) -> dict:
    """The register's current version: latest reported_at (received_at when missing), ties by content."""
    rows = events.to_pylist()
    return max(rows, key=lambda r: (r["reported_at"] or r["received_at"], r["content_hash"]))


def _kombika_clinic(con, kombika: str) -> str | None:
    if not _has(con, "kombika"):
        return None
    rows = con.execute("SELECT clinic_id FROM kombika WHERE kombika = ? ORDER BY valid_from DESC LIMIT 1", [kombika]).fetchall()
    return rows[0][0] if rows else None


def computed_at(con, month: str) -> dt.datetime | None:
    """When the stored month was computed, as local wall-clock time like the register's received_at
    (the store records UTC): the register's view as of then is what its lines counted."""
    if not _has(con, "months"):
        return None
    rows = con.execute("SELECT computed_at FROM months WHERE month = ?", [month]).fetchall()
    if not rows or rows[0][0] is None:
        return None
    return rows[0][0].replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)


def _month_status(con, month: str) -> str | None:
    if not _has(con, "months"):
        return None
    rows = con.execute("SELECT status FROM months WHERE month = ?", [month]).fetchall()
    return rows[0][0] if rows else None


def _line_for(con, clinic: str, month: str, component: str, product: str, rule: str | None) -> str | None:
    if not _has(con, "statement_lines"):
        return None
    rows = con.execute(
        "SELECT line_id FROM statement_lines WHERE clinic_id = ? AND month = ? AND component = ? AND product_code = ? "
        "AND (rule = ? OR ? IS NULL) ORDER BY line_id LIMIT 1", [clinic, month, component, product, rule, rule]).fetchall()
    return rows[0][0] if rows else None


def _adjustment_for(con, clinic: str, month: str, product: str, corrected: str | None,
                    received_at: dt.datetime) -> dict | None:
    """The first adjustment line, on a month computed after `received_at`, that corrects the
    clinic's `product` line of `month` (`corrected` when that line exists): line_id, month,
    month_status, corrects_line_id. None when no such month has been computed yet."""
    if not _has(con, "statement_lines") or not _has(con, "months"):
        return None
    found = con.execute(
        """SELECT l.line_id, l.month, m.status, l.corrects_line_id, m.computed_at FROM statement_lines l
           JOIN months m ON m.month = l.month
           WHERE l.clinic_id = ? AND l.corrects_month = ? AND l.product_code = ? AND (l.corrects_line_id = ? OR ? IS NULL)
           ORDER BY l.month, l.line_id""", [clinic, month, product, corrected, corrected]).fetchall()
    for line_id, at_month, status, corrects, computed in found:  # the product's adjustments: one per later month at most
        if computed is not None and computed.replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None) > received_at:
            # corrects_line_id names no stored line when the product is new to that month
            return {"line_id": line_id, "month": at_month, "month_status": status, "corrects_line_id": corrects,
                    "corrects_stored": corrected is not None}
    return None


# --- a statement line --------------------------------------------------------------------------

def trace_line(engine: Engine, book: Rulebook | BookOf, line_id: str, limit: int = 100, offset: int = 0,
               keep_ids: bool = False) -> dict | None:
    """A statement line, the rule values behind its price (effective date, source), and the
    rows behind its quantity, computed by the expression that paid it (`book`: the rulebook
    its month was computed with, or a function giving it for the line's month,
    `core.Core.book_of_month`): the contacts (visit lines) or the
    listed persons (capitation lines), one page of them, with the total count and the sum that
    makes up the basis; for an adjustment line the line it corrects (paid, now); for a manual
    line the administrator's entry; for pots, goals and caps the basis the line states.

    `reproduces` says whether the rows behind give the line's basis exactly: False when the
    inputs changed after the month was computed (the difference is paid as an adjustment).
    `keep_ids`: person_id beside each pseudonym, for the web app's own-patients view (never the API)."""
    con = engine.con.con
    if not _has(con, "statement_lines"):
        return None
    found = _query(con, "SELECT * FROM statement_lines WHERE line_id = ?", [line_id])
    if not found.num_rows:
        return None
    line = {k: _plain(v) for k, v in found.to_pylist()[0].items()}
    book = _book_for_month(book, line["month"])
    out = {"line": line, "month_status": _month_status(con, line["month"]), "rules": rule_values(book, line),
           "produced_by": produced_by(book, line["component"]), "behind": None, "reproduces": None}
    key = person_key(con)
    engine.attach_stored()
    # Which expression paid the line: the module its component's declaration names.
    capitation = "ersattning.products.capitation" in (out["produced_by"] or ())
    if line["component"] == "adjustment":
        out["behind"] = _corrected_line(con, line)
    elif (line.get("rule") or "").startswith("manual:") and _has(con, "manual_lines"):
        # A claimed item: the administrator's entry (who, when, why) is what lies behind it.
        manual = _query(con, "SELECT * FROM manual_lines WHERE manual_id = ?", [line["rule"].split(":", 1)[1]])
        out["behind"] = {"kind": "manual", "rows": _rows(manual), "rows_total": manual.num_rows}
    elif line.get("unit") == "SEK/visit":
        out["behind"] = _contacts_behind(engine, book, line, key, limit, offset, keep_ids)
    elif line["component"] in ("medical_service", "requisition_drugs"):
        out["behind"] = _claims_behind(engine, book, line, key, limit, offset, keep_ids)
    elif capitation:
        out["behind"] = _persons_behind(engine, book, line, key, limit, offset, keep_ids)
    else:
        # Pots, goals, caps, new-clinic amounts: one figure per clinic, whose basis the line states.
        out["behind"] = {"kind": "basis", "basis": line["basis"], "divisor": line["divisor"], "detail": line.get("detail"),
                         "rows": [], "rows_total": 0}
    behind = out["behind"]
    if behind.get("kind") in ("contacts", "persons", "orders", "requisitions"):
        out["reproduces"] = Decimal(behind["basis_total"]) == Decimal(line["basis"])
    return out


def _corrected_line(con, line: dict) -> dict:
    """What an adjustment line corrects: the month and line, what was paid for that line on
    issued statements before this adjustment, and what it comes to now."""
    month, corrected = line["corrects_month"], line["corrects_line_id"]
    paid = con.execute(
        """SELECT coalesce(sum(l.amount_ore), 0) FROM statement_lines l JOIN months m ON m.month = l.month AND m.status = 'issued'
           WHERE ((l.month = ? AND l.line_id = ? AND l.corrects_month IS NULL) OR (l.corrects_month = ? AND l.corrects_line_id = ?))
             AND l.line_id <> ?""", [month, corrected, month, corrected, line["line_id"]]).fetchall()[0][0]
    paid = int(paid)
    return {"kind": "adjustment", "corrects_month": month, "corrects_line_id": corrected, "paid_ore": paid,
            "now_ore": paid + int(line["amount_ore"]), "difference_ore": int(line["amount_ore"]), "detail": line.get("detail"),
            "rows": [], "rows_total": 0}


def rule_values(book: Rulebook, line: dict) -> list[dict]:
    """The rule values a line's `rule` names (`name@date`, `+`-joined), each with its value for
    this line's product, effective date, source reference and whether it is illustrative."""
    rule = line.get("rule") or ""
    parts = [p for p in rule.split("+") if p]
    dated = [p.split("@", 1) for p in parts]
    fallback = next((d[1] for d in reversed(dated) if len(d) == 2), None)
    out = []
    for d in dated:
        name, date = d[0], (d[1] if len(d) == 2 else fallback)
        entry = {"rule": name, "effective": date, "value": None, "reference": None, "illustrative": None}
        if name in book and date and date != "none":
            v = book[name].at(dt.date.fromisoformat(date))
            if v is not None:
                entry.update(value=_value_for(v.value, line.get("product_code")), reference=v.reference,
                             effective=v.start.isoformat(),
                             illustrative=v.illustrative)
        out.append(entry)
    return out


def _value_for(value, product: str | None):
    """The part of a rule value that concerns one product (its price, its decision rows, its band)."""
    if isinstance(value, dict):
        if product in value:
            return str(value[product])
        # A price list keyed by a code the product code ends in (REQUISITION_{drug_code}).
        key = next((k for k in value if product and product.endswith("_" + k)), None)
        return str(value[key]) if key is not None else {k: str(v) for k, v in value.items()}
    if isinstance(value, tuple) and value and isinstance(value[0], tuple) and len(value[0]) == 2 and isinstance(value[0][0], dict):
        rows = [{"when": {k: (list(x) if isinstance(x, tuple) else x) for k, x in when.items()}, "product": p}
                for when, p in value if p == product]
        return rows
    if isinstance(value, tuple) and value and isinstance(value[0], tuple) and len(value[0]) == 3:
        m = _BAND.match(product or "")
        for lo, hi, amount in value:
            if m and int(m.group(1)) == lo:
                return {"ages": f"{lo}-{'' if hi is None else hi}", "amount": str(amount)}
        return [{"ages": f"{lo}-{'' if hi is None else hi}", "amount": str(a)} for lo, hi, a in value]
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return str(value)


def _contacts_behind(engine: Engine, book: Rulebook, line: dict, key: bytes, limit: int, offset: int,
                     keep_ids: bool = False) -> dict:
    """The contacts a visit line counted: `visits.contact_products` (the rows `visit_lines`
    counts) for the register as of the month's computation, filtered to the line's clinic,
    component, product and price version."""
    from ersattning.products.visits import contact_products
    from ersattning.store import attach_contacts

    month = line["month"]
    start, end = first_day(month), last_day(month)
    attach_contacts(engine, as_of=computed_at(engine.con.con, month))
    contacts = engine.contacts(start, end)
    if contacts is None:
        return {"kind": "contacts", "rows": [], "rows_total": 0, "basis_total": "0"}
    from ersattning.products.visits import BILLED_TO_LISTING_CLINIC

    if line["component"] not in BILLED_TO_LISTING_CLINIC:
        # Paid to the clinic that performed the contact: only its kombikas' contacts can be behind
        # the line. Facts are computed contact by contact, so this narrows the rows, not the result.
        k = engine["kombika"]
        own = k.filter(k.clinic_id == line["clinic_id"]).select("kombika").distinct()
        contacts = contacts.filter(contacts.kombika.isin(own.kombika))
    cp = contact_products(engine, book, contacts, month, components=(line["component"],))
    cp = cp.filter(cp.payee == line["clinic_id"], cp.component == line["component"],
                   cp.product_code == line["product_code"], cp.rule == line["rule"])
    rows = cp.select("kombika", "contact_id", "date", "person_id", "performed_by", "decision_row").to_pyarrow()
    rows = rows.sort_by([("date", "ascending"), ("kombika", "ascending"), ("contact_id", "ascending")])
    page = _pseudonymise(rows.slice(offset, limit), key, keep_ids)
    return {"kind": "contacts", "rows": _rows(page), "rows_total": rows.num_rows, "basis_total": str(rows.num_rows)}


def _persons_behind(engine: Engine, book: Rulebook, line: dict, key: bytes, limit: int, offset: int,
                    keep_ids: bool = False) -> dict:
    """The persons a capitation line counts, with what each adds to the basis: the rows
    `capitation.capitation_units` gives (those `capitation_rows` sums), filtered to the line."""
    from ersattning.products.capitation import capitation_units

    units, snapshot = capitation_units(engine, book, line["month"], line["component"])
    units = units.filter(units.clinic_id == line["clinic_id"], units.product_code == line["product_code"])
    keep = [c for c in ("person_id", "clinic_id", "listed_at", "age", "acg_weight", "cni", "contribution") if c in units.columns]
    table = units.select(*keep).to_pyarrow().sort_by([("person_id", "ascending")])
    basis = pc.sum(table["contribution"]).as_py() if table.num_rows else Decimal(0)
    page = _pseudonymise(table.slice(offset, limit), key, keep_ids)
    return {"kind": "persons", "snapshot": snapshot, "rows": _rows(page), "rows_total": table.num_rows,
            "basis_total": str(Decimal(basis).normalize() if basis else 0), "contribution": "contribution"}


def _claims_behind(engine: Engine, book: Rulebook, line: dict, key: bytes, limit: int, offset: int,
                   keep_ids: bool = False) -> dict:
    """The orders (medical_service) or requisition rows a claims line sums: the rows
    `claims.orders_behind` / `claims.requisitions_behind` price, filtered to the line's clinic,
    category or drug and rule version. A person is shown by pseudonym only."""
    from ersattning.products import claims

    month, clinic = line["month"], line["clinic_id"]
    if line["component"] == "medical_service":
        kind, rows = "orders", claims.orders_behind(engine, book, month)
        category = {code: c for c, code in claims.CATEGORIES.items()}.get(line["product_code"])
        if rows is not None:
            rows = rows.filter(rows.clinic_id == clinic, rows.category == category, rows.rule == line["rule"])
            rows = rows.select("order_id", "date", "person_id", "service_code", "category", "cost_sek")
        value = "cost_sek"
    else:
        kind, rows = "requisitions", claims.requisitions_behind(engine, book, month)
        prefix = book.component("requisition_drugs").code(drug_code="")
        if rows is not None:
            rows = rows.filter(rows.clinic_id == clinic, rows.drug_code == line["product_code"][len(prefix):],
                               rows.rule == line["rule"])
            rows = rows.select("source_line", "date", "drug_code", "quantity")
        value = "quantity"
    if rows is None:
        return {"kind": kind, "rows": [], "rows_total": 0, "basis_total": "0"}
    table = rows.to_pyarrow()
    table = table.sort_by([("date", "ascending"), (table.column_names[0], "ascending")])
    basis = pc.sum(table[value]).as_py() if table.num_rows else Decimal(0)
    page = _pseudonymise(table.slice(offset, limit), key, keep_ids)
    return {"kind": kind, "rows": _rows(page), "rows_total": table.num_rows,
            "basis_total": str(Decimal(basis).normalize() if basis else 0), "contribution": value}


# --- the terminal view (`ersattning trace`) ------------------------------------------------------

def print_trace(found: dict, as_json: bool, console) -> None:
    """Print a contact's trace (`Core.trace_contact`) or a line's (`Core.trace_line`) on the terminal."""
    import json

    from rich.table import Table

    from ersattning.money import sek_text

    contact = None if "line" in found else f"{found['kombika']}:{found['contact_id']}"
    if contact is not None:
        kombika, contact_id = found["kombika"], found["contact_id"]
    if as_json:
        console.print_json(json.dumps(found, default=str))
        return
    if contact is not None:
        console.print(f"[b]{kombika}:{contact_id}[/b]  clinic {found['clinic_id'] or '?'}  status [b]{found['status']}[/b]")
        t = Table("batch", "received", "line", "record", "date", "type", "profession", "person", title="GVR: received")
        for r in found["received"]:
            t.add_row(str(r["batch_id"]), str(r["received_at"]), str(r["line"]), r["record_type"], str(r["date"] or ""),
                      r["contact_type"] or "", r["profession"] or "", r["person"] or "")
        console.print(t)
        if found["rejections"]:
            t = Table("batch", "received", "line", "code", "field", "message", title="GVR: rejected")
            for r in found["rejections"]:
                t.add_row(str(r["batch_id"]), str(r["received_at"]), str(r["line"]), r["code"], r["field"] or "", r["message"])
            console.print(t)
        if found["facts"]:
            facts = ", ".join(f"{k}={v}" for k, v in found["facts"].items() if k not in ("kombika", "contact_id"))
            console.print(f"ERSMO facts: {facts}")
        if found.get("held"):
            console.print(f"[b]held[/b] {found['held']['code']}: {found['held']['message_en']}")
        if found["products"]:
            t = Table("component", "product", "decided by", "billed to", "price SEK", "rule", "line (VF)", title="ERSMO → HEJ → VF")
            for p in found["products"]:
                price = sek_text(p["unit_price_ore"]) if p["unit_price_ore"] is not None else "no price"
                d = p.get("decision")
                decided = f"{d['table']}@{d['version']} row {d['row']}: {json.dumps(d['when'], ensure_ascii=False)}" if d else ""
                t.add_row(p["component"], p["product_code"], decided, p["billed_to"] or "", price, p["rule"] or "",
                          f"{p['line_id'] or '-'} ({p['month_status'] or 'not run'})" if not p.get("adjustment") else
                          f"adjustment {p['adjustment']['line_id']} ({p['adjustment']['month_status']})")
            console.print(t)
        return
    ln = found["line"]
    console.print(f"[b]{ln['line_id']}[/b]  {ln['component']} {ln['product_code']}: {ln['quantity']} × "
                  f"{sek_text(ln['unit_price_ore'] or 0)} = {sek_text(ln['amount_ore'])} SEK  (basis {ln['basis']} ÷ "
                  f"{ln['divisor']}; month {found['month_status']})")
    t = Table("rule", "effective", "value", "source", title="rule values")
    for r in found["rules"]:
        t.add_row(r["rule"], r["effective"] or "", json.dumps(r["value"], ensure_ascii=False, default=str)[:60],
                  (r["reference"] or "") + (" (illustrative)" if r["illustrative"] else ""))
    console.print(t)
    behind = found["behind"]
    if behind and behind.get("rows") is not None:
        rows = behind["rows"]
        if rows:
            t = Table(*rows[0].keys(), title=f"behind the line: {behind['rows_total']} {behind['kind']}"
                                             + (f", basis {behind['basis_total']}" if behind.get("basis_total") else ""))
            for r in rows:
                t.add_row(*(str(v) if v is not None else "" for v in r.values()))
            console.print(t)
        elif behind["kind"] == "adjustment":
            console.print(f"corrects {behind['corrects_line_id']} ({behind['corrects_month']}): paid {sek_text(behind['paid_ore'])} SEK, "
                          f"now {sek_text(behind['now_ore'])} SEK")
        elif behind["kind"] == "basis":
            console.print(f"basis {behind['basis']} ÷ {behind['divisor']}" + (f": {behind['detail']}" if behind.get("detail") else ""))
        else:
            console.print(f"behind the line: no {behind['kind']}")
    if found.get("reproduces") is False:
        console.print("[yellow]the rows behind no longer give the line's basis: the inputs changed after the month was "
                      "computed (the difference is paid as an adjustment line)[/yellow]")
