"""A scenario's visit passes are its base's only when provably the same (`statements.memo.PassMemo`): a
reform of a capitation rate gives the base's pass again; a reform of a visit price, or a
scenario that replaces an input table, computes its own. Either way the scenario's lines are
exactly those of computing it afresh (the rule of issue 13: no cache may serve a stale result)."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from ersattning import rulebook
from ersattning.analysis.scenarios import synthetic_engine
from ersattning.statements.memo import PassMemo
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


# The age bands' amounts are read where the persons are counted per band: a reform of them is
# counted again (the memo cannot tell an amount from a band limit), and its lines are new.
AGE_AMOUNTS = "capitation_age.amounts"


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
    # the visit pass, the capitation counts and the year before's reconciliation (posted on January)
    assert sorted(k[0] for k in memo.given) == ["capitation", "reconcile_year", "visit_pass"]
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
    # only the capitation counts (no visit price in them); the pass and the caps' year are new
    assert [k[0] for k in memo.given] == ["capitation"]
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


def test_a_capitation_rate_reform_pays_the_new_rate_on_the_same_counts(region, tmp_path):
    engine, base = region
    scenario = _reform(base, tmp_path, ACG_1500)
    memo = PassMemo()
    before = year_pass(engine, base, YEAR, memo=memo)
    after = year_pass(engine, scenario, YEAR, memo=memo)
    # ACG 1 200 -> 1 500 SEK a year on the same weights: the ACG lines × 1.25 (to the öre, per line)
    b, a = _total(before, "capitation_acg"), _total(after, "capitation_acg")
    assert b > 0 and abs(a - b * 5 / 4) <= 12 * 250  # at most half an öre per line and month
    assert _total(after, "capitation_age") == _total(before, "capitation_age")


def test_an_age_band_reform_is_priced_again(region, tmp_path):
    engine, base = region
    bands = base[AGE_AMOUNTS].at(__import__("datetime").date(2022, 6, 30)).value
    raised = {f"{lo}-{'' if hi is None else hi}": int(amount) + 100 for lo, hi, amount in bands}
    text = ("description: every age band 100 SEK a year more from July 2022\nreference: test\nparameters:\n"
            f"  {AGE_AMOUNTS}:\n    values:\n      2022-07-01: {{value: {raised!r}, reference: test}}\n").replace("'", '"')
    scenario = _reform(base, tmp_path, text)
    memo = PassMemo()
    before = year_pass(engine, base, YEAR, memo=memo)
    after = year_pass(engine, scenario, YEAR, memo=memo)
    fresh = year_pass(engine, scenario, YEAR)
    assert all(x.equals(y) for x, y in zip(_lines(after), _lines(fresh)))
    assert _total(after, "capitation_age") > _total(before, "capitation_age")


def test_a_scenarios_split_by_area_is_the_fresh_split(region, tmp_path):
    import pyarrow as pa

    from ersattning.analysis.attribution import attribution
    from ersattning.period import months_of

    engine, base = region
    scenario = _reform(base, tmp_path, ACG_1500)
    memo = PassMemo()

    def split(book, memo):
        done = year_pass(engine, book, YEAR, with_areas=True, memo=memo)
        lines = pa.concat_tables([r.lines.select(["month", "clinic_id", "component", "product_code", "amount_ore"])
                                  for r in done.results])
        return attribution(engine, book, months_of(YEAR), lines, areas=done.areas, listed_areas=done.listed_areas, memo=memo)

    split(base, memo)
    given = split(scenario, memo)
    assert "enrolled_and_residents" in [k[0] for k in memo.given]
    fresh = split(scenario, None)
    for name in ("allocated", "population", "visits", "clinic_listed"):
        assert _sorted(given[name]).equals(_sorted(fresh[name])), name
