"""Vectorised helpers for the synthetic region: dates as day numbers, text columns, weighted picks.

Dates are int64 days since 1970-01-01 throughout `synth`; `OPEN` stands for "no end".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OPEN = np.int64(10**7)  # a day number far beyond any real date (year ~29 000): "open-ended"
DAYS_PER_YEAR = 365.2425


def day(year: int, month: int = 1, dom: int = 1) -> int:
    """Day number of a calendar date."""
    return int(np.datetime64(f"{year:04d}-{month:02d}-{dom:02d}", "D").astype(np.int64))


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day number (`OPEN` maps far into the future)."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_end(months: np.ndarray) -> np.ndarray:
    """Day number of the last day of each month index."""
    return (np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1


def date_text(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """ISO `YYYY-MM-DD` strings; null where `missing` (or where the day is `OPEN`)."""
    days = np.asarray(days, dtype=np.int64)
    if missing is None:
        missing = days >= OPEN
    safe = np.where(missing, 0, days).astype(np.int32)
    return pa.array(safe, pa.int32(), mask=np.asarray(missing, dtype=bool)).cast(pa.date32()).cast(pa.string())


def month_text(months: np.ndarray) -> pa.Array:
    """`YYYY-MM` strings of month indexes."""
    first = month_end(np.asarray(months, dtype=np.int64) - 1) + 1
    return pc.utf8_slice_codeunits(date_text(first), 0, 7)


def decimal_text(values: np.ndarray, decimals: int = 4) -> pa.Array:
    """Non-negative numbers as plain decimal text with a fixed number of decimals (`1.2345`).

    Built from integers so that the text is exact and the same on every platform.
    """
    scale = 10**decimals
    scaled = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    if (scaled < 0).any():
        raise ValueError("decimal_text is for non-negative values")
    whole = pc.cast(pa.array(scaled // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(scaled % scale), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to `weights` that sum exactly to `total` (Hamilton's method)."""
    weights = np.asarray(weights, dtype=np.float64)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    quota = weights / weights.sum() * total
    base = np.floor(quota).astype(np.int64)
    short = int(total - base.sum())
    # ties broken by position (stable sort) so the result never depends on float noise order
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:short]] += 1
    return base


def pick_weighted(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """For each row of a (rows, choices) weight matrix, the index of one choice drawn by weight.

    Rows whose weights are all zero get -1.
    """
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    u = rng.random(len(weights)) * total
    idx = (cum <= u[:, None]).sum(axis=1)
    idx = np.minimum(idx, weights.shape[1] - 1)
    return np.where(total > 0, idx, -1)


def top_k_weighted(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of `k` items drawn without replacement with probability by weight (Efraimidis–Spirakis)."""
    weights = np.asarray(weights, dtype=np.float64)
    eligible = np.flatnonzero(weights > 0)
    k = min(k, len(eligible))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(rng.random(len(eligible))) / weights[eligible]
    chosen = eligible[np.argpartition(-keys, k - 1)[:k]]
    return np.sort(chosen)


def draw_from(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` indices drawn with replacement with probability by weight."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())
