"""A reform's report on a hand-made tiny region (tests/af_region.py, one year): base, scenario
and difference side by side in the CSVs and report.html, the budget effect, winners and losers
in bands, a budget-neutral rescale (`--neutral`) exact to the öre, the title and the report's
checks of the years actually run."""

from __future__ import annotations

import html
from fractions import Fraction

import af_region
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from ersattning.analysis import analyze
from ersattning.analysis.neutral import NeutralError, scale_exact, single_rate
from ersattning.analysis.scenarios import BANDS, band
from ersattning.cli import app

REFORM = """description: the ACG rate raised by a quarter in 2022
reference: test
parameters:
  capitation_acg.rate:
    values:
      2022-01-01: {value: 1500, reference: test}
"""


def _total(a, year=2022, component=None) -> int:
    t = a.year("lines", year)
    if component:
        t = t.filter(pc.equal(t["component"], component))
    return int(pc.sum(t["amount_ore"]).as_py() or 0)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    db = folder / "tiny.duckdb"
    af_region.build(db, run=False).con.con.close()
    reform = folder / "acg.yaml"
    reform.write_text(REFORM, encoding="utf-8")
    return db, reform, folder


@pytest.fixture(scope="module")
def neutral(region):
    """The ACG raise paid for by the CNI rate: `analyze --neutral capitation_cni` (the report in
    English, `--lang en`: the texts checked below)."""
    db, reform, folder = region
    return analyze([2022], folder / "neutral", db=db, rules=reform, neutral="capitation_cni", lang="en"), folder / "neutral"


def test_budget_neutral_total_equals_the_base_to_the_ore(neutral):
    result, out = neutral
    base, scenario = result.base, result.analysis
    assert _total(scenario) == _total(base)
    # the reform itself is kept: ACG paid at 1 500 instead of 1 200 (× 5/4 exactly, whole lines)
    assert 4 * _total(scenario, component="capitation_acg") == 5 * _total(base, component="capitation_acg")
    n = pd.read_csv(out / "neutral.csv", dtype={"factor_exact": str})
    assert set(n.component) == {"capitation_cni"} and set(n.parameter) == {"capitation_cni.rate"}
    # one rate for the whole year (the temporary uplift, 0 from March, changes nothing): one row
    assert len(n) == 1 and (n["from"].iloc[0], n["to"].iloc[0]) == ("2022-01-01", "2022-12-31")
    row = n.iloc[0]
    factor = Fraction(row.factor_exact)
    raise_ore = _total(scenario, component="capitation_acg") - _total(base, component="capitation_acg")
    # the factor from öre totals: the CNI lines must give up exactly what the ACG raise costs
    assert factor == Fraction(_total(base, component="capitation_cni") - raise_ore, _total(base, component="capitation_cni"))
    assert round(row.component_after_sek * 100) == _total(scenario, component="capitation_cni")
    # the rate it implies: 410 SEK × the factor, to the öre, half away from zero
    assert row.rate_scenario == 410 and row.rate_rescaled == pytest.approx(float(round(Fraction(410) * factor, 2)), abs=0.006)
    assert 0 < factor < 1
    budget = pd.read_csv(out / "budget.csv")
    assert budget.difference_ore.tolist() == [0] and budget.base_sek.tolist() == budget.scenario_sek.tolist()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Budget-neutral: capitation_cni rescaled" in page and row.factor_exact in page


def test_without_neutral_the_budget_effect_is_the_reforms_cost(region):
    db, reform, folder = region
    result = analyze([2022], folder / "plain", db=db, rules=reform)
    cost = _total(result.analysis, component="capitation_acg") - _total(result.base, component="capitation_acg")
    assert cost > 0
    budget = pd.read_csv(folder / "plain" / "budget.csv")
    assert budget.difference_ore.tolist() == [cost]
    assert budget.difference_pct.iloc[0] == pytest.approx(100 * cost / _total(result.base), abs=0.01)
    assert not (folder / "plain" / "neutral.csv").exists()
    clinics = pd.read_csv(folder / "plain" / "reform_clinics.csv")
    # clinic A1 lists the two persons with ACG weights: it gains; B1's child (weight 0.4) too, less than 5 %
    assert set(clinics.band) <= set(BANDS) and (clinics.difference_sek > 0).all()
    bands = pd.read_csv(folder / "plain" / "reform_bands.csv")
    assert bands[bands.level == "clinic"]["count"].sum() == len(clinics)
    assert bands[(bands.level == "clinic") & (bands.band == "unchanged")]["count"].sum() == 0


def test_every_table_is_labelled_base_scenario_difference(neutral):
    _, out = neutral
    for name in ("shares.csv", "categories.csv", "clinics.csv", "areas.csv", "visit_types.csv", "production.csv",
                 "concentration.csv"):
        header = pd.read_csv(out / name, nrows=0).columns
        for run in ("_base", "_scenario", "_difference"):
            assert any(c.endswith(run) for c in header), (name, run)
    header = pd.read_csv(out / "calibration.csv", nrows=0).columns
    assert {"engine_base", "status_base", "engine_scenario", "status_scenario", "engine_difference"} <= set(header)
    for name in ("reform_clinics.csv", "reform_areas.csv", "reform_bands.csv", "budget.csv"):
        header = set(pd.read_csv(out / name, nrows=0).columns)
        assert {"difference_sek"} <= header and any("base" in c for c in header) and any("scenario" in c for c in header), name
    xlsx = pd.ExcelFile(out / "analysis.xlsx")
    assert {"budget", "neutral", "reform_bands", "categories"} <= set(xlsx.sheet_names)
    assert "share_of_total_difference" in pd.read_excel(xlsx, "categories").columns
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in ("Budget effect (scenario − base)", "Base: Pay per listed person", "Scenario: Pay per listed person",
                 "Base: SEK per listed person", "Scenario: SEK per listed person", "Difference (scenario − base)",
                 "2022 base", "2022 scenario", "2022 difference", "status_base", "status_scenario",
                 "Winners and losers by clinic", "base (left) and scenario (right)", *BANDS):
        assert html.escape(text) in page, text
    assert page.count("<svg") >= 10 and "<script" not in page


def test_a_one_year_run_is_titled_and_checked_for_that_year(neutral):
    _, out = neutral
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Primary-care pay 2022, decomposed" in page and "2022–2022" not in page
    cal = pd.read_csv(out / "calibration.csv").set_index("key")
    # means over 2016–2022 and the 2016/2017 figures need years not run: not run, never FAIL
    for key in ("cni_cap", "cni_tot", "home_care_cap", "on_call_hp_cap", "cap_2016", "acg_cap_2017", "ci_2016"):
        assert cal.loc[key, "status_base"] == cal.loc[key, "status_scenario"] == "not run", key
        assert np.isnan(cal.loc[key, "engine_base"])
    assert set(cal.loc[["cap_2022", "acg_tot_2022"], "status_base"]) <= {"pass", "FAIL"}
    assert "not run" in page


def test_a_component_without_a_single_rate_is_refused_by_name(book, region, tmp_path):
    assert single_rate(book, "capitation_acg") == ("capitation_acg.rate", "capitation_acg.temporary_uplift")
    assert single_rate(book, "capitation_home_care") == ("capitation_home_care.amount", None)
    for component, why in (("capitation_age", "kind age_bands, not a single rate"), ("visit_fee", "not a single rate"), ("health_promotion", "2 products"),
                           ("collaboration", "no single rate"), ("no_such_component", "no such component")):
        with pytest.raises(NeutralError, match=why) as err:
            single_rate(book, component)
        assert component in str(err.value)
    db, reform, _ = region
    runner = CliRunner()
    refused = runner.invoke(app, ["analyze", "--db", str(db), "--years", "2022", "--rules", str(reform),
                                  "--neutral", "capitation_age", "--output", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "capitation_age" in refused.output
    alone = runner.invoke(app, ["analyze", "--db", str(db), "--years", "2022", "--neutral", "capitation_cni",
                                "--output", str(tmp_path / "y")])
    assert alone.exit_code != 0 and "needs a scenario" in alone.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_scale_exact_rounds_once_and_meets_the_target():
    # half away from zero: 2.5 → 3, −2.5 → −3
    assert scale_exact(np.array([5, -5, 3]), Fraction(1, 2)).tolist() == [3, -3, 2]
    rng = np.random.default_rng(3)
    amounts = rng.integers(-10_000, 10_000_000, 5_000)
    factor = Fraction(987_654_321_123, 1_000_000_000_007)
    exact = [Fraction(int(a)) * factor for a in amounts]
    target = round(sum(exact)) + 7  # a target a few öre off the rounded lines' sum
    got = scale_exact(amounts, factor, target)
    assert int(got.sum()) == target
    assert max(abs(Fraction(int(g)) - e) for g, e in zip(got, exact)) <= Fraction(3, 2)  # rounded, then at most one öre moved
    with pytest.raises(ValueError):
        scale_exact(amounts[:3], factor, target)


def test_bands():
    d = pd.Series([0.0, -10.0, -1.0, 1.0, 10.0, 5.0, -5.0, 3.0])
    p = pd.Series([0.0, -20.0, -2.0, 2.0, 20.0, np.nan, -5.0, 5.0])
    assert band(d, p).tolist() == ["unchanged", "loses > 5 %", "loses < 5 %", "gains < 5 %", "gains > 5 %", "gains > 5 %",
                                   "loses < 5 %", "gains < 5 %"]
