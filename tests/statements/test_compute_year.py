"""`compute_year` computes the twelve months in one pass (their month-ends' capitation in one
query, their contacts in passes of several months, each month's rules); it must give exactly the
lines of twelve `compute_month` calls and `reconcile_year` (DESIGN.md: a year = 12 statements per
clinic and the annual cap reconciliation)."""

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


def test_rules_changing_within_the_year_and_passes_of_a_few_months(monkeypatch, tmp_path):
    """Rules read at a month's end (the peripheral areas, the new-clinic window, the age bands'
    amounts, the care guarantee's days) changing in the middle of the year: each month of the
    one-pass year reads its own month's values, as the month alone does; and contacts priced in
    passes of five months (5 + 5 + 2) give the same lines as one pass."""
    from ersattning.period import months_of

    engine, summary = synthetic_engine(1_500, [2022], seed=5)
    reform = tmp_path / "mid_year.yaml"
    reform.write_text(
        "description: rules changing in mid-2022 (test)\nparameters:\n"
        "  supplement_peripheral_home_visit.areas:\n    values:\n"
        "      2022-07-01: {value: [\"0180-01\", \"0162\", \"0184\"], reference: test}\n"
        "  new_clinic.window_months:\n    values:\n      2022-05-01: {value: 3, reference: test}\n"
        "  goal_care_guarantee.assessment_days:\n    values:\n      2022-09-01: {value: 1, reference: test}\n",
        encoding="utf-8")
    book = rulebook.apply_reform(rulebook.load().for_sample(summary["persons"]), reform)
    months, _ = compute_year(engine, book, 2022)
    for result, month in zip(months, months_of(2022)):
        assert _sorted(result.lines) == _sorted(compute_month(engine, book, month).lines), month
    monkeypatch.setenv("ERSATTNING_VISIT_PASS_MONTHS", "5")
    in_passes, _ = compute_year(engine, book, 2022)
    for one, five in zip(months, in_passes):
        assert _sorted(one.lines) == _sorted(five.lines), one.month
        assert one.held == five.held


def test_consecutive_years_post_the_year_befores_reconciliation_without_counting_it_again(monkeypatch):
    """A run or an analysis of 2021–2022 posts 2021's caps and quality goals on 2022-01 from
    `compute_year(2021)`: the same January lines as counting 2021's contacts anew (RULES.md §5,
    the caps reconciled in January of the next year)."""
    from ersattning.products import cap_reduction

    engine, summary = synthetic_engine(2_000, [2021, 2022], seed=5)
    book = rulebook.load().for_sample(summary["persons"])
    _, reconciled_2021 = compute_year(engine, book, 2021)
    assert reconciled_2021 and pc.sum(pa.concat_tables(reconciled_2021)["amount_ore"]).as_py() != 0
    counted_anew = compute_year(engine, book, 2022)[0][0]

    def no_recount(*args):
        raise AssertionError("2021's caps were counted again from its contacts")

    monkeypatch.setattr(cap_reduction, "_used", no_recount)
    posted = compute_year(engine, book, 2022, previous=reconciled_2021)[0][0]
    assert posted.month == "2022-01"
    assert _sorted(posted.lines) == _sorted(counted_anew.lines)
    assert posted.statements.sort_by("clinic_id").equals(counted_anew.statements.sort_by("clinic_id"))
