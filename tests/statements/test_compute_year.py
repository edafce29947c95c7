"""`compute_year` shares the year's contact facts and the risk intervals between its months; it
must give exactly the lines of twelve `compute_month` calls and `reconcile_year` (DESIGN.md: a
year = 12 statements per clinic and the annual cap reconciliation)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ersattning import rulebook
from ersattning.analysis.scenarios import synthetic_engine
from ersattning.period import months_of
from ersattning.statements import compute_month, compute_year, reconcile_year


def _sorted(table: pa.Table) -> list[dict]:
    return table.sort_by([(c, "ascending") for c in ("clinic_id", "component", "product_code", "rule")]).to_pylist()


def test_a_year_in_one_pass_gives_the_same_lines_as_twelve_months(monkeypatch):
    from ersattning.products import cap_reduction

    engine, summary = synthetic_engine(2_000, [2019, 2022], seed=11)
    book = rulebook.load().for_sample(summary["persons"])
    recount = cap_reduction._used
    for year in (2019, 2022):  # before and after the 2021 model; caps with doctor/nurse levels and without
        # In one pass the caps' counts come from the months' visit lines: the year is not counted again.
        def no_recount(engine_, book_, contacts_, y, year=year):
            assert y != year, "the year's caps were counted again from its contacts"
            return recount(engine_, book_, contacts_, y)

        monkeypatch.setattr(cap_reduction, "_used", no_recount)
        months, reconciliation = compute_year(engine, book, year)
        monkeypatch.setattr(cap_reduction, "_used", recount)
        assert not engine.shared  # released
        for result, month in zip(months, months_of(year)):
            alone = compute_month(engine, book, month)
            assert _sorted(result.lines) == _sorted(alone.lines), month
            assert result.statements.sort_by("clinic_id").equals(alone.statements.sort_by("clinic_id")), month
        together = pa.concat_tables(reconciliation) if reconciliation else None
        alone = reconcile_year(engine, book, year)
        assert (together is None) == (not alone)
        if alone:
            assert _sorted(together) == _sorted(pa.concat_tables(alone))
            assert pc.sum(together["amount_ore"]).as_py() != 0  # the reconciliation did pay something
