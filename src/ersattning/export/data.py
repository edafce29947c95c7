"""A computed month as stored in the database: its lines, totals, status and clinics, for the exports.

Columns are selected by name (the lines table grows new columns over time); only what the
exports use is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from ersattning.errors import ErsattningError
from ersattning.lines import LINE, STATEMENT


class ExportError(ErsattningError):
    """An export is refused (month not computed, draft without --draft, no org number...)."""


@dataclass
class MonthData:
    """One month (optionally one clinic) read back from the database."""

    month: str
    status: str                   # draft | issued
    computed_at: dt.datetime | None
    issued_at: dt.datetime | None
    lines: pa.Table               # every column of lines.LINE, ordered by clinic, component, product, line id
    statements: pa.Table          # lines.STATEMENT, ordered by clinic
    clinics: dict[str, dict]      # clinic_id -> {name, org_number}

    @property
    def is_draft(self) -> bool:
        return self.status != "issued"


def _columns(con, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


def load_month(con, month: str, clinic: str | None = None) -> MonthData:
    """Read `month` from a DuckDB connection (the `ersattning.duckdb` file's tables)."""
    if not _columns(con, "months"):
        raise ExportError("the database has no computed months: run `ersattning run --db DB --month YYYY-MM` first")
    row = con.execute("SELECT status, computed_at, issued_at FROM months WHERE month = ?", [month]).fetchone()
    if row is None:
        raise ExportError(f"{month} has not been computed: run `ersattning run --db DB --month {month}` first")
    status, computed_at, issued_at = row
    where, params = "month = ?", [month]
    if clinic is not None:
        where, params = where + " AND clinic_id = ?", params + [clinic]
    have = _columns(con, "statement_lines")
    # Every column of the line, so that the CSV keeps the detail and the corrected month and line.
    missing = [c for c in LINE.names if c not in have]
    if missing:
        raise ExportError(f"statement_lines lacks {', '.join(missing)}: the database is from an older version "
                          f"(`ersattning run` on any month brings its tables up to date)")
    cols = ", ".join(LINE.names)
    lines = con.sql(
        f"SELECT {cols} FROM statement_lines WHERE {where} ORDER BY clinic_id, component, product_code, line_id",
        params=params,
    ).to_arrow_table()
    statements = con.sql(
        f"SELECT {', '.join(STATEMENT.names)} FROM statements WHERE {where} ORDER BY clinic_id", params=params
    ).to_arrow_table()
    if clinic is not None and statements.num_rows == 0:
        raise ExportError(f"clinic {clinic} has no statement for {month}")
    return MonthData(month, status, computed_at, issued_at, lines, statements, _clinics(con))


def _clinics(con) -> dict[str, dict]:
    have = _columns(con, "clinics")
    if not have:
        return {}
    org = "org_number" if "org_number" in have else "NULL"
    rows = con.execute(f"SELECT clinic_id, name, {org} FROM clinics").fetchall()
    return {cid: {"name": name, "org_number": number} for cid, name, number in rows}
