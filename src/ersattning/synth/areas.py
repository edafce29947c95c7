"""The 39 areas of the synthetic region (package data `ersattning/data/areas.csv`).

Columns `area_code`, `name`, `kind` and `population_2017` are copied from the report's area
table (RULES.md §9; /work/shared/data). The other columns are ILLUSTRATIVE figures chosen
to match the qualitative statements in RULES.md §9, NOT official statistics:
`cni` (area Care Need Index; population-weighted mean 1.00, range 0.67–1.40),
`income_sek` (mean disposable income per person and year), `unlisted_share` (share of
residents not listed; population-weighted ≈ 8 %), `acg_level` (area multiplier on the
ACG case-mix weight) and `old_share_factor` (relative weight of residents aged 65+).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

_TEXT_COLUMNS = ("area_code", "name", "kind")


@dataclass(frozen=True)
class Areas:
    """The area table as parallel numpy arrays, in file order."""

    code: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    population: np.ndarray
    cni: np.ndarray
    income_sek: np.ndarray
    unlisted_share: np.ndarray
    acg_level: np.ndarray
    old_share_factor: np.ndarray

    def __len__(self) -> int:
        return len(self.code)

    def index(self, name: str) -> int:
        """Position of the area with this name (or code)."""
        hits = np.flatnonzero((self.name == name) | (self.code == name))
        if len(hits) != 1:
            raise KeyError(name)
        return int(hits[0])

    @property
    def share(self) -> np.ndarray:
        return self.population / self.population.sum()


def areas_table() -> pa.Table:
    """areas.csv as read: codes keep their leading zeros."""
    path = resources.files("ersattning").joinpath("data/areas.csv")
    with resources.as_file(path) as p:
        types = {c: pa.string() for c in _TEXT_COLUMNS}
        return pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types=types))


def load_areas() -> Areas:
    t = areas_table()
    col = lambda name, dtype=None: np.asarray(t[name].to_numpy(zero_copy_only=False), dtype=dtype)  # noqa: E731
    return Areas(
        code=col("area_code", object),
        name=col("name", object),
        kind=col("kind", object),
        population=col("population_2017", np.int64),
        cni=col("cni", np.float64),
        income_sek=col("income_sek", np.int64),
        unlisted_share=col("unlisted_share", np.float64),
        acg_level=col("acg_level", np.float64),
        old_share_factor=col("old_share_factor", np.float64),
    )
