"""VF's outputs of a stored month: CSV (the DESIGN.md contract), XLSX for people, the PEPPOL e-invoice.

`export_month(db, month, fmt, output)` reads the month from the database and writes the files;
`ersattning export` is its command line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ersattning.engine import open_duckdb
from ersattning.store import stored_rulebook
from ersattning.export.data import ExportError, MonthData, load_month

FORMATS = ("csv", "xlsx", "ubl")

__all__ = ["FORMATS", "ExportError", "ExportResult", "MonthData", "export_month", "load_month", "write_month", "write_ubl"]


@dataclass
class ExportResult:
    """What an export wrote, and the clinics it refused (with the reason)."""

    files: list[Path] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    draft: bool = False


def export_month(db: str | Path, month: str, fmt: str, output: Path, clinic: str | None = None,
                 draft: bool = False, issue_date: dt.date | None = None) -> ExportResult:
    """Write `month` (optionally one clinic) from database `db` as `fmt` files into `output`
    (`write_month` on a connection of its own; `core.Core.export` passes the core's)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if not Path(db).is_file():
        raise ExportError(f"there is no database {db}: run `ersattning load` and `ersattning run` first")
    # Not read_only: DuckDB refuses a second connection to a file with another configuration
    # than one already open in this process (a test); in the server it is a cursor of the
    # server's own connection (engine.open_duckdb). Nothing here writes.
    con = open_duckdb(db)
    try:
        return write_month(con, month, fmt, output, clinic, draft, issue_date)
    finally:
        con.close()


def write_month(con, month: str, fmt: str, output: Path, clinic: str | None = None, draft: bool = False,
                issue_date: dt.date | None = None) -> ExportResult:
    """Write `month` read on the DuckDB connection `con` as `fmt` files into `output`.

    `ubl` refuses a month that is only a draft unless `draft` is set (the documents then say
    UTKAST and must not be sent); csv and xlsx export drafts, marked as such in the workbook.
    Labels and groups are those the month's stored rulebook declares.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    data = load_month(con, month, clinic)
    book = stored_rulebook(con, month)
    output.mkdir(parents=True, exist_ok=True)
    result = ExportResult(draft=data.is_draft)
    if fmt == "csv":
        from ersattning.export.csv import write_month_csv

        result.files = write_month_csv(data, output)
    elif fmt == "xlsx":
        from ersattning.export.xlsx import write_month_xlsx

        result.files = [write_month_xlsx(data, output, clinic, book=book)]
    else:
        if data.is_draft and not draft:
            raise ExportError(
                f"{month} is a draft: issue it first (`ersattning run --db DB --month {month} --issue`), "
                "or pass --draft to write e-invoices marked UTKAST that must not be sent"
            )
        write_ubl(data, output, result, issue_date, strict=clinic is not None)
    return result


def write_ubl(data: MonthData, output: Path, result: ExportResult, issue_date: dt.date | None = None,
              strict: bool = False) -> None:
    """One e-invoice (or credit note) per clinic with statement lines; clinics that cannot be
    invoiced go to `result.refused` (no org number) or `result.skipped` (nothing to invoice).
    With `strict` (one clinic asked for) a refusal is an ExportError."""
    from ersattning.export import ubl

    issue = issue_date or _issue_date(data)
    by_clinic: dict[str, list[dict]] = {}
    for line in data.lines.to_pylist():
        by_clinic.setdefault(line["clinic_id"], []).append(line)
    for st in data.statements.to_pylist():
        cid = st["clinic_id"]
        lines = by_clinic.get(cid, [])
        if not lines:
            result.skipped[cid] = "no statement lines: nothing to invoice"
            continue
        try:
            seller = ubl.seller_for(cid, data.clinics)
        except ExportError as exc:
            if strict:
                raise
            result.refused[cid] = str(exc)
            continue
        doc = ubl.build(seller, data.month, lines, st["total_ore"], issue, draft=data.is_draft)
        path = output / doc.file_name
        path.write_bytes(doc.xml)
        result.files.append(path)


def _issue_date(data: MonthData) -> dt.date:
    """The day the month was issued (a draft: the day it was computed), so a re-export gives the same file."""
    stamp = data.issued_at or data.computed_at
    return stamp.date() if stamp is not None else dt.date.today()
