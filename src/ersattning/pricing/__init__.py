"""HEJ: dated price lists — product code × date → unit price, read from the rulebook.

Every krona on a statement is quantity × unit price of a product row, rounded once
(`money.divide_round`). A product without a price is an error, never a silent zero. Which
products there are and which parameter prices each, the components declare (`component.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import ibis
import pyarrow as pa

from ersattning.errors import StatementError
from ersattning.lines import LINE
from ersattning.lines import exact_lines as exact_lines  # where the store has always found it
from ersattning.money import MICRO, divide_round, to_ore
from ersattning.rulebook.components import band_code
from ersattning.rulebook.loader import RulesAt


@dataclass(frozen=True)
class Price:
    """One product's unit price in force, with the rule values it came from."""

    product_code: str
    component: str
    unit_price: Decimal  # SEK per unit of quantity
    unit: str
    divisor: int  # an annual price paid monthly is divided by 12
    rule: str  # rule id @ effective date, "+"-joined when several values add up
    reference: str
    illustrative: bool = False


#: The price list: a product's unit price in force and where it came from (columns of the line).
PRICE_SCHEMA = pa.schema([
    LINE.field(name) for name in ("product_code", "component", "unit_price_ore", "unit", "divisor", "rule", "reference", "illustrative")
])


#: The modules whose product rows are priced from the month's price list (`month_prices`):
#: the other components price their few per-clinic lines themselves (`lines.exact_lines`).
PRICE_LIST_PRODUCERS = ("ersattning.products.capitation",)


def _with_uplift(rules: RulesAt, base: str, uplift: str | None, amount: Decimal,
                 band: tuple[int, int | None] | None = None) -> tuple[Decimal, list[str], list[str], bool]:
    """Base rate plus the temporary uplift when one is in force (RULES.md §2, 2022): for a
    price per age band, the uplift's value for the same band (the bands must be the same)."""
    parts, refs, illustrative = [rules.ref(base)], [rules.get(base).reference], rules.get(base).illustrative
    up = rules.get(uplift) if uplift is not None and uplift in rules.book else None
    if up is not None:
        if band is None:
            amount += up.value
        else:
            by_band = {(lo, hi): value for lo, hi, value in up.value}
            if band not in by_band:
                lo, hi = band
                raise StatementError(f"{uplift} in force from {up.start.isoformat()} has no band "
                                     f"{lo}-{'' if hi is None else hi}: its bands must be those of {base}")
            amount += by_band[band]
        parts.append(rules.ref(uplift))
        refs.append(up.reference)
        illustrative = illustrative or up.illustrative
    return amount, parts, refs, illustrative


def capitation_prices(rules: RulesAt) -> list[Price]:
    """Unit prices in force on the snapshot date of the products the components produced by
    `PRICE_LIST_PRODUCERS` declare (RULES.md §2): each product's `price` parameter, plus its
    `uplift` while one is in force; a code with `{band}` has one price per age band."""
    prices: list[Price] = []
    for component in rules.book.components.values():
        if not any(component.produces(module) for module in PRICE_LIST_PRODUCERS):
            continue
        for product in component.products:
            v = rules.get(product.price) if product.price is not None else None
            if v is None:
                continue
            unit = product.unit or component.unit
            bands = v.value if "band" in product.placeholders else ((None, None, v.value),)
            for lo, hi, amount in bands:
                total, parts, refs, illus = _with_uplift(rules, product.price, product.uplift, amount,
                                                         (lo, hi) if lo is not None else None)
                code = band_code(lo, hi, product.code) if lo is not None else product.code
                prices.append(Price(code, component.name, total, unit, component.divisor, "+".join(parts), "; ".join(refs), illus))
    return prices


def price_table(prices: list[Price], month: str) -> pa.Table:
    """The month's price list as an Arrow table (prices in whole öre)."""
    cols = {f.name: [] for f in PRICE_SCHEMA}
    for p in prices:
        cols["product_code"].append(p.product_code)
        cols["component"].append(p.component)
        cols["unit_price_ore"].append(to_ore(p.unit_price))
        cols["unit"].append(p.unit)
        cols["divisor"].append(p.divisor)
        cols["rule"].append(p.rule)
        cols["reference"].append(p.reference)
        cols["illustrative"].append(p.illustrative)
    table = pa.table(cols, schema=PRICE_SCHEMA)
    return table.append_column("month", pa.array([month] * len(table), pa.string()))


def price_rows(rows: ibis.Table, prices: ibis.Table) -> ibis.Table:
    """Product rows × price list → priced lines with `amount_ore` (one rounding per line)."""
    p = prices.select("month", "product_code", "unit_price_ore", "unit", "divisor", "rule", "reference", "illustrative")
    joined = rows.join(p, ["month", "product_code"], how="left")
    micro = (joined.quantity * MICRO).cast("int64")
    return joined.mutate(amount_ore=divide_round(micro * joined.unit_price_ore, joined.divisor * MICRO))


def check_priced(lines: pa.Table) -> None:
    """Refuse lines whose product has no price in force (a missing price is never a zero)."""
    import pyarrow.compute as pc

    missing = lines.filter(pc.is_null(lines["unit_price_ore"]))
    if len(missing):
        codes = sorted(set(missing["product_code"].to_pylist()))
        months = sorted(set(missing["month"].to_pylist()))
        raise StatementError(f"no price in force for product(s) {', '.join(codes)} in {', '.join(months)}")
