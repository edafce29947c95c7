"""The e-invoice (VF builds the provider's electronic invoice, seed 004; RULES.md §6): PEPPOL BIS
Billing 3.0 in UBL 2.1, checked against the UBL 2.1 XSD and the BIS rules (see peppol_checks.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from ersattning.export import ExportError
from ersattning.export.ubl import Seller, build, document_number, line_terms, seller_for
from peppol_checks import NS, problems

SELLER = Seller("HLM0001", "Vårdcentralen Ett", "5599000014")
ISSUE = dt.date(2022, 4, 5)


def line(line_id, component, product, amount_ore, basis=None, divisor=None, price=None, clinic="HLM0001"):
    return {
        "line_id": line_id, "clinic_id": clinic, "month": "2022-03", "component": component, "product_code": product,
        "quantity": None if basis is None else Decimal(basis) / divisor, "basis": None if basis is None else Decimal(basis),
        "divisor": divisor, "unit": None, "unit_price_ore": price, "amount_ore": amount_ore,
        "rule": None, "reference": None, "illustrative": False, "persons": None, "snapshot": None,
    }


# ACG weights 1234.567890 × 1 200 kr / 12 = 123 456.7890 kr → 123 456.79 kr (one rounding per line)
ACG = line("HLM0001:2022-03:CAP_ACG", "capitation_acg", "CAP_ACG", 12_345_679, "1234.567890", 12, 120_000)
# three own patients seen elsewhere, −300 kr each (seed 002): −900.00 kr
DEDUCTION = line("HLM0001:2022-03:DED_OWN_ELSEWHERE", "deduction_own_patient_elsewhere", "DED_OWN_ELSEWHERE", -90_000, "3", 1, -30_000)
# an adjustment line with no unit arithmetic: −12.34 kr
ADJUSTMENT = line("HLM0001:2022-03:ADJ", "adjustment", "ADJUSTMENT", -1_234)
# two visits at 115 kr
VISITS = line("HLM0001:2022-03:VF_BASE", "visit_fee", "VF_BASE", 23_000, "2", 1, 11_500)


def amounts(xml: bytes, path: str) -> list[Decimal]:
    return [Decimal(t) for t in etree.fromstring(xml).xpath(path + "/text()", namespaces=NS)]


def test_a_positive_month_is_a_valid_invoice_whose_total_is_the_statement_total():
    lines = [ACG, DEDUCTION, ADJUSTMENT]
    total = 12_345_679 - 90_000 - 1_234  # 122 544.45 kr
    doc = build(SELLER, "2022-03", lines, total, ISSUE)
    assert doc.kind == "Invoice" and doc.number == "VF202203-HLM0001"
    assert problems(doc.xml) == []
    assert amounts(doc.xml, "cac:LegalMonetaryTotal/cbc:PayableAmount") == [Decimal("122544.45")]
    assert sum(amounts(doc.xml, "cac:InvoiceLine/cbc:LineExtensionAmount")) == Decimal("122544.45")
    # negative lines stay negative in a positive invoice, with the sign on the quantity (BR-27)
    assert amounts(doc.xml, "cac:InvoiceLine/cbc:LineExtensionAmount") == [Decimal("123456.79"), Decimal("-900.00"), Decimal("-12.34")]
    assert amounts(doc.xml, "cac:InvoiceLine/cac:Price/cbc:PriceAmount") == [Decimal("1200.00"), Decimal("300.00"), Decimal("12.34")]
    root = etree.fromstring(doc.xml)
    assert root.xpath("cac:InvoiceLine[1]/cbc:InvoicedQuantity/text()", namespaces=NS) == ["1234.56789"]
    assert root.xpath("cac:InvoiceLine[1]/cac:Price/cbc:BaseQuantity/text()", namespaces=NS) == ["12"]
    assert root.xpath("cac:InvoiceLine[2]/cbc:InvoicedQuantity/text()", namespaces=NS) == ["-3"]


def test_parties_vat_exemption_and_due_date():
    doc = build(SELLER, "2022-03", [ACG], 12_345_679, ISSUE)
    root = etree.fromstring(doc.xml)
    v = lambda p: root.xpath(p + "/text()", namespaces=NS)  # noqa: E731
    assert v("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID") == ["5599000014"]
    assert v("cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID") == ["2321000016"]
    assert v("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID") == ["2321000016"]
    assert v("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == ["E"]
    assert v("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode") == ["VATEX-EU-132-1B"]
    # March 2022 was supplied under ML (1994:200); a month from July 2023 under the new act
    assert "3 kap. 4 §" in v("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason")[0]
    later = etree.fromstring(build(SELLER, "2023-09", [dict(ACG, month="2023-09")], 12_345_679, ISSUE).xml)
    assert "(2023:200)" in later.xpath("//cbc:TaxExemptionReason/text()", namespaces=NS)[0]
    # 2022-04-05 + 30 days = Thursday 2022-05-05, a working day
    assert v("cbc:DueDate") == ["2022-05-05"] and v("cbc:BuyerReference") == ["HLM0001"]
    assert v("cbc:DocumentCurrencyCode") == ["SEK"]
    assert v("cac:InvoicePeriod/cbc:StartDate") + v("cac:InvoicePeriod/cbc:EndDate") == ["2022-03-01", "2022-03-31"]


def test_a_negative_month_is_a_valid_credit_note_for_the_amount_owed_back():
    # 2 visits × 115 kr − 3 × 300 kr = 230.00 − 900.00 = −670.00 kr
    doc = build(SELLER, "2022-03", [VISITS, DEDUCTION], 23_000 - 90_000, ISSUE)
    assert doc.kind == "CreditNote" and doc.number == "VFK202203-HLM0001"
    assert doc.file_name == "credit_note_HLM0001_2022-03.xml"
    assert problems(doc.xml) == []
    assert amounts(doc.xml, "cac:LegalMonetaryTotal/cbc:PayableAmount") == [Decimal("670.00")]
    assert amounts(doc.xml, "cac:CreditNoteLine/cbc:LineExtensionAmount") == [Decimal("-230.00"), Decimal("900.00")]
    assert etree.fromstring(doc.xml).xpath("cac:PaymentMeans/cbc:PaymentDueDate/text()", namespaces=NS) == ["2022-05-05"]


def test_a_broken_invoice_fails_validation():
    good = build(SELLER, "2022-03", [ACG, DEDUCTION], 12_345_679 - 90_000, ISSUE).xml
    assert problems(good) == []
    # UBL is an ordered schema: the due date after the type code is not UBL 2.1
    root = etree.fromstring(good)
    due = root.find("cbc:DueDate", NS)
    root.remove(due)
    root.find("cbc:InvoiceTypeCode", NS).addnext(due)
    assert any(p.startswith("XSD") for p in problems(etree.tostring(root)))
    # a line 1 kr off its quantity × price: BR-CO-10 (line sum ≠ total, line ≠ qty × price) and R120
    off = good.replace(b">123456.79<", b">123457.79<", 1)
    found = problems(off)
    assert any(p.startswith("BR-CO-10") for p in found) and any("R120" in p for p in found)
    # no buyer reference: PEPPOL-EN16931-R003
    root = etree.fromstring(good)
    root.remove(root.find("cbc:BuyerReference", NS))
    assert any("R003" in p for p in problems(etree.tostring(root)))
    # a wrong check digit in the seller's organisationsnummer: SE-R-013
    assert any("SE-R-013" in p for p in problems(good.replace(b">5599000014<", b">5599000015<")))
    # no exemption reason on category E: BR-E-10
    root = etree.fromstring(good)
    cat = root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    for tag in ("cbc:TaxExemptionReasonCode", "cbc:TaxExemptionReason"):
        cat.remove(cat.find(tag, NS))
    assert any(p.startswith("BR-E-10") for p in problems(etree.tostring(root)))


def test_lines_that_do_not_sum_to_the_statement_total_are_refused():
    with pytest.raises(ExportError, match="lines sum to"):
        build(SELLER, "2022-03", [ACG], 12_345_678, ISSUE)


def test_line_terms_show_the_line_arithmetic_or_fall_back_to_one_at_the_amount():
    assert line_terms(ACG) == (Decimal("1234.567890"), 120_000, 12, 12_345_679)
    assert line_terms(DEDUCTION) == (Decimal(-3), 30_000, 1, -90_000)
    assert line_terms(ADJUSTMENT) == (Decimal(-1), 1_234, 1, -1_234)
    # in a credit note every sign turns
    assert line_terms(DEDUCTION, -1) == (Decimal(3), 30_000, 1, 90_000)
    # a stored amount that is not round(basis × price ÷ divisor) (e.g. a manual line) is shown as 1 × amount
    odd = dict(VISITS, amount_ore=23_001)
    assert line_terms(odd) == (Decimal(1), 23_001, 1, 23_001)


def test_no_org_number_no_invoice_and_numbers_are_deterministic():
    with pytest.raises(ExportError, match="no org_number"):
        seller_for("HLM0002", {"HLM0002": {"name": "Utan nummer", "org_number": None}})
    assert seller_for("HLM0001", {"HLM0001": {"name": "Ett", "org_number": "5599000014"}}).org_number == "5599000014"
    assert document_number("Invoice", "HLM0001", "2022-03") == document_number("Invoice", "HLM0001", "2022-03")
    assert document_number("Invoice", "HLM0001", "2022-03") != document_number("Invoice", "HLM0001", "2022-04")
    a = build(SELLER, "2022-03", [ACG], 12_345_679, ISSUE).xml
    assert a == build(SELLER, "2022-03", [ACG], 12_345_679, ISSUE).xml


def test_a_draft_says_so_in_its_note_and_file_name():
    doc = build(SELLER, "2022-03", [ACG], 12_345_679, ISSUE, draft=True)
    assert doc.file_name.endswith("_UTKAST.xml")
    assert etree.fromstring(doc.xml).find("cbc:Note", NS).text.startswith("UTKAST")
    assert problems(doc.xml) == []


def test_claims_lines_go_on_the_invoice_with_their_arithmetic():
    # medical_service (003 Bilaga 1): 1612.50 SEK of shared-cost orders × −0.80 = −1290.00 SEK;
    # 0.07 SEK × −0.80 = −0.056 SEK → −0.06 SEK (half away from zero, once);
    # requisition_drugs (000): 3 units × 1150 SEK = 3450.00 SEK.
    shared = line("HLM0001:2022-03:MEDICAL_SERVICE_SHARED", "medical_service", "MEDICAL_SERVICE_SHARED", -129_000, "1612.50", 1, -80)
    tiny = line("HLM0001:2022-03:MEDICAL_SERVICE_SHARED@x", "medical_service", "MEDICAL_SERVICE_SHARED", -6, "0.07", 1, -80)
    drug = line("HLM0001:2022-03:REQUISITION_B03AC01", "requisition_drugs", "REQUISITION_B03AC01", 345_000, "3", 1, 115_000)
    doc = build(SELLER, "2022-03", [ACG, shared, tiny, drug], 12_345_679 - 129_000 - 6 + 345_000, ISSUE)
    assert problems(doc.xml) == []
    assert amounts(doc.xml, "cac:InvoiceLine/cbc:LineExtensionAmount")[1:] == [Decimal("-1290.00"), Decimal("-0.06"), Decimal("3450.00")]
    assert amounts(doc.xml, "cac:InvoiceLine/cac:Price/cbc:PriceAmount")[1:] == [Decimal("0.80"), Decimal("0.80"), Decimal("1150.00")]
    assert line_terms(shared) == (Decimal("-1612.50"), 80, 1, -129_000)
