"""Budget-neutral reforms (`ersattning analyze --neutral COMPONENT`): one component's rate
rescaled so that the scenario's total pay for the region equals the base's, to the öre.

The factor is exact: f = (base total − the scenario's other components) / the component's
scenario total, a fraction of öre sums. The component's lines are proportional to its one
rate (quantity × (rate + uplift) / divisor), so rescaling the rate by f scales every line by
f: each line is f × its amount rounded once, half away from zero, to öre; the few öre that
rounding leaves over (at most half an öre per line) go one each to the lines whose rounding
cut most, so the year's total equals the base's exactly (largest remainder).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.analysis.core import Analysis
from ersattning.errors import ErsattningError
from ersattning.rulebook.loader import Rulebook


class NeutralError(ErsattningError):
    """A component cannot be rescaled to make a reform budget-neutral."""


def single_rate(book: Rulebook, component: str) -> tuple[str, str | None]:
    """The one rate parameter (and its uplift, if any) that prices `component`; an error naming
    the component when it has none (age bands, price tables, several products, manual lines)."""
    if component not in book.components:
        raise NeutralError(f"--neutral {component}: no such component in the rulebook (rules/{component}/component.yaml)")
    c = book.component(component)
    priced = [p for p in c.products if p.price]
    if c.manual or len(c.products) != 1 or len(priced) != 1:
        raise NeutralError(f"--neutral {component}: the component has no single rate to rescale "
                           f"({len(c.products)} products, {len(priced)} priced by a parameter; {c.file})")
    price = priced[0].price
    kind = book[price].kind
    if kind != "number":
        raise NeutralError(f"--neutral {component}: its price {price} is of kind {kind}, not a single rate")
    return price, priced[0].uplift


def scale_exact(amounts: np.ndarray, factor: Fraction, target: int | None = None) -> np.ndarray:
    """Each amount (öre) × `factor`, rounded half away from zero; with `target`, the residual of
    that rounding moved one öre at a time to the amounts rounded furthest, so they sum to it.
    Exact: Python integers in an object array (no floats, no int64 overflow)."""
    num, den = factor.numerator, factor.denominator
    prod = np.asarray(amounts, dtype=np.int64).astype(object) * num
    mag = (np.abs(prod) * 2 + den) // (2 * den)
    rounded = np.where(prod < 0, -mag, mag)
    if target is not None and len(rounded):
        residual = int(target - rounded.sum())
        if abs(residual) > len(rounded):
            raise ValueError(f"the target is {residual} öre from the scaled sum: not a residual of rounding")
        cut = prod - rounded * den  # (exact − rounded) × den
        if residual > 0:
            rounded[np.argsort(-cut, kind="stable")[:residual]] += 1
        elif residual < 0:
            rounded[np.argsort(cut, kind="stable")[:-residual]] -= 1
    return rounded.astype(np.int64)


def _round_sek(x: Fraction) -> Decimal:
    """A rate in SEK rounded half away from zero to the öre."""
    cents = x * 100
    mag = (abs(cents.numerator) * 2 + cents.denominator) // (2 * cents.denominator)
    return Decimal(mag if cents >= 0 else -mag) / 100


def _replace_year_component(t: pa.Table, year: int, component: str, amounts_of) -> pa.Table:
    mask = pc.and_(pc.equal(t["year"], year), pc.equal(t["component"], component)).to_numpy(zero_copy_only=False)
    ore = t["amount_ore"].to_numpy().copy()
    ore[mask] = amounts_of(ore[mask])
    return t.set_column(t.schema.get_field_index("amount_ore"), "amount_ore", pa.array(ore, pa.int64()))


def neutralise(base: Analysis, scenario: Analysis, book: Rulebook, component: str) -> tuple[Analysis, pd.DataFrame]:
    """The scenario with `component` rescaled, year by year, so that each year's total equals
    the base's to the öre; and the table of factors and rates (neutral.csv)."""
    price, uplift = single_rate(book, component)
    lines, allocated = scenario.lines, scenario.allocated
    rows = []
    for year in scenario.years:
        base_total = int(pc.sum(base.year("lines", year)["amount_ore"]).as_py() or 0)
        y = scenario.year("lines", year)
        before = int(pc.sum(y["amount_ore"]).as_py() or 0)
        own = int(pc.sum(y.filter(pc.equal(y["component"], component))["amount_ore"]).as_py() or 0)
        if own == 0:
            raise NeutralError(f"--neutral {component}: the component pays nothing in {year}; it cannot be rescaled")
        target = base_total - (before - own)
        factor = Fraction(target, own)
        if factor <= 0:
            raise NeutralError(f"--neutral {component}: in {year} the other components already pay "
                               f"{before - own - base_total} öre more than the base's total; no positive rate makes it neutral")
        lines = _replace_year_component(lines, year, component, lambda a: scale_exact(a, factor, target))
        # the split over areas is scaled by the same factor, its own total rounded once
        alloc_own = int(pc.sum(allocated.filter(pc.and_(pc.equal(allocated["year"], year),
                                                        pc.equal(allocated["component"], component)))["amount_ore"]).as_py() or 0)
        alloc_target = int(scale_exact(np.array([alloc_own]), factor)[0])
        allocated = _replace_year_component(allocated, year, component, lambda a: scale_exact(a, factor, alloc_target))
        rounded_only = int(scale_exact(lines_of(scenario, year, component), factor).sum())
        periods: list[list] = []  # [first, last, rate, uplift]: an uplift not in force counts as 0
        for first, last, (rate, up) in book.at_month_ends((price, uplift or price), dt.date(year, 1, 1), dt.date(year, 12, 31)):
            up = Decimal(up) if uplift and up is not None else Decimal(0)
            if rate is None:
                continue
            if periods and periods[-1][2:] == [rate, up] and periods[-1][1] + dt.timedelta(days=1) == first:
                periods[-1][1] = last
            else:
                periods.append([first, last, rate, up])
        for first, last, rate, up in periods:
            rescaled = _round_sek((Fraction(rate) + Fraction(up)) * factor - Fraction(up))
            rows.append({
                "year": year, "component": component, "parameter": price, "from": first.isoformat(), "to": last.isoformat(),
                "rate_scenario": float(rate), "uplift": float(up), "factor": float(factor),
                "factor_exact": f"{factor.numerator}/{factor.denominator}", "rate_rescaled": float(rescaled),
                "base_total_sek": base_total / 100, "scenario_total_before_sek": before / 100,
                "scenario_total_sek": (before - own + target) / 100, "component_before_sek": own / 100,
                "component_after_sek": target / 100, "residual_ore": target - rounded_only,
            })
    return replace(scenario, lines=lines, allocated=allocated), pd.DataFrame(rows)


def lines_of(a: Analysis, year: int, component: str) -> np.ndarray:
    y = a.year("lines", year)
    return y.filter(pc.equal(y["component"], component))["amount_ore"].to_numpy()
