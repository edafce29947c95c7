"""Every clinic of a small synthetic region gets a valid e-invoice (or credit note) whose total is its
statement's, with the synthetic org numbers and real lines: capitation, visits, deductions."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.synth import generate
from peppol_checks import NS, problems

runner = CliRunner()


def test_every_clinic_of_a_synthetic_month_validates(tmp_path):
    generate(tmp_path / "in", persons=1_000, seed=7, first_year=2021, last_year=2022, contact_years=[2022])
    db = str(tmp_path / "e.duckdb")
    for args in (["load", str(tmp_path / "in"), "--db", db],
                 ["report", str(tmp_path / "in" / "contacts.csv"), "--db", db, "--errors", str(tmp_path / "errors.csv")],
                 ["run", "--db", db, "--month", "2022-06", "--issue"],
                 ["export", "--db", db, "--month", "2022-06", "--format", "csv", "--output", str(tmp_path / "out")],
                 ["export", "--db", db, "--month", "2022-06", "--format", "ubl", "--output", str(tmp_path / "out")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    import csv
    with (tmp_path / "out" / "statements.csv").open(encoding="utf-8") as f:
        totals = {r["clinic_id"]: Decimal(r["total_sek"]) for r in csv.DictReader(f)}
    with (tmp_path / "out" / "statement_lines.csv").open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert {r["component"] for r in lines} >= {"capitation_age", "capitation_acg", "visit_fee"}
    docs = sorted((tmp_path / "out").glob("*.xml"))
    assert len(docs) == len({r["clinic_id"] for r in lines}) >= 5
    for path in docs:
        xml = path.read_bytes()
        assert problems(xml) == [], path.name
        root = etree.fromstring(xml)
        clinic = root.xpath("cbc:BuyerReference/text()", namespaces=NS)[0]
        payable = Decimal(root.xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS)[0])
        sign = 1 if etree.QName(root).localname == "Invoice" else -1
        assert sign * payable == totals[clinic], path.name
        n_lines = len(root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS))
        assert n_lines == sum(1 for r in lines if r["clinic_id"] == clinic)
