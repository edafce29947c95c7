"""The analysis of a small synthetic region 2016–2022: shares add up, the report's region
figures (seed 003, RULES.md §7) within their stated tolerances, a reform equal to the
rulebook changes nothing, passive listing, and the written outputs (no person numbers).

To stay within a minute, the years are computed on four months each (March, June, September,
December, scaled to a year): `run_analysis(months=...)`. The full run is `ersattning analyze`."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from ersattning.rulebook import apply_reform
from ersattning.analysis import measures
from ersattning.analysis.calibration import TARGETS, calibration_table
from ersattning.analysis.core import run_analysis
from ersattning.analysis.output import tables, write_outputs
from ersattning.analysis.scenarios import compare, passive_listings, synthetic_engine

PERSONS = 8_000
YEARS = list(range(2016, 2023))
MONTHS = (3, 6, 9, 12)


@pytest.fixture(scope="module")
def region():
    engine, summary = synthetic_engine(PERSONS, YEARS, seed=2022)
    return engine, summary


@pytest.fixture(scope="module")
def book(region):
    """The rulebook for this sample of the region: its share of the region-wide pots."""
    from ersattning import rulebook

    return rulebook.load().for_sample(region[1]["persons"])


@pytest.fixture(scope="module")
def analysis(region, book):
    return run_analysis(region[0], book, YEARS, months=MONTHS)


def test_shares_sum_to_100(analysis):
    s = measures.shares(analysis)
    for year, part in s.groupby("year"):
        assert part.share_of_total.sum() == pytest.approx(100.0)
        assert part.share_of_capitation.sum() == pytest.approx(100.0)
    c = measures.categories(analysis)
    assert c.groupby("year").share_of_total.sum().tolist() == pytest.approx([100.0] * len(YEARS))


def test_area_split_keeps_the_totals(analysis):
    # every line is split whole (rounding to öre per part aside): areas + outside county = region
    for year in YEARS:
        paid = analysis.year("lines", year)["amount_ore"].to_numpy().sum()
        split = analysis.year("allocated", year)["amount_ore"].to_numpy().sum()
        assert abs(int(split) - int(paid)) <= analysis.year("allocated", year).num_rows


def test_the_reports_region_figures_within_tolerance(analysis):
    rows = calibration_table(analysis)
    assert {r["key"] for r in rows} == {t.key for t in TARGETS}
    failed = [f"{r['figure']}: engine {r['engine']:.3f}, want {r['tolerance']}" for r in rows if not r["passes"]]
    assert not failed, "\n".join(failed)


def test_a_reform_equal_to_the_rulebook_changes_nothing(region, book, tmp_path, analysis):
    reform = tmp_path / "same.yaml"
    reform.write_text(
        "description: the 2022 ACG rate, restated\nreference: test\nparameters:\n"
        "  capitation_acg.rate:\n    values:\n      2022-01-01: {value: 1200, reference: \"003 Bilaga 2 (FFU 2022)\"}\n",
        encoding="utf-8")
    same = run_analysis(region[0], apply_reform(book, reform), [2022], months=(3, 9))
    base = run_analysis(region[0], book, [2022], months=(3, 9))
    diff = compare(base, same)
    assert (diff["clinics"].difference_sek == 0).all()
    assert (diff["areas"].difference_sek == 0).all()
    assert (diff["deciles"].difference_sek == 0).all()
    assert len(diff["deciles"]) == 10


def test_rules_as_of_2016_pays_2022_with_the_2016_model(region, book):
    old = run_analysis(region[0], book.frozen_at(dt.date(2016, 6, 30)), [2022], months=(3, 9))
    s = measures.shares(old)
    assert "capitation_acg" not in set(s.component)            # no ACG in 2016 (003 Bilaga 2)
    assert "VF_DR_VISIT" in set(old.lines["product_code"].to_pylist())   # the fee table by profession
    assert measures.groups(old).query("group == 'fixed'").share_of_total.iloc[0] < 70


def test_passive_listing_lists_the_unlisted_and_pays_their_areas(region, book, analysis):
    engine = region[0]
    original = engine["listings"].to_pyarrow()
    try:
        engine.register({"listings": passive_listings(engine, dt.date(2022, 1, 1), dt.date(2022, 12, 31))})
        passive = run_analysis(engine, book, [2022], months=(3, 9))
    finally:
        engine.register({"listings": original})
    base = run_analysis(engine, book, [2022], months=(3, 9))
    pop = passive.year("population", 2022).to_pandas()
    assert pop.listed.sum() / pop.residents.sum() > 0.995
    diff = compare(base, passive)["areas"]
    # Listing the unlisted adds capitation where they live; the health-promotion pot by number
    # listed is fixed, so an area with few unlisted may lose a little of its share of it.
    assert diff.difference_sek.sum() > 0
    assert (diff.difference_sek >= 0).mean() > 0.9
    # the areas with the most unlisted gain most per inhabitant (003 §6.1)
    b = measures.area_table(base).query("year == 2022 and category == 'total'").set_index("area_code")
    gain = diff.set_index("area_code").difference_per_inhabitant_sek
    assert gain.corr(b.unlisted_share) > 0.5


def test_outputs_hold_no_person_numbers_and_every_table(analysis, region, tmp_path):
    out = tables(analysis)
    files = write_outputs(out, tmp_path, "test", [])
    names = {p.name for p in files}
    assert {"shares.csv", "areas.csv", "concentration.csv", "correlations.csv", "analysis.xlsx", "report.html"} <= names
    shares = pd.read_csv(tmp_path / "shares.csv")
    assert list(shares.columns[:5]) == ["year", "component", "amount_sek", "share_of_total", "share_of_capitation"]
    ids = set(region[0]["persons"].select("person_id").to_pyarrow()["person_id"].to_pylist())
    for p in files:
        if p.suffix in (".csv", ".html"):
            found = set(re.findall(r"\d{12}|99[0-9A-Z]{10}", p.read_text(encoding="utf-8")))
            assert not found & ids, p.name
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 8 and "<script" not in page and 'src="http' not in page
