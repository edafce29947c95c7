"""HEJ: dated price lists — product code × date → unit price, read from the rulebook.

Every krona on a statement is quantity × unit price of a product row, rounded once
(`money.divide_round`). A product without a price is an error, never a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import ibis
import pyarrow as pa

from ersattning.errors import StatementError
from ersattning.lines import LINE, PRICED
from ersattning.money import MICRO, divide_round, round_half_away, to_ore
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


def band_code(lo: int, hi: int | None) -> str:
    return f"CAP_AGE_{lo}_{hi}" if hi is not None else f"CAP_AGE_{lo}_PLUS"


def _with_uplift(rules: RulesAt, base: str, uplift: str, amount: Decimal) -> tuple[Decimal, list[str], list[str], bool]:
    """Base rate plus the temporary uplift when one is in force (RULES.md §2, 2022)."""
    parts, refs, illustrative = [rules.ref(base)], [rules.get(base).reference], rules.get(base).illustrative
    up = rules.get(uplift) if uplift in rules.book else None
    if up is not None:
        amount += up.value
        parts.append(rules.ref(uplift))
        refs.append(up.reference)
        illustrative = illustrative or up.illustrative
    return amount, parts, refs, illustrative


def capitation_prices(rules: RulesAt) -> list[Price]:
    """Unit prices of the capitation products in force on the snapshot date (RULES.md §2)."""
    prices: list[Price] = []
    bands = rules.get("capitation_age.amounts")
    if bands is not None:
        for lo, hi, amount in bands.value:
            total, parts, refs, illus = _with_uplift(rules, "capitation_age.amounts", "capitation_age.temporary_uplift", amount)
            prices.append(Price(band_code(lo, hi), "capitation_age", total, "SEK/listed/year", 12, "+".join(parts), "; ".join(refs), illus))
    for component, name, code in (
        ("capitation_acg", "capitation_acg.rate", "CAP_ACG"),
        ("capitation_cni", "capitation_cni.rate", "CAP_CNI"),
    ):
        v = rules.get(name)
        if v is not None:
            total, parts, refs, illus = _with_uplift(rules, name, f"{component}.temporary_uplift", v.value)
            prices.append(Price(code, component, total, "SEK/listed/year", 12, "+".join(parts), "; ".join(refs), illus))
    for component, name, code, unit in (
        ("capitation_on_call", "capitation_on_call.amount", "CAP_ON_CALL", "SEK/listed/year"),
        ("capitation_sick_leave_coordination", "capitation_sick_leave_coordination.amount", "CAP_SICK_LEAVE", "SEK/listed/year"),
        ("capitation_home_care", "capitation_home_care.amount", "CAP_HOME_CARE", "SEK/enrolled/year"),
        ("capitation_child_mental_health", "capitation_child_mental_health.amount", "CAP_CHILD_MH", "SEK/listed/year"),
    ):
        v = rules.get(name)
        if v is not None:
            prices.append(Price(code, component, v.value, unit, 12, rules.ref(name), v.reference, v.illustrative))
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


def exact_lines(records: list[dict]) -> pa.Table:
    """Priced lines from per-clinic records whose divisor differs per line (caps, pots, goals).

    Each record gives `quantity` (the exact basis, a Decimal with at most 6 decimals),
    `divisor` and `unit_price_ore`; the amount is round(basis × price / divisor), half
    away from zero, computed once in exact Decimal arithmetic. These are a few lines per
    clinic (never per person or contact), so plain Python here is the clear choice.
    """
    rows = []
    for r in records:
        basis = Decimal(r["quantity"])
        if basis != basis.quantize(Decimal("0.000001")):
            raise StatementError(f"{r['product_code']}: basis {basis} has more than 6 decimals")
        amount = round_half_away(basis * Decimal(r["unit_price_ore"]) / Decimal(r["divisor"]))
        rows.append({
            "persons": None, "snapshot": None, "illustrative": False, "detail": None, **r,
            "quantity": basis, "amount_ore": int(amount),
        })
    return pa.Table.from_pylist(rows, schema=PRICED)
