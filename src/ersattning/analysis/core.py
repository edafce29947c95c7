"""`run_analysis`: statements for every month of the years, split by clinic, component and
area, kept as a few small Arrow tables (`Analysis`) from which every output is derived."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from ersattning.analysis.attribution import attribution
from ersattning.analysis.categories import component_categories
from ersattning.analysis.need import need_cells, person_cells, person_pay
from ersattning.engine import Engine
from ersattning.period import months_of
from ersattning.statements.memo import PassMemo
from ersattning.rulebook.loader import Rulebook
from ersattning.statements import compute_month, year_pass


@dataclass
class Analysis:
    """What the outputs are computed from (amounts in integer öre, counts as means over months).

    - `lines`: year, clinic_id, component, product_code, amount_ore (the statements, summed);
    - `allocated`: the same amounts split by area of residence and listed or not (`attribution`);
    - `population`: year, area_code, residents, listed (means of the twelve month-ends);
    - `visits`: year, clinic_id, patient_area, n (base visits: production and consumption);
    - `clinic_listed`: year, clinic_id, listed (mean of month-ends);
    - `areas`: the report's areas (area_code, name, income_sek, cni, …); `clinics`: clinic_id, name, area_code;
    - `categories`: component → report category, as the rulebook run declares them (empty: the packaged ones);
    - `need_cells`, `need_within`: pay and residents per year, area and (sex, age band, ACG band)
      cell, and per area the within-area sums (`analysis.need`; None when not computed).
    """

    years: list[int]
    rules: str
    lines: pa.Table
    allocated: pa.Table
    population: pa.Table
    visits: pa.Table
    areas: pa.Table
    clinics: pa.Table
    clinic_listed: pa.Table | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)
    categories: dict[str, str] = field(default_factory=dict)
    need_cells: pa.Table | None = None
    need_within: pa.Table | None = None

    def year(self, table: str, year: int) -> pa.Table:
        t = getattr(self, table)
        return t.filter(pc.equal(t["year"], year))


def load_area_table() -> pa.Table:
    """The report's 39 areas (src/ersattning/data/areas.csv): code, name, population, CNI, mean income …"""
    path = resources.files("ersattning") / "data" / "areas.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return pa.table({
        "area_code": [r["area_code"] for r in rows],
        "name": [r["name"] for r in rows],
        "kind": [r["kind"] for r in rows],
        "income_sek": pa.array([int(r["income_sek"]) for r in rows], pa.int64()),
        "cni_area": pa.array([float(r["cni"]) for r in rows]),
    })


#: The columns of the statement lines the analysis reads.
LINE_AMOUNTS = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("component", pa.string()),
                          ("product_code", pa.string()), ("amount_ore", pa.int64())])


def _with_year(t: pa.Table, year: int) -> pa.Table:
    return t.add_column(0, "year", pa.array([year] * t.num_rows, pa.int32()))


def run_analysis(engine: Engine, book: Rulebook, years: Iterable[int], *, label: str = "",
                 stored_lines: Callable[[str], pa.Table | None] | None = None,
                 progress: Callable[[str], None] | None = None, months: Sequence[int] | None = None,
                 need: bool = False, microdata: Callable[[int, list[str], pa.Table], None] | None = None,
                 memo: PassMemo | None = None) -> Analysis:
    """Compute (or, with `stored_lines`, read) every month's statement lines of `years` and split
    them by area. A Python loop runs over months only; each month is whole-table queries.

    `months` (e.g. 3, 6, 9, 12) is a quick look for tests: only those months of each year are
    computed and their amounts and visits scaled to a year (× 12 / number of months, exact in
    öre); population means are over those month-ends. Default: all twelve months. `need`: also
    split the lines by person for the need standardisation (`analysis.need`; about 20 s more a
    year at 50 000 persons).

    `microdata(year, months, lines)` is given each year's statement lines (month by month, not
    scaled), the lines every table is made from (`analysis.microdata` splits them to persons).
    `memo`: what another run on the same engine (a scenario's base) computed — visit passes,
    capitation counts, the reconciliation posted on January, the enrolled persons' and residents'
    counts — given again where the rules they read are the same (`statements.memo.PassMemo`)."""
    years = sorted(set(years))
    picked = sorted(set(months)) if months else list(range(1, 13))
    if 12 % len(picked) or not all(1 <= m <= 12 for m in picked):
        raise ValueError("months must be 1, 2, 3, 4, 6 or 12 distinct months of 1..12")
    scale = 12 // len(picked)
    lines, allocated, population, visits, clinic_listed, cells, within = [], [], [], [], [], [], []
    reconciled: dict[int, list[pa.Table]] = {}
    for i, year in enumerate(years, 1):
        y_lines, y_alloc, y_pop, y_vis, y_cl, y_cell_pay, y_pay = [], [], [], [], [], [], []
        # A whole year not read from a database is computed on the year path (the same lines as
        # twelve months, tests/statements/test_compute_year.py), as `run` does.
        whole, done = {}, None
        whole_year = len(picked) == 12 and stored_lines is None
        if whole_year:
            if progress:
                progress(f"{year} (the year's statements)")
            # The year before's reconciliation, posted on this January, is the one just computed.
            done = year_pass(engine, book, year, previous=reconciled.get(year - 1), with_areas=True, memo=memo)
            reconciled = {year: done.reconciled}
            whole = {r.month: r.lines for r in done.results}
        picked_months = [m for m in months_of(year) if int(m[5:]) in picked]
        for month in picked_months:
            if progress:
                progress(month)
            month_lines = whole.pop(month, None)
            if month_lines is None and stored_lines:
                month_lines = stored_lines(month)
            if month_lines is None:
                month_lines = compute_month(engine, book, month).lines
            y_lines.append(month_lines.select(["month", "clinic_id", "component", "product_code", "amount_ore"]).cast(LINE_AMOUNTS))
        # The year's (or the picked months') lines split by area at once: one pass for all months
        # when they are consecutive, else one per month.
        runs = [picked_months] if len(picked_months) == 12 else [[m] for m in picked_months]
        cells_of = person_cells(engine, picked_months) if need else None
        all_lines = pa.concat_tables(y_lines)
        if microdata is not None:
            microdata(year, picked_months, all_lines)
        for run in runs:
            in_run = all_lines.filter(pc.is_in(all_lines["month"], value_set=pa.array(run)))
            # The visit pass counted the year's contacts per patient area too: not counted again.
            parts = attribution(engine, book, run, in_run, areas=done.areas if done is not None else None,
                                listed_areas=done.listed_areas if done is not None else None, memo=memo)
            y_alloc.append(parts["allocated"].drop_columns(["month"]))
            y_pop.append(parts["population"].drop_columns(["month"]))
            y_vis.append(parts["visits"].drop_columns(["month"]))
            y_cl.append(parts["clinic_listed"].drop_columns(["month"]))
            if need:  # the same lines split by person, for the need standardisation
                cell_pay, pay = person_pay(engine, book, run, in_run, cells_of)
                y_cell_pay.append(cell_pay)
                y_pay.append(pay)
        y_lines = [t.select(["clinic_id", "component", "product_code", "amount_ore"]) for t in y_lines]
        lines.append(_with_year(_sum(pa.concat_tables(y_lines), ["clinic_id", "component", "product_code"], "amount_ore", scale), year))
        allocated.append(_with_year(_sum(pa.concat_tables(y_alloc),
                                         ["clinic_id", "component", "product_code", "area_code", "listed"], "amount_ore", scale), year))
        pop = pa.concat_tables(y_pop).group_by("area_code").aggregate([("residents", "sum"), ("listed", "sum")])
        n = float(len(picked))
        population.append(_with_year(pa.table({
            "area_code": pop["area_code"],
            "residents": pc.divide(pop["residents_sum"], n),
            "listed": pc.divide(pop["listed_sum"], n),
        }), year))
        visits.append(_with_year(_sum(pa.concat_tables(y_vis), ["clinic_id", "patient_area"], "n", scale), year))
        cl = _sum(pa.concat_tables(y_cl), ["clinic_id"], "listed")
        clinic_listed.append(_with_year(cl.set_column(1, "listed", pc.divide(cl["listed"], n)), year))
        if need:
            c, w = need_cells(engine, picked_months, cells_of, pa.concat_tables(y_cell_pay), pa.concat_tables(y_pay), scale)
            cells.append(_with_year(c, year))
            within.append(_with_year(w, year))
        if progress:
            progress(f"done {year} ({i}/{len(years)})")
    clinics = engine["clinics"].select("clinic_id", "name", "area_code").to_pyarrow()
    return Analysis(years, book.origin, pa.concat_tables(lines), pa.concat_tables(allocated), pa.concat_tables(population),
                    pa.concat_tables(visits), load_area_table(), clinics, pa.concat_tables(clinic_listed), label=label,
                    categories=component_categories(book), need_cells=pa.concat_tables(cells) if need else None,
                    need_within=pa.concat_tables(within) if need else None)


def _sum(t: pa.Table, keys: list[str], value: str, scale: int = 1) -> pa.Table:
    g = t.group_by(keys, use_threads=False).aggregate([(value, "sum")]).rename_columns([*keys, value])
    return g if scale == 1 else g.set_column(len(keys), value, pc.multiply(g[value], scale))
