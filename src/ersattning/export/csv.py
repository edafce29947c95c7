"""statement_lines.csv and statements.csv of a stored month (the DESIGN.md output contract), and the
month's lines as CSV for Swedish Excel (the web app's and the API's download)."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ersattning.export.data import MonthData
from ersattning.money import format_sek
from ersattning.statements import lines_csv_table, statements_csv_table, write_csv

LINES_FILE = "statement_lines.csv"
STATEMENTS_FILE = "statements.csv"


def write_month_csv(data: MonthData, output: Path) -> list[Path]:
    """The two contract files in `output`: SEK with two decimals, the same as `ersattning statements`."""
    paths = [output / LINES_FILE, output / STATEMENTS_FILE]
    write_csv(lines_csv_table(data.lines), paths[0])
    write_csv(statements_csv_table(data.statements), paths[1])
    return paths


# --- CSV for Swedish Excel -------------------------------------------------------------------------
# Excel in a Swedish locale splits on semicolons, reads "1234,56" as a number and needs the UTF-8
# byte order mark to show å, ä, ö; the contract files above stay comma-separated with points.

BOM = "\ufeff".encode("utf-8")

#: A statement line's columns in the Swedish download, with their headings (money in kronor).
SWEDISH_LINE_COLUMNS = {
    "clinic_id": "Mottagning", "month": "Månad", "component": "Komponent", "product_code": "Produktkod",
    "quantity": "Antal", "basis": "Underlag", "divisor": "Delat med", "unit": "Enhet",
    "unit_price_ore": "À-pris (kr)", "amount_ore": "Belopp (kr)", "persons": "Personer", "rule": "Regel",
    "detail": "Förklaring", "corrects_month": "Rättar månad", "corrects_line_id": "Rättar rad", "line_id": "Rad-id",
}


def _swedish_column(values: pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """One column as Swedish Excel reads it: öre as kronor with a decimal comma, exact decimals
    with a comma, booleans as ja/nej; no thousands separator (Excel would then read text)."""
    if name.endswith("_ore"):
        text = pc.replace_substring(format_sek(values), ".", ",")
        return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), text)
    if pa.types.is_decimal(values.type) or pa.types.is_floating(values.type):
        return pc.replace_substring(pc.cast(values, pa.string()), ".", ",")
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "ja", "nej")
    return values


def swedish_csv(table: pa.Table, columns: dict[str, str]) -> bytes:
    """`table`'s `columns` (name -> heading, in that order) as CSV for Swedish Excel: UTF-8 with a
    byte order mark, semicolons, decimal commas; whole columns at a time."""
    out = pa.table({heading: _swedish_column(table[name], name) for name, heading in columns.items()})
    sink = io.BytesIO()
    pacsv.write_csv(out, sink, pacsv.WriteOptions(delimiter=";", quoting_style="needed"))
    return BOM + sink.getvalue()


def swedish_lines_csv(data: MonthData, labels: dict[str, str]) -> bytes:
    """The month's lines (all of `data`) for Swedish Excel, components by their Swedish labels."""
    lines = data.lines
    keys = pa.array(list(labels), pa.string())
    named = pc.take(pa.array(list(labels.values()), pa.string()), pc.index_in(lines["component"], value_set=keys))
    lines = lines.set_column(lines.schema.get_field_index("component"), "component",
                             pc.coalesce(named, lines["component"]))
    return swedish_csv(lines, SWEDISH_LINE_COLUMNS)
