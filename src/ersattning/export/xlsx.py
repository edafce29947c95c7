"""The month's statements as an Excel workbook for people: a summary sheet and one sheet per component group.

Labels are Swedish (each component's `label_sv` from its rules/COMPONENT/component.yaml); amounts are numbers (SEK, two decimals) written from exact Decimals, so
a sheet's totals equal statements.csv to the öre.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import xlsxwriter

from ersattning.export.data import ExportError, MonthData
from ersattning.rulebook.loader import Rulebook
from ersattning.statements import GROUPS, component_groups, component_labels

#: Component group -> sheet name (also the summary's column heading).
GROUP_LABELS = {
    "fixed": "Fast ersättning",
    "variable": "Rörlig ersättning",
    "goal": "Målrelaterad ersättning",
    "adjustment": "Justeringar",
}
SUMMARY_SHEET = "Sammanställning"
TOTAL = "Totalt"
LINE_HEADERS = ("Mottagning", "Månad", "Komponent", "Produktkod", "Antal", "À-pris (kr)", "Belopp (kr)", "Regel", "Rad-id")
SUMMARY_HEADERS = ("Mottagning", "Namn", "Månad", *GROUP_LABELS.values(), TOTAL)
SEK_FORMAT = "#,##0.00"  # Excel shows "," as the locale's thousands separator (a space in Swedish)
QUANTITY_FORMAT = "#,##0.######"


def sek(ore: int) -> Decimal:
    """Öre as an exact SEK Decimal with two decimals (written to the cell as such)."""
    return Decimal(int(ore)).scaleb(-2)


def workbook_name(month: str, clinic: str | None = None) -> str:
    return f"statements_{month}{'_' + clinic if clinic else ''}.xlsx"


def write_month_xlsx(data: MonthData, output: Path, clinic: str | None = None, book: Rulebook | None = None) -> Path:
    """The workbook of `data`; groups and labels as `book` declares the components (default: the packaged rulebook)."""
    groups, labels = component_groups(book), component_labels(book)
    output.mkdir(parents=True, exist_ok=True)
    path = output / workbook_name(data.month, clinic)
    wb = xlsxwriter.Workbook(str(path))
    try:
        fmt = {
            "head": wb.add_format({"bold": True, "bottom": 1}),
            "sek": wb.add_format({"num_format": SEK_FORMAT}),
            "qty": wb.add_format({"num_format": QUANTITY_FORMAT}),
            "total": wb.add_format({"bold": True, "top": 1}),
            "total_sek": wb.add_format({"bold": True, "top": 1, "num_format": SEK_FORMAT}),
        }
        _summary(wb.add_worksheet(SUMMARY_SHEET), data, fmt)
        lines = data.lines.to_pylist()
        unknown = sorted({r["component"] for r in lines} - set(groups))
        if unknown:  # a component the rulebook does not declare: say so rather than drop lines
            raise ExportError(f"components the rulebook does not declare (rules/COMPONENT/component.yaml): {', '.join(unknown)}")
        for group in GROUPS:
            rows = [r for r in lines if groups[r["component"]] == group]
            _lines_sheet(wb.add_worksheet(GROUP_LABELS[group]), rows, fmt, labels)
    finally:
        wb.close()
    return path


def _header(ws, headers, fmt) -> None:
    for col, text in enumerate(headers):
        ws.write_string(0, col, text, fmt["head"])
    ws.freeze_panes(1, 0)


def _summary(ws, data: MonthData, fmt) -> None:
    _header(ws, SUMMARY_HEADERS, fmt)
    if data.is_draft:  # a draft must never pass for the final statement
        ws.write_string(0, len(SUMMARY_HEADERS) + 1, "UTKAST: månaden är inte utfärdad", fmt["head"])
    keys = [f"{g}_ore" for g in GROUPS] + ["total_ore"]
    sums = dict.fromkeys(keys, 0)
    row = 0
    for row, st in enumerate(data.statements.to_pylist(), start=1):
        clinic = data.clinics.get(st["clinic_id"], {})
        ws.write_string(row, 0, st["clinic_id"])
        ws.write_string(row, 1, clinic.get("name") or "")
        ws.write_string(row, 2, st["month"])
        for col, key in enumerate(keys, start=3):
            ws.write_number(row, col, sek(st[key]), fmt["sek"])
            sums[key] += st[key]
    ws.write_string(row + 1, 0, TOTAL, fmt["total"])
    for col, key in enumerate(keys, start=3):
        ws.write_number(row + 1, col, sek(sums[key]), fmt["total_sek"])
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 36)
    ws.set_column(3, 3 + len(keys), 20)


def _lines_sheet(ws, rows: list[dict], fmt, labels: dict[str, str]) -> None:
    _header(ws, LINE_HEADERS, fmt)
    total = 0
    r = 0
    for r, line in enumerate(rows, start=1):
        ws.write_string(r, 0, line["clinic_id"])
        ws.write_string(r, 1, line["month"])
        ws.write_string(r, 2, labels[line["component"]])
        ws.write_string(r, 3, line["product_code"])
        if line["quantity"] is not None:
            ws.write_number(r, 4, line["quantity"], fmt["qty"])
        if line["unit_price_ore"] is not None:
            ws.write_number(r, 5, sek(line["unit_price_ore"]), fmt["sek"])
        ws.write_number(r, 6, sek(line["amount_ore"]), fmt["sek"])
        ws.write_string(r, 7, line["rule"] or "")
        ws.write_string(r, 8, line["line_id"])
        total += line["amount_ore"]
    ws.write_string(r + 1, 0, TOTAL, fmt["total"])
    ws.write_number(r + 1, 6, sek(total), fmt["total_sek"])
    ws.set_column(0, 1, 10)
    ws.set_column(2, 3, 32)
    ws.set_column(4, 6, 16)
    ws.set_column(7, 8, 40)
