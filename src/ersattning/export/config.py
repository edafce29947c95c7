"""The e-invoice's fixed parties and terms: Region Stockholm as buyer, payment terms, the VAT exemption.

Values an administrator may need to change live here, not in the code that writes the XML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Buyer:
    """The invoice's AccountingCustomerParty (PEPPOL BG-7)."""

    name: str
    org_number: str  # 10 digits, PEPPOL scheme 0007 (Swedish organisationsnummer)
    city: str
    country: str


BUYER = Buyer(name="Region Stockholm", org_number="2321000016", city="Stockholm", country="SE")

#: PEPPOL identifier scheme (ISO 6523 ICD) of a Swedish organisationsnummer: endpoint and legal id.
SCHEME_SE_ORG = "0007"

#: Payment terms: due date = issue date + PAYMENT_DAYS calendar days, moved forward to the
#: next Swedish working day (`workdays.due_date`). 30 days is the common public-sector term.
PAYMENT_DAYS = 30

#: BT-10 Buyer reference (PEPPOL-EN16931-R003 requires it or an order reference): the region
#: routes a provider's invoices by the clinic id of its vårdval agreement.
BUYER_REFERENCE = "{clinic_id}"

#: BT-32 Seller tax registration (SE-R-005's wording). An exempt invoice must carry the seller's
#: VAT id or tax registration (BR-E-02); providers under the LOV agreement hold F-skatt, and a
#: VAT number is not derived from an org number we were not told is VAT-registered.
SELLER_TAX_REGISTRATION = "Godkänd för F-skatt"

#: VAT category E (exempt) with the reason as code (BT-121, CEF VATEX list: Art. 132(1)(b) of
#: the VAT directive, medical care by recognised establishments) and as text (BT-120).
VAT_CATEGORY = "E"
VATEX_CODE = "VATEX-EU-132-1B"


def exemption_reason(supply_date: dt.date) -> str:
    """BT-120 text: the Swedish VAT act in force on the supply date (a new act from 2023-07-01).

    Up to 2023-06-30 health care was exempt under 3 kap. 4 § ML (1994:200); from 2023-07-01
    the exemptions are in 10 kap. of mervärdesskattelagen (2023:200).
    """
    if supply_date < dt.date(2023, 7, 1):
        return "Momsfri sjukvård enligt 3 kap. 4 § mervärdesskattelagen (1994:200)"
    return "Momsfri sjukvård enligt 10 kap. mervärdesskattelagen (2023:200)"


#: PEPPOL BIS Billing 3.0 identifiers (BT-24 specification, BT-23 business process).
CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CURRENCY = "SEK"
INVOICE_TYPE = "380"       # UNTDID 1001: commercial invoice
CREDIT_NOTE_TYPE = "381"   # UNTDID 1001: credit note
UNIT_CODE = "C62"          # UN/ECE Rec 20: "one" (a count of persons, contacts or weights)
#: UNCL 4461 code 97, clearing between partners: the region sets a credit note off against
#: its next payment to the provider (a credit note carries its due date on PaymentMeans).
CREDIT_PAYMENT_MEANS = "97"
