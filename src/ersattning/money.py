"""Exact money: integer öre in the engine, one rounding step (half away from zero) per line.

`divide_round` is the documented rounding place: a line's amount is
round(quantity × unit price / divisor) in öre, computed on integers only (DuckDB and
Spark both divide integers through a double, so the division here is made exact first).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MICRO = 1_000_000  # quantities are DECIMAL(18,6): 10^6 micro-units per unit


def to_ore(sek: Decimal | int | str) -> int:
    """Whole öre from an exact SEK amount; refuses fractions of an öre (prices are exact)."""
    ore = Decimal(sek) * 100
    if ore != ore.to_integral_value():
        raise ValueError(f"{sek} SEK is not a whole number of öre")
    return int(ore)


def round_half_away(x: Decimal, places: int = 0) -> Decimal:
    """Round a Decimal half away from zero (Python's ROUND_HALF_UP is away from zero)."""
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def divide_round(numerator: ibis.expr.types.IntegerValue, divisor: ibis.expr.types.IntegerValue):
    """round(numerator / divisor) half away from zero, exact for int64 operands (divisor > 0).

    m = |n| + d div 2; m − (m mod d) is an exact multiple of d, so dividing it through a
    double and rounding to the nearest integer gives the exact quotient.
    """
    m = numerator.abs() + (divisor // 2).cast("int64")
    whole = m - (m % divisor)
    quotient = (whole / divisor).round(0).cast("int64")
    return ibis.ifelse(numerator < 0, -quotient, quotient)


def format_sek(ore: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Öre as SEK text with two decimals ("-1234.05"), vectorised, exact."""
    values = np.asarray(pc.fill_null(ore, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    if not len(values):  # numpy's string ops cannot size an empty column
        return pa.array([], pa.string())
    sign = np.where(values < 0, "-", "")
    whole, frac = np.divmod(np.abs(values), 100)
    text = np.char.add(np.char.add(np.char.add(sign, whole.astype(str)), "."), np.char.zfill(frac.astype(str), 2))
    return pa.array(text, pa.string())


def sek_text(ore: int) -> str:
    """Öre as SEK for people to read: spaces between thousands, two decimals ("-12 345.05")."""
    sign = "-" if ore < 0 else ""
    whole, frac = divmod(abs(int(ore)), 100)
    return f"{sign}{whole:,}".replace(",", " ") + f".{frac:02d}"
