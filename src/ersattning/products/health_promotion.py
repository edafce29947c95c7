"""Population health-promotion pots (hälsofrämjande insatser, RULES.md §2; 003 Bilaga 2).

Each year's two pots are paid a twelfth a month: one split equally between the clinics
with listed persons that month, one by their share of the persons listed. Each line is
rounded once, so a month's lines can differ from the pot's twelfth by a few öre.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from ersattning.lines import exact_lines
from ersattning.money import to_ore
from ersattning.period import last_day
from ersattning.rulebook.loader import Rulebook


def health_promotion_lines(book: Rulebook, month: str, listed: dict[str, int]) -> pa.Table:
    rules = book.at(last_day(month))
    paying = {c: n for c, n in sorted(listed.items()) if n}
    records = []
    if not paying:
        return exact_lines(records)
    total = sum(paying.values())
    for name, basis_of, divisor in (
        ("health_promotion.equal_pot", lambda n: 1, 12 * len(paying)),
        ("health_promotion.listed_pot", lambda n: n, 12 * total),
    ):
        code = book.code("health_promotion", name)
        pot = rules.get(name)
        if pot is None:
            continue
        for clinic, n in paying.items():
            records.append({
                "clinic_id": clinic, "month": month, "component": "health_promotion", "product_code": code,
                "quantity": Decimal(basis_of(n)), "divisor": divisor, "unit_price_ore": to_ore(pot.value),
                "unit": "share of the yearly pot (a twelfth a month)", "persons": n,
                "rule": rules.ref(name), "reference": pot.reference, "illustrative": bool(pot.illustrative),
                "detail": (f"1 of {len(paying)} clinics with listed persons" if name.endswith("equal_pot")
                           else f"{n} of {total} persons listed in the region"),
            })
    return exact_lines(records)
