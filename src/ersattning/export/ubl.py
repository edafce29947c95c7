"""The provider's e-invoice (VF, seed 004): PEPPOL BIS Billing 3.0, UBL 2.1, one per clinic and month.

The clinic is the seller, Region Stockholm the buyer; health care is exempt from VAT
(category E). A month whose total is positive or zero is an Invoice; a negative total is a
CreditNote for the amount owed back (its lines are the statement's lines with their signs
turned). One invoice line per statement line, so the document's total equals the
statement's total to the öre.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal

from ersattning.export import config as cfg
from ersattning.export.data import ExportError
from ersattning.export.workdays import due_date
from ersattning.money import round_half_away
from ersattning.period import first_day, last_day

NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ET.register_namespace("cac", NS["cac"])
ET.register_namespace("cbc", NS["cbc"])

DRAFT_NOTE = "UTKAST: månaden är inte utfärdad, skicka inte denna faktura. "


@dataclass(frozen=True)
class Seller:
    clinic_id: str
    name: str
    org_number: str  # 10 digits


@dataclass
class Document:
    """One written e-invoice: kind (Invoice or CreditNote), its number and XML bytes."""

    clinic_id: str
    month: str
    kind: str
    number: str
    issue_date: dt.date
    due_date: dt.date
    payable_ore: int
    xml: bytes
    draft: bool = False

    @property
    def file_name(self) -> str:
        stem = "invoice" if self.kind == "Invoice" else "credit_note"
        return f"{stem}_{self.clinic_id}_{self.month}{'_UTKAST' if self.draft else ''}.xml"


def document_number(kind: str, clinic_id: str, month: str) -> str:
    """Deterministic: the same clinic and month always give the same number (VF202203-HLM0001)."""
    prefix = "VF" if kind == "Invoice" else "VFK"
    return f"{prefix}{month.replace('-', '')}-{clinic_id}"


def seller_for(clinic_id: str, clinics: dict[str, dict]) -> Seller:
    """The clinic as seller; refuses a clinic without an org number (never invents one)."""
    info = clinics.get(clinic_id)
    if info is None:
        raise ExportError(f"clinic {clinic_id} is not in the clinics table")
    number = (info.get("org_number") or "").replace("-", "")
    if not number:
        raise ExportError(
            f"clinic {clinic_id} has no org_number: add it to clinics.csv (NNNNNN-NNNN) and load again; "
            "no e-invoice is written without the seller's organisationsnummer"
        )
    return Seller(clinic_id, info.get("name") or clinic_id, number)


def build(seller: Seller, month: str, lines: list[dict], total_ore: int, issue: dt.date, draft: bool = False) -> Document:
    """The clinic's e-invoice for `month` from its statement lines (dicts with the columns of `ersattning.lines.LINE`)."""
    line_sum = sum(line["amount_ore"] for line in lines)
    if line_sum != total_ore:
        raise ExportError(f"clinic {seller.clinic_id} {month}: lines sum to {line_sum} öre, the statement says {total_ore}")
    if not lines:
        raise ExportError(f"clinic {seller.clinic_id} has no statement lines in {month}: nothing to invoice")
    kind = "Invoice" if total_ore >= 0 else "CreditNote"
    sign = 1 if kind == "Invoice" else -1  # a credit note states the amount owed back as positive
    payable = sign * total_ore
    number = document_number(kind, seller.clinic_id, month)
    due = due_date(issue)

    root = ET.Element(f"{{{NS[kind]}}}{kind}")
    _cbc(root, "CustomizationID", cfg.CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", cfg.PROFILE_ID)
    _cbc(root, "ID", number)
    _cbc(root, "IssueDate", issue.isoformat())
    if kind == "Invoice":
        _cbc(root, "DueDate", due.isoformat())
        _cbc(root, "InvoiceTypeCode", cfg.INVOICE_TYPE)
    else:
        _cbc(root, "CreditNoteTypeCode", cfg.CREDIT_NOTE_TYPE)
    title = "Vårdval Stockholm, husläkarverksamhet: ersättning" if kind == "Invoice" else "Vårdval Stockholm: återbetalning"
    _cbc(root, "Note", (DRAFT_NOTE if draft else "") + f"{title} för {month} enligt månadsbesked ({seller.clinic_id}).")
    _cbc(root, "DocumentCurrencyCode", cfg.CURRENCY)
    _cbc(root, "BuyerReference", cfg.BUYER_REFERENCE.format(clinic_id=seller.clinic_id))
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", first_day(month).isoformat())
    _cbc(period, "EndDate", last_day(month).isoformat())
    _party(_cac(_cac(root, "AccountingSupplierParty"), "Party"), seller.name, seller.org_number, None, seller=True)
    _party(_cac(_cac(root, "AccountingCustomerParty"), "Party"), cfg.BUYER.name, cfg.BUYER.org_number, cfg.BUYER.city)
    if kind == "CreditNote":  # UBL 2.1 CreditNote has no DueDate: BT-9 goes on the payment means
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", cfg.CREDIT_PAYMENT_MEANS)
        _cbc(means, "PaymentDueDate", due.isoformat())
    terms = _cac(root, "PaymentTerms")
    _cbc(terms, "Note", f"{cfg.PAYMENT_DAYS} dagar, förfallodag {due.isoformat()} (nästa bankdag)")
    exemption = cfg.exemption_reason(last_day(month))
    tax = _cac(root, "TaxTotal")
    _amount(tax, "TaxAmount", 0)
    sub = _cac(tax, "TaxSubtotal")
    _amount(sub, "TaxableAmount", payable)
    _amount(sub, "TaxAmount", 0)
    _tax_category(sub, "TaxCategory", exemption)
    totals = _cac(root, "LegalMonetaryTotal")
    for name in ("LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount"):
        _amount(totals, name, payable)
    for n, line in enumerate(lines, start=1):
        _line(root, kind, n, line, sign)
    ET.indent(root)
    # The document's own namespace as the default one (<Invoice xmlns="…">), as PEPPOL's examples write it.
    ET.register_namespace("", NS[kind])
    xml = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return Document(seller.clinic_id, month, kind, number, issue, due, payable, xml, draft)


def line_terms(line: dict, sign: int = 1) -> tuple[Decimal, int, int, int]:
    """(quantity, price in öre ≥ 0, base quantity, line amount in öre) for one statement line.

    Where the line's amount is exactly round(basis × unit price ÷ divisor) the invoice shows
    that arithmetic (quantity = basis, price per `divisor` units: an annual amount per person
    over 12 months); otherwise (a correction, a manual line) quantity ±1 at the amount.
    A price is never negative (BR-27): a deduction's sign goes on the quantity.
    """
    amount = sign * line["amount_ore"]
    basis, divisor, price = line.get("basis"), line.get("divisor"), line.get("unit_price_ore")
    if basis is not None and divisor and price is not None:
        if round_half_away(Decimal(basis) * price / divisor) == line["amount_ore"]:
            quantity = Decimal(basis) * sign * (1 if price >= 0 else -1)
            return quantity, abs(price), int(divisor), amount
    return Decimal(1 if amount >= 0 else -1), abs(amount), 1, amount


def _line(root, kind: str, n: int, line: dict, sign: int) -> None:
    quantity, price, base, amount = line_terms(line, sign)
    el = _cac(root, "InvoiceLine" if kind == "Invoice" else "CreditNoteLine")
    _cbc(el, "ID", str(n))
    _cbc(el, "Note", f"Rad {line['line_id']}" + (f", regel {line['rule']}" if line.get("rule") else ""))
    _cbc(el, "InvoicedQuantity" if kind == "Invoice" else "CreditedQuantity", _quantity(quantity), unitCode=cfg.UNIT_CODE)
    _amount(el, "LineExtensionAmount", amount)
    item = _cac(el, "Item")
    _cbc(item, "Description", line["component"])
    _cbc(item, "Name", line["product_code"])
    _cbc(_cac(item, "SellersItemIdentification"), "ID", line["product_code"])
    _tax_category(item, "ClassifiedTaxCategory", None)
    price_el = _cac(el, "Price")
    _amount(price_el, "PriceAmount", price)
    if base != 1:
        _cbc(price_el, "BaseQuantity", str(base), unitCode=cfg.UNIT_CODE)


def _party(party, name: str, org_number: str, city: str | None, seller: bool = False) -> None:
    _cbc(party, "EndpointID", org_number, schemeID=cfg.SCHEME_SE_ORG)
    _cbc(_cac(party, "PartyName"), "Name", name)
    address = _cac(party, "PostalAddress")
    if city:
        _cbc(address, "CityName", city)
    _cbc(_cac(address, "Country"), "IdentificationCode", cfg.BUYER.country if not seller else "SE")
    if seller:
        scheme = _cac(party, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", cfg.SELLER_TAX_REGISTRATION)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "TAX")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", name)
    _cbc(legal, "CompanyID", org_number, schemeID=cfg.SCHEME_SE_ORG)


def _tax_category(parent, tag: str, exemption: str | None) -> None:
    cat = _cac(parent, tag)
    _cbc(cat, "ID", cfg.VAT_CATEGORY)
    _cbc(cat, "Percent", "0")
    if exemption is not None:  # the reason is stated once, in the VAT breakdown (BR-E-10)
        _cbc(cat, "TaxExemptionReasonCode", cfg.VATEX_CODE)
        _cbc(cat, "TaxExemptionReason", exemption)
    _cbc(_cac(cat, "TaxScheme"), "ID", "VAT")


def _cac(parent, tag: str):
    return ET.SubElement(parent, f"{{{NS['cac']}}}{tag}")


def _cbc(parent, tag: str, text: str, **attrs):
    el = ET.SubElement(parent, f"{{{NS['cbc']}}}{tag}", attrs)
    el.text = text
    return el


def _amount(parent, tag: str, ore: int):
    return _cbc(parent, tag, sek_text(ore), currencyID=cfg.CURRENCY)


def sek_text(ore: int) -> str:
    """Öre as an XML decimal with two decimals ("-1234.05"), exact."""
    return f"{Decimal(int(ore)).scaleb(-2):.2f}"


def _quantity(q: Decimal) -> str:
    return format(q.normalize(), "f") if q else "0"
