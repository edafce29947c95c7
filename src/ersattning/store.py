"""The embedded database (DuckDB file): stored inputs, computed months, issued statements.

`load` stores validated input tables; `run` computes a month into draft lines and
statements; `issue` freezes a month (an issued month is never recomputed or changed).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
from pathlib import Path

import pyarrow as pa

from ersattning import rulebook as rulebook_mod
from ersattning.engine import Engine
from ersattning.statements import MonthResult, compute_month

DEFAULT_DB = "ersattning.duckdb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS statement_lines (
    line_id VARCHAR, clinic_id VARCHAR, month VARCHAR, component VARCHAR, product_code VARCHAR,
    quantity DECIMAL(38,6), basis DECIMAL(38,6), divisor BIGINT, unit VARCHAR,
    unit_price_ore BIGINT, amount_ore BIGINT, rule VARCHAR, reference VARCHAR,
    illustrative BOOLEAN, persons BIGINT, snapshot VARCHAR
);
CREATE TABLE IF NOT EXISTS statements (
    clinic_id VARCHAR, month VARCHAR, fixed_ore BIGINT, variable_ore BIGINT, goal_ore BIGINT,
    adjustment_ore BIGINT, total_ore BIGINT
);
CREATE TABLE IF NOT EXISTS months (
    month VARCHAR PRIMARY KEY, status VARCHAR, computed_at TIMESTAMP, issued_at TIMESTAMP,
    issued_by VARCHAR, content_hash VARCHAR, rules VARCHAR
);
"""


def open_engine(db: str | Path) -> Engine:
    engine = Engine.duckdb(db)
    engine.con.raw_sql(_SCHEMA)
    return engine


def store_inputs(engine: Engine, tables: dict[str, pa.Table]) -> None:
    """Replace the stored input tables with `tables` (already validated)."""
    engine.register(tables, persist=True)


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


def run_month(engine: Engine, month: str, book=None, issue: bool = False) -> tuple[str, MonthResult | None]:
    """Compute `month` into the database as a draft (or issue it); an issued month is left as it is."""
    book = book or rulebook_mod.load()
    status = month_status(engine, month)
    if status == "issued":
        return "issued", None
    engine.attach_stored()
    attach_contacts(engine)
    result = compute_month(engine, book, month)
    con = engine.con.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM statement_lines WHERE month = ?", [month])
        con.execute("DELETE FROM statements WHERE month = ?", [month])
        con.register("_new_lines", result.lines)
        con.register("_new_statements", result.statements)
        con.execute("INSERT INTO statement_lines SELECT * FROM _new_lines")
        con.execute("INSERT INTO statements SELECT * FROM _new_statements")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        con.execute("DELETE FROM months WHERE month = ?", [month])
        if issue:
            con.execute(
                "INSERT INTO months VALUES (?, 'issued', ?, ?, ?, ?, ?)",
                [month, now, now, _user(), content_hash(result.lines, result.statements), book.origin],
            )
        else:
            con.execute("INSERT INTO months VALUES (?, 'draft', ?, NULL, NULL, NULL, ?)", [month, now, book.origin])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_new_lines")
        con.unregister("_new_statements")
    return ("issued" if issue else "draft"), result


def attach_contacts(engine: Engine, as_of=None) -> None:
    """Price the register's live contacts (GVR's current view) when any were reported."""
    if "contact_events" in engine.table_names():
        from ersattning.register import current_contacts

        engine.contacts_between = lambda first, last: current_contacts(engine.con, as_of=as_of, dated_between=(first, last))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
