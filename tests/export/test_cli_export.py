"""`ersattning export` on a tiny database: CSV (DESIGN.md contract), XLSX whose totals equal the CSV's
to the öre, and e-invoices only for issued months (or marked UTKAST with --draft)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.export.xlsx import GROUP_LABELS, SUMMARY_SHEET
from peppol_checks import problems

runner = CliRunner()

# C1 has an organisationsnummer, C2 has none (the column is optional).
FILES = {
    "clinics.csv": "clinic_id,name,group_id,area_code,opened,closed,org_number\n"
    "C1,Vårdcentral Ett,G1,0180-01,2010-01-01,,559900-0014\nC2,Vårdcentral Två,G2,0186,2010-01-01,,\n",
    "persons.csv": "person_id,birth_date,sex,county_code,area_code,valid_from,valid_to\n"
    "199202011087,1992-02-01,F,01,0180-01,,\n195206011156,1952-06-01,M,01,0186,,\n",
    "listings.csv": "person_id,clinic_id,valid_from,valid_to\n199202011087,C1,2020-01-01,\n195206011156,C2,2020-01-01,\n",
    "risk.csv": "person_id,month,acg_weight,cni\n199202011087,2022-01,1.5,1.2\n195206011156,2022-01,2.0,0.9\n",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """March 2022 issued, April 2022 a draft."""
    root = tmp_path_factory.mktemp("exportdb")
    (root / "input").mkdir()
    for name, text in FILES.items():
        (root / "input" / name).write_text(text, encoding="utf-8")
    path = root / "e.duckdb"
    for args in (["load", str(root / "input"), "--db", str(path)],
                 ["run", "--db", str(path), "--month", "2022-03", "--issue"],
                 ["run", "--db", str(path), "--month", "2022-04"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return path


def export(db: Path, out: Path, *args: str):
    return runner.invoke(app, ["export", "--db", str(db), "--output", str(out), *args])


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_is_the_contract(db, tmp_path):
    result = export(db, tmp_path, "--month", "2022-03", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = read(tmp_path / "statement_lines.csv")
    assert list(lines[0])[:8] == ["clinic_id", "month", "component", "product_code", "quantity", "unit_price_sek", "amount_sek", "rule"]
    statements = read(tmp_path / "statements.csv")
    assert list(statements[0]) == ["clinic_id", "month", "fixed_sek", "variable_sek", "goal_sek", "adjustment_sek", "total_sek"]
    # C1: 310/12 + 1.5×1200/12 + 1.2×410/12 + 37/12 = 25.83 + 150.00 + 41.00 + 3.08 (capitation, RULES.md §2)
    # + the 2022 health-promotion pots shared by the two clinics: 415 000/12/2 = 17 291.67, 6 500 000/12 × 1/2 = 270 833.33
    assert next(s for s in statements if s["clinic_id"] == "C1")["total_sek"] == "288344.91"
    one = tmp_path / "one"
    assert export(db, one, "--month", "2022-03", "--format", "csv", "--clinic", "C2").exit_code == 0
    assert {r["clinic_id"] for r in read(one / "statement_lines.csv")} == {"C2"}


def test_xlsx_totals_equal_the_csv_to_the_ore(db, tmp_path):
    assert export(db, tmp_path, "--month", "2022-03", "--format", "csv").exit_code == 0
    result = export(db, tmp_path, "--month", "2022-03", "--format", "xlsx")
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / "statements_2022-03.xlsx")
    assert wb.sheetnames == [SUMMARY_SHEET, *GROUP_LABELS.values()]
    summary = list(wb[SUMMARY_SHEET].iter_rows(values_only=True))
    assert summary[0][:8] == ("Mottagning", "Namn", "Månad", "Fast ersättning", "Rörlig ersättning",
                              "Målrelaterad ersättning", "Justeringar", "Totalt")
    sek = lambda v: Decimal(str(v)).quantize(Decimal("0.01"))  # noqa: E731  (a cell holds a binary number)
    csv_rows = {r["clinic_id"]: r for r in read(tmp_path / "statements.csv")}
    body = [r for r in summary[1:] if r[0] in csv_rows]
    assert len(body) == len(csv_rows) == 2
    for row in body:
        want = csv_rows[row[0]]
        assert [sek(v) for v in row[3:8]] == [Decimal(want[k]) for k in ("fixed_sek", "variable_sek", "goal_sek", "adjustment_sek", "total_sek")]
    total_row = next(r for r in summary if r[0] == "Totalt")
    assert sek(total_row[7]) == sum(Decimal(r["total_sek"]) for r in csv_rows.values())
    # every line sheet's "Totalt" is the sum of its Belopp, and the sheets add up to the CSV lines
    line_total = Decimal(0)
    for name in GROUP_LABELS.values():
        rows = list(wb[name].iter_rows(values_only=True))
        assert rows[0][:7] == ("Mottagning", "Månad", "Komponent", "Produktkod", "Antal", "À-pris (kr)", "Belopp (kr)")
        body = [r for r in rows[1:] if r[0] != "Totalt"]
        assert sek(rows[-1][6]) == sum((sek(r[6]) for r in body), Decimal(0))
        line_total += sek(rows[-1][6])
    assert line_total == sum(Decimal(r["amount_sek"]) for r in read(tmp_path / "statement_lines.csv"))
    # "," is Excel's placeholder for the locale's thousands separator: Swedish Excel shows
    # 10 832 018,22 (a literal space would be text: "10832 018.22").
    assert wb[SUMMARY_SHEET].cell(2, 4).number_format == "#,##0.00"
    assert all(c.number_format == "#,##0.00" for c in next(wb[GROUP_LABELS["fixed"]].iter_rows(min_row=2, max_row=2))[5:7])


def test_ubl_for_an_issued_month_refuses_the_clinic_without_org_number(db, tmp_path):
    result = export(db, tmp_path, "--month", "2022-03", "--format", "ubl")
    assert result.exit_code == 1  # C2 refused: no organisationsnummer, never invented
    assert "C2" in result.output and "org_number" in result.output
    assert sorted(p.name for p in tmp_path.glob("*.xml")) == ["invoice_C1_2022-03.xml"]
    xml = (tmp_path / "invoice_C1_2022-03.xml").read_bytes()
    assert problems(xml) == []
    # 219.91 of capitation (tests/cli) + the 2022 health-promotion pots' halves 17 291.67 + 270 833.33
    assert b"<cbc:PayableAmount currencyID=\"SEK\">288344.91</cbc:PayableAmount>" in xml
    again = tmp_path / "again"
    assert export(db, again, "--month", "2022-03", "--format", "ubl", "--clinic", "C1").exit_code == 0
    assert (again / "invoice_C1_2022-03.xml").read_bytes() == xml  # same month, same file
    assert export(db, again, "--month", "2022-03", "--format", "ubl", "--clinic", "C2").exit_code == 1


def test_ubl_for_a_draft_month_needs_draft_and_is_marked(db, tmp_path):
    refused = export(db, tmp_path, "--month", "2022-04", "--format", "ubl", "--clinic", "C1")
    assert refused.exit_code == 1 and "draft" in refused.output
    assert not list(tmp_path.glob("*.xml"))
    result = export(db, tmp_path, "--month", "2022-04", "--format", "ubl", "--clinic", "C1", "--draft")
    assert result.exit_code == 0, result.output
    xml = (tmp_path / "invoice_C1_2022-04_UTKAST.xml").read_bytes()
    assert b"UTKAST" in xml and problems(xml) == []


def test_a_month_not_computed_and_a_bad_format_are_refused(db, tmp_path):
    assert export(db, tmp_path, "--month", "2022-05", "--format", "csv").exit_code == 1
    assert export(db, tmp_path, "--month", "2022-03", "--format", "pdf").exit_code == 1
