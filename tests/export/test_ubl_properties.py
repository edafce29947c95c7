"""Invariants of the e-invoice (hypothesis): for any statement lines, the document validates, its
payable amount is |statement total| to the öre and it is an Invoice exactly when the total is ≥ 0."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ersattning.export.ubl import Seller, build
from ersattning.money import round_half_away
from peppol_checks import NS, problems

SELLER = Seller("HLM0001", "Vårdcentralen Ett", "5599000014")


@st.composite
def statement_line(draw, n: int):
    divisor = draw(st.sampled_from([1, 12]))
    basis = Decimal(draw(st.integers(0, 10**10))).scaleb(-6)  # up to 10 000 with 6 decimals (ACG sums)
    price = draw(st.integers(-50_000, 500_000))               # öre, deductions negative
    arithmetic = draw(st.booleans())
    amount = int(round_half_away(basis * price / divisor)) if arithmetic else draw(st.integers(-10**7, 10**7))
    return {"line_id": f"L{n}", "component": "visit_fee", "product_code": f"P{n}", "basis": basis if arithmetic else None,
            "divisor": divisor if arithmetic else None, "unit_price_ore": price if arithmetic else None,
            "amount_ore": amount, "rule": None}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6).flatmap(lambda k: st.tuples(*[statement_line(i) for i in range(k)])))
def test_any_lines_give_a_valid_document_for_the_total(lines):
    total = sum(line["amount_ore"] for line in lines)
    doc = build(SELLER, "2022-03", list(lines), total, dt.date(2022, 4, 5))
    assert problems(doc.xml) == []
    assert doc.kind == ("Invoice" if total >= 0 else "CreditNote")
    payable = Decimal(etree.fromstring(doc.xml).xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS)[0])
    assert payable * 100 == abs(total)
