"""The analysis splits a year's capitation lines by the year pass's own per-band sums by area
(`YearPass.listed_areas`) instead of listing the persons again: the weights and the population
by area must be exactly those of listing the persons behind each line (`capitation_units`).

Years: 2015 (the born-abroad and competence-development items, 003 Bilaga 2) and 2022 (the
children's mental-health supplement, sick-leave coordination, ACG and CNI), on a small
synthetic region."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ersattning import rulebook
from ersattning.analysis.attribution import capitation_weights
from ersattning.analysis.scenarios import synthetic_engine
from ersattning.period import months_of
from ersattning.products.capitation import PER_LISTED, paid_components
from ersattning.statements import year_pass

YEARS = [2015, 2022]


@pytest.fixture(scope="module")
def region():
    engine, summary = synthetic_engine(1_500, YEARS, seed=7)
    return engine, rulebook.load().for_sample(summary["persons"])


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.mark.parametrize("year", YEARS)
def test_weights_from_the_pass_are_the_listed_persons_weights(region, year):
    engine, book = region
    months = months_of(year)
    done = year_pass(engine, book, year, with_areas=True)
    listed_weights, listed_population = capitation_weights(engine, book, months)
    pass_weights, pass_population = capitation_weights(engine, book, months, listed_areas=done.listed_areas)
    assert _sorted(pass_weights).equals(_sorted(listed_weights))
    assert _sorted(pass_population).equals(_sorted(listed_population))
    # Not vacuous: every per-listed component paid in the year has weights, in more than one area.
    paid = {c for m in months for c in paid_components(book, m) if c in PER_LISTED}
    bases = {b.split(":")[1] for b in pass_weights["basis"].to_pylist() if b.startswith("cap:")}
    assert paid and paid <= bases
    assert len(set(pass_weights["area_code"].to_pylist())) > 1
    # The lines are those of the pass without the split (the per-band table's area is a key only).
    plain = year_pass(engine, book, year)
    for a, b in zip(done.results, plain.results):
        assert a.lines.equals(b.lines)
