"""The downloads' writers without a server: CSV for Swedish Excel (BOM, semicolons, decimal
commas, exact kronor) and the PDF månadsbesked's amounts and quantities."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow as pa

from ersattning.export.csv import BOM, swedish_csv
from ersattning.export.pdf import kronor, quantity


def test_swedish_csv_opens_right_in_swedish_excel():
    table = pa.table({"clinic_id": ["A1", "B;1", "C\"1"], "amount_ore": pa.array([123456789, -5, None], pa.int64()),
                      "quantity": pa.array([Decimal("2402.437800"), Decimal("-0.5"), None], pa.decimal128(38, 6)),
                      "illustrative": [True, False, None]})
    body = swedish_csv(table, {"clinic_id": "Mottagning", "amount_ore": "Belopp (kr)", "quantity": "Antal",
                               "illustrative": "Illustrativ"})
    assert body.startswith(BOM) and body[len(BOM):].decode("utf-8").splitlines()[0].count(";") == 3
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Mottagning", "Belopp (kr)", "Antal", "Illustrativ"]
    # No thousands separator: Excel reads 1234567,89 as a number, "1 234 567,89" as text.
    assert rows[1] == ["A1", "1234567,89", "2402,437800", "ja"]
    assert rows[2] == ["B;1", "-0,05", "-0,500000", "nej"]  # a semicolon in a value is quoted
    assert rows[3] == ['C"1', "", "", ""]


def test_the_pdfs_numbers_are_swedish_and_exact():
    assert kronor(123456789) == "1\u00a0234\u00a0567,89\u00a0kr"
    assert kronor(-5) == "-0,05\u00a0kr" and kronor(0) == "0,00\u00a0kr" and kronor(None) == ""
    assert quantity(Decimal("2402.437800")) == "2\u00a0402,44" and quantity(Decimal("12.000000")) == "12"
    assert quantity(Decimal("0.005")) == "0,01"  # half away from zero
