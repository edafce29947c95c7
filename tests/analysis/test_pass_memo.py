"""A scenario's visit passes are its base's only when provably the same (`visits.PassMemo`): a
reform of a capitation rate gives the base's pass again; a reform of a visit price, or a
scenario that replaces an input table, computes its own. Either way the scenario's lines are
exactly those of computing it afresh (the rule of issue 13: no cache may serve a stale result)."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from ersattning import rulebook
from ersattning.analysis.scenarios import synthetic_engine
from ersattning.products.visits import PassMemo
from ersattning.statements import year_pass

YEAR = 2022
ACG_1500 = """description: ACG rate 1 500 SEK from 2022
reference: test
parameters:
  capitation_acg.rate:
    values:
      2022-01-01: {value: 1500, reference: test}
"""
# The base fee 110 -> 150 SEK from March 2022 (a visit price: the pass must be computed again).
VISIT_150 = """description: base visit fee 150 SEK from March 2022
reference: test
parameters:
  visit_fee.prices:
    values:
      2022-03-01: {value: {VF_BASE: 150, VF_PSYCHOLOGIST: 425}, reference: test}
"""


@pytest.fixture(scope="module")
def region():
    engine, summary = synthetic_engine(1_500, [YEAR], seed=11)
    return engine, rulebook.load().for_sample(summary["persons"])


def _reform(book, tmp_path, text):
    path = tmp_path / "reform.yaml"
    path.write_text(text, encoding="utf-8")
    return rulebook.apply_reform(book, path)


def _sorted(t):
    return t.sort_by([(c, "ascending") for c in t.column_names])


def _lines(done):
    return [r.lines for r in done.results]


def _total(done, component):
    return sum(pc.sum(pc.if_else(pc.equal(t["component"], component), t["amount_ore"], 0)).as_py() for t in _lines(done))


def test_a_capitation_reform_reuses_the_base_pass_and_pays_as_computed_afresh(region, tmp_path):
    engine, base = region
    scenario = _reform(base, tmp_path, ACG_1500)
    memo = PassMemo()
    year_pass(engine, base, YEAR, with_areas=True, memo=memo)
    reused = year_pass(engine, scenario, YEAR, with_areas=True, memo=memo)
    assert memo.hits >= 1
    fresh = year_pass(engine, scenario, YEAR, with_areas=True)
    assert all(a.equals(b) for a, b in zip(_lines(reused), _lines(fresh)))
    assert _sorted(reused.areas).equals(_sorted(fresh.areas))  # a count's rows come in any order
    assert _total(reused, "visit_fee") > 0


def test_a_visit_price_reform_is_computed_again(region, tmp_path):
    engine, base = region
    scenario = _reform(base, tmp_path, VISIT_150)
    memo = PassMemo()
    before = year_pass(engine, base, YEAR, with_areas=True, memo=memo)
    after = year_pass(engine, scenario, YEAR, with_areas=True, memo=memo)
    assert memo.hits == 0
    fresh = year_pass(engine, scenario, YEAR, with_areas=True)
    assert all(a.equals(b) for a, b in zip(_lines(after), _lines(fresh)))
    # Not vacuous: the reform raised the visit fees (March to December at 150 instead of 110).
    assert _total(after, "visit_fee") > _total(before, "visit_fee")


def test_a_replaced_input_table_is_computed_again(region):
    engine, base = region
    memo = PassMemo()
    year_pass(engine, base, YEAR, memo=memo)
    # The same rows registered again are a new table: the memo cannot know they are the same.
    engine.register({"listings": engine["listings"].to_pyarrow()})
    year_pass(engine, base, YEAR, memo=memo)
    assert memo.hits == 0


def test_the_pass_reads_the_visit_rules_and_not_the_capitation_rates(region):
    _, base = region
    recording, seen = base.recording()
    engine, _ = region
    from ersattning.period import months_of
    from ersattning.products.visits import visit_pass

    visit_pass(engine, recording, engine.contacts(None, None), months_of(YEAR)[:1])
    assert {"visit_fee.prices", "visit_fee.decision_table"} <= seen
    assert "capitation_acg.rate" not in seen and "capitation_cni.rate" not in seen
