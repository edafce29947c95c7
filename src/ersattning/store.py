"""The embedded database (DuckDB file): stored inputs, computed months, issued statements.

`load` stores validated input tables; `run` computes a month into draft lines and
statements; `issue` freezes a month (an issued month is never recomputed or changed; later
changes to it are paid as adjustment lines on the next statement); manual lines are the
administrator's claimed items, audited and never deleted.
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import hashlib
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from ersattning import rulebook as rulebook_mod
from ersattning.engine import INPUT_TABLES, Engine
from ersattning.errors import StatementError
from ersattning.money import sek_text
from ersattning.period import first_day, last_day
from ersattning.pricing import exact_lines
from ersattning.statements import MANUAL_COMPONENTS, MonthResult, compute_month, totals

DEFAULT_DB = "ersattning.duckdb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS statement_lines (
    line_id VARCHAR, clinic_id VARCHAR, month VARCHAR, component VARCHAR, product_code VARCHAR,
    quantity DECIMAL(38,6), basis DECIMAL(38,6), divisor BIGINT, unit VARCHAR,
    unit_price_ore BIGINT, amount_ore BIGINT, rule VARCHAR, reference VARCHAR,
    illustrative BOOLEAN, persons BIGINT, snapshot VARCHAR
);
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS detail VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS corrects_month VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS corrects_line_id VARCHAR;
CREATE TABLE IF NOT EXISTS statements (
    clinic_id VARCHAR, month VARCHAR, fixed_ore BIGINT, variable_ore BIGINT, goal_ore BIGINT,
    adjustment_ore BIGINT, total_ore BIGINT
);
CREATE TABLE IF NOT EXISTS months (
    month VARCHAR PRIMARY KEY, status VARCHAR, computed_at TIMESTAMP, issued_at TIMESTAMP,
    issued_by VARCHAR, content_hash VARCHAR, rules VARCHAR
);
-- What the month's lines were computed from, when they were last paid in full (issued, or
-- corrected by adjustment lines on an issued statement): unchanged inputs need no recomputation.
ALTER TABLE months ADD COLUMN IF NOT EXISTS fingerprint VARCHAR;
CREATE SEQUENCE IF NOT EXISTS manual_line_seq START 1;
-- Facts about the stored region, e.g. sample_persons for a synthetic sample of the region.
CREATE TABLE IF NOT EXISTS settings (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS manual_lines (
    manual_id VARCHAR PRIMARY KEY, clinic_id VARCHAR NOT NULL, month VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    amount_ore BIGINT NOT NULL, reason VARCHAR NOT NULL, reference VARCHAR, created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""


def open_engine(db: str | Path) -> Engine:
    engine = Engine.duckdb(db)
    engine.con.raw_sql(_SCHEMA)
    return engine


def store_inputs(engine: Engine, tables: dict[str, pa.Table]) -> None:
    """Replace the stored input tables with `tables` (already validated)."""
    engine.register(tables, persist=True)


def set_sample(engine: Engine, persons: int | None) -> None:
    """Record that the stored region is a sample of `persons` (None: the whole region)."""
    con = engine.con.con
    con.execute("DELETE FROM settings WHERE key = 'sample_persons'")
    if persons:
        con.execute("INSERT INTO settings VALUES ('sample_persons', ?)", [str(int(persons))])


def book_for(engine: Engine, book):
    """The rulebook as it applies to the stored region: a sample shares the region-wide pots
    in proportion to its size (Rulebook.for_sample)."""
    rows = engine.con.con.execute("SELECT value FROM settings WHERE key = 'sample_persons'").fetchall()
    return book.for_sample(int(rows[0][0])) if rows else book


def month_status(engine: Engine, month: str) -> str | None:
    rows = engine.con.con.execute("SELECT status FROM months WHERE month = ?", [month]).fetchall()
    return rows[0][0] if rows else None


def content_hash(lines: pa.Table, statements: pa.Table) -> str:
    """SHA-256 over the month's lines and totals, ordered by key: what was issued, exactly.

    Independent of how the tables happen to be chunked, so a later recomputation of the
    same content gives the same hash.
    """
    h = hashlib.sha256()
    for table, key in ((lines, "line_id"), (statements, "clinic_id")):
        ordered = table.sort_by(key).combine_chunks()
        for col in ordered.column_names:
            h.update(col.encode())
            h.update(repr(ordered[col].to_pylist()).encode())
    return h.hexdigest()


def month_lines(engine: Engine, book, month: str) -> MonthResult:
    """The month as computed now from the stored inputs and the register: the engine's lines
    plus the administrator's manual lines for the month."""
    result = compute_month(engine, book, month)
    manual = _manual_statement_lines(engine, month)
    if len(manual):
        lines = pa.concat_tables([result.lines, manual])
        result = MonthResult(month, lines, totals(lines, result.statements.select(["clinic_id"]), month))
    return result


def run_month(engine: Engine, month: str, book=None, issue: bool = False, user: str | None = None) -> tuple[str, MonthResult | None]:
    """Compute `month` into the database as a draft (or issue it); an issued month is left as it is.

    The statement also carries `adjustment` lines for every earlier issued month whose
    inputs changed since (late contacts, corrections, cancellations, new listings or risk):
    the month recomputed now minus what was paid for it so far, line by line.
    """
    book = book_for(engine, book or rulebook_mod.load())
    status = month_status(engine, month)
    if status == "issued":
        return "issued", None
    engine.attach_stored()
    attach_contacts(engine)
    result = month_lines(engine, book, month)
    # Hashing the master tables is done once per run, and only when a fingerprint is needed.
    master = functools.cache(lambda: master_digest(engine))
    adjustments, checked = _adjustments(engine, book, month, master)
    if adjustments is not None:
        lines = pa.concat_tables([result.lines, adjustments])
        result = MonthResult(month, lines, totals(lines, result.statements.select(["clinic_id"]), month))
    con = engine.con.con
    fingerprint = month_fingerprint(engine, book, month, master()) if issue else None
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM statement_lines WHERE month = ?", [month])
        con.execute("DELETE FROM statements WHERE month = ?", [month])
        con.register("_new_lines", result.lines)
        con.register("_new_statements", result.statements)
        con.execute("INSERT INTO statement_lines BY NAME SELECT * FROM _new_lines")
        con.execute("INSERT INTO statements BY NAME SELECT * FROM _new_statements")
        now = _now()
        con.execute("DELETE FROM months WHERE month = ?", [month])
        if issue:
            con.execute(
                "INSERT INTO months VALUES (?, 'issued', ?, ?, ?, ?, ?, ?)",
                [month, now, now, user or login_name(), content_hash(result.lines, result.statements), book.origin, fingerprint],
            )
            # The corrected months are now paid in full as of these inputs.
            for earlier, fp in checked.items():
                con.execute("UPDATE months SET fingerprint = ? WHERE month = ?", [fp, earlier])
        else:
            con.execute("INSERT INTO months VALUES (?, 'draft', ?, NULL, NULL, NULL, ?, NULL)", [month, now, book.origin])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_new_lines")
        con.unregister("_new_statements")
    return ("issued" if issue else "draft"), result


# --- adjustments of issued months --------------------------------------------------------------

def master_digest(engine: Engine) -> str:
    """A digest of the stored master data (every input table), the same for every month."""
    con = engine.con.con
    names = engine.table_names()
    h = hashlib.sha256()
    for name in INPUT_TABLES:
        if name in names:
            h.update(repr((name, con.execute(f'SELECT count(*), sum(hash("{name}")) FROM "{name}"').fetchall()[0])).encode())
    return h.hexdigest()


def month_fingerprint(engine: Engine, book, month: str, master: str | None = None) -> str:
    """A digest of everything a month's lines are computed from: the stored master data
    (`master`, computed here when not given), the register's events for contacts dated in the
    month (in January also the previous year, for the yearly items), the manual lines and the rulebook."""
    con = engine.con.con
    h = hashlib.sha256(book.origin.encode())
    h.update((master or master_digest(engine)).encode())
    if "contact_events" in engine.table_names():
        first = first_day(month) if not month.endswith("-01") else first_day(f"{int(month[:4]) - 1}-01")
        row = con.execute(
            """WITH keys AS (SELECT DISTINCT kombika, contact_id FROM contact_events WHERE date BETWEEN ? AND ?)
               SELECT count(*), sum(hash(e.content_hash, e.received_at, e.record_type, e.date))
               FROM contact_events e JOIN keys USING (kombika, contact_id)""",
            [first, last_day(month)],
        ).fetchall()[0]
        h.update(repr(("contacts", row)).encode())
    h.update(repr(con.execute("SELECT count(*), sum(hash(manual_lines)) FROM manual_lines WHERE month = ?", [month]).fetchall()[0]).encode())
    return h.hexdigest()


def _adjustments(engine: Engine, book, month: str, master) -> tuple[pa.Table | None, dict[str, str]]:
    """Adjustment lines on `month` for the issued months before it whose inputs changed (None
    when there are none).

    Returns the lines and, per issued month checked, its fingerprint now (recorded when
    `month` is issued, as that month is then paid in full as of these inputs). `master()`
    gives the master-data digest.
    """
    con = engine.con.con
    issued = con.execute("SELECT month, fingerprint FROM months WHERE status = 'issued' AND month < ? ORDER BY month", [month]).fetchall()
    parts, checked = [], {}
    for earlier, stored_fp in issued:
        fp = month_fingerprint(engine, book, earlier, master())
        if fp == stored_fp:
            continue
        checked[earlier] = fp
        now = month_lines(engine, book, earlier).lines
        paid = con.sql(
            """SELECT coalesce(corrects_line_id, line_id) AS line_id, any_value(clinic_id) AS clinic_id,
                      sum(amount_ore) AS paid_ore,
                      sum(CASE WHEN corrects_month IS NULL THEN quantity END) AS paid_quantity
               FROM statement_lines l JOIN months m ON m.month = l.month AND m.status = 'issued'
               WHERE (l.month = ? AND l.corrects_month IS NULL) OR l.corrects_month = ?
               GROUP BY 1""",
            params=[earlier, earlier],
        ).to_arrow_table()
        parts.append(_differences(now, paid, earlier, month))
    return (pa.concat_tables(parts) if parts else None), checked


def _differences(now: pa.Table, paid: pa.Table, earlier: str, month: str) -> pa.Table:
    """One adjustment line per line of `earlier` whose amount now differs from what was paid."""
    import duckdb

    con = duckdb.connect()
    con.register("now_lines", now)
    con.register("paid", paid)
    diff = con.sql(
        """SELECT coalesce(n.line_id, p.line_id) AS corrects_line_id, coalesce(n.clinic_id, p.clinic_id) AS clinic_id,
                  n.product_code, n.rule, n.reference, coalesce(n.illustrative, false) AS illustrative,
                  coalesce(n.amount_ore, 0) AS now_ore, coalesce(p.paid_ore, 0) AS paid_ore,
                  n.quantity AS now_quantity, p.paid_quantity,
                  coalesce(n.amount_ore, 0) - coalesce(p.paid_ore, 0) AS diff_ore
           FROM now_lines n FULL OUTER JOIN paid p ON n.line_id = p.line_id
           WHERE coalesce(n.amount_ore, 0) <> coalesce(p.paid_ore, 0)
           ORDER BY 2, 1"""
    ).to_arrow_table()
    con.close()
    records = []
    for r in diff.to_pylist():  # one row per changed line of a month: a handful, never per contact
        product = r["product_code"] or r["corrects_line_id"].split(":")[2]
        records.append({
            "clinic_id": r["clinic_id"], "month": month, "component": "adjustment", "product_code": product,
            "quantity": Decimal(1), "divisor": 1, "unit_price_ore": r["diff_ore"], "unit": "SEK (correction)",
            "rule": r["rule"] or "withdrawn", "reference": r["reference"] or "",
            "illustrative": r["illustrative"],
            "detail": (
                f"{earlier} {product}: paid {sek_text(r['paid_ore'])} SEK (quantity {_q(r['paid_quantity'])}), "
                f"now {sek_text(r['now_ore'])} SEK (quantity {_q(r['now_quantity'])})"
            ),
        })
    lines = exact_lines(records)
    if not len(lines):
        return _with_ids(lines, [], [])
    ids = [f"{c}:{month}:ADJ:{line}" for c, line in zip(lines["clinic_id"].to_pylist(), diff["corrects_line_id"].to_pylist())]
    return _with_ids(lines, ids, diff["corrects_line_id"].to_pylist(), earlier)


def _q(value) -> str:
    return "0" if value is None else f"{Decimal(value).normalize():f}"


def _with_ids(lines: pa.Table, ids: list[str], corrects: list[str], earlier: str | None = None) -> pa.Table:
    """Exact lines → full statement lines (LINE_COLUMNS) with the given ids and corrected line."""
    n = len(lines)
    basis = lines["quantity"]
    return pa.table({
        "line_id": pa.array(ids, pa.string()),
        "clinic_id": lines["clinic_id"], "month": lines["month"], "component": lines["component"],
        "product_code": lines["product_code"], "quantity": basis, "basis": basis, "divisor": lines["divisor"],
        "unit": lines["unit"], "unit_price_ore": lines["unit_price_ore"], "amount_ore": lines["amount_ore"],
        "rule": lines["rule"], "reference": lines["reference"], "illustrative": lines["illustrative"],
        "persons": lines["persons"], "snapshot": lines["snapshot"], "detail": lines["detail"],
        "corrects_month": pa.array([earlier] * n, pa.string()), "corrects_line_id": pa.array(corrects, pa.string()),
    })


# --- manual lines (claimed items, VF's manual supplementary invoicing) -------------------------

def add_manual_line(engine: Engine, *, clinic_id: str, month: str, kind: str, amount_ore: int, reason: str,
                    reference: str = "", user: str) -> dict:
    """Add a claimed item (collaboration, geographic coordination, extended opening hours) to a
    clinic's statement for `month`: audited (who, when), never deleted or changed — a reversal
    is a new line with the opposite amount whose reference names the reversed line.

    Refused (StatementError) for an issued month, an unknown clinic or kind, a zero or
    non-integer amount, or an empty reason. On a draft month the line shows at once;
    otherwise when the month is run.
    """
    from ersattning.period import parse_month

    try:
        parse_month(month)
    except ValueError as exc:
        raise StatementError(str(exc)) from None
    if kind not in MANUAL_COMPONENTS:
        raise StatementError(f"kind must be one of {', '.join(MANUAL_COMPONENTS)}, got {kind!r}")
    if isinstance(amount_ore, bool) or not isinstance(amount_ore, int) or amount_ore == 0:
        raise StatementError(f"amount_ore must be a non-zero whole number of öre, got {amount_ore!r}")
    if not (reason or "").strip():
        raise StatementError("reason is required: say what the claimed item is for")
    if not (user or "").strip():
        raise StatementError("user is required: every manual line says who added it")
    con = engine.con.con
    if "clinics" not in engine.table_names() or not con.execute("SELECT count(*) FROM clinics WHERE clinic_id = ?", [clinic_id]).fetchall()[0][0]:
        raise StatementError(f"no clinic {clinic_id!r} in the database")
    status = month_status(engine, month)
    if status == "issued":
        raise StatementError(f"{month} is issued and never changes: add the line to the next open month")
    con.execute("BEGIN TRANSACTION")
    try:
        seq = con.execute("SELECT nextval('manual_line_seq')").fetchall()[0][0]
        manual_id = f"M{seq:06d}"
        now = _now()
        con.execute(
            "INSERT INTO manual_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [manual_id, clinic_id, month, kind, amount_ore, reason.strip(), (reference or "").strip(), user, now],
        )
        if status == "draft":
            _post_manual_on_draft(engine, month, clinic_id, manual_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return manual_lines(engine, manual_id=manual_id).to_pylist()[0]


def manual_lines(engine: Engine, clinic_id: str | None = None, month: str | None = None, manual_id: str | None = None) -> pa.Table:
    """The manual lines, oldest first, optionally for one clinic, month or id."""
    where, args = [], []
    for col, value in (("clinic_id", clinic_id), ("month", month), ("manual_id", manual_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = "SELECT * FROM manual_lines" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY manual_id"
    return engine.con.con.sql(sql, params=args).to_arrow_table()


def _manual_statement_lines(engine: Engine, month: str, manual_id: str | None = None) -> pa.Table:
    m = manual_lines(engine, month=month, manual_id=manual_id)
    records = [{
        "clinic_id": r["clinic_id"], "month": month, "component": r["kind"], "product_code": f"MANUAL_{r['kind'].upper()}",
        "quantity": Decimal(1), "divisor": 1, "unit_price_ore": r["amount_ore"], "unit": "SEK (claimed item)",
        "rule": f"manual:{r['manual_id']}", "reference": r["reference"] or "",
        "detail": f"{r['reason']} (added by {r['created_by']} {r['created_at']:%Y-%m-%d %H:%M})",
    } for r in m.to_pylist()]
    lines = exact_lines(records)
    ids = [f"{c}:{month}:MANUAL:{mid}" for c, mid in zip(m["clinic_id"].to_pylist(), m["manual_id"].to_pylist())]
    return _with_ids(lines, ids, [None] * len(ids))


def _post_manual_on_draft(engine: Engine, month: str, clinic_id: str, manual_id: str) -> None:
    """Put a new manual line on the month's draft statement and re-total that clinic."""
    con = engine.con.con
    line = _manual_statement_lines(engine, month, manual_id)
    con.register("_manual_line", line)
    try:
        con.execute("INSERT INTO statement_lines BY NAME SELECT * FROM _manual_line")
    finally:
        con.unregister("_manual_line")
    lines = con.sql("SELECT clinic_id, component, amount_ore FROM statement_lines WHERE month = ? AND clinic_id = ?", params=[month, clinic_id]).to_arrow_table()
    row = totals(lines, pa.table({"clinic_id": [clinic_id]}), month)
    con.execute("DELETE FROM statements WHERE month = ? AND clinic_id = ?", [month, clinic_id])
    con.register("_manual_total", row)
    try:
        con.execute("INSERT INTO statements BY NAME SELECT * FROM _manual_total")
    finally:
        con.unregister("_manual_total")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def attach_contacts(engine: Engine, as_of=None) -> None:
    """Price the register's live contacts (GVR's current view) when any were reported."""
    if "contact_events" in engine.table_names():
        from ersattning.register import current_contacts

        engine.contacts_between = lambda first, last: current_contacts(engine.con, as_of=as_of, dated_between=(first, last))


def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
