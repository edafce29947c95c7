"""report.html in Swedish by default (English with lang="en"), with the web app's component labels,
and analysis.xlsx formatted (percent and SEK number formats, headings in the language); on the
tiny region, March 2022 as a quick look."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

import af_region
from ersattning.analysis import run_analysis
from ersattning.analysis.language import category_labels
from ersattning.analysis.output import tables, write_xlsx
from ersattning.analysis.report import report_html
from ersattning.analysis.scenarios import database_engine, stored_lines
from ersattning.core import choose_rulebook
from ersattning.statements import component_labels


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    db = tmp_path_factory.mktemp("lang") / "af.duckdb"
    af_region.build(db).con.con.close()
    engine = database_engine(db)
    base = run_analysis(engine, choose_rulebook(), [2022], months=(3,), stored_lines=stored_lines(engine))
    # a scenario: March 2022 paid as the rulebook stood in mid-2020
    scenario = run_analysis(engine, choose_rulebook(None, dt.date(2020, 6, 30)), [2022], months=(3,))
    return {"one": tables(base), "two": tables(scenario, base)}


def test_category_labels_are_the_components_labels_in_swedish():
    sv, labels = category_labels("sv"), component_labels()
    # a category of one component is named as the web app names that component
    assert sv["cni"] == labels["capitation_cni"] and sv["acg"] == labels["capitation_acg"]
    assert sv["age"] == labels["capitation_age"]
    assert category_labels("en")["cni"] == "CNI" and sv["total"] == "Totalt"


def test_report_in_swedish_by_default_of_analyze_and_english_on_request(runs):
    sv = report_html(runs["one"], title="Ersättning i primärvården 2022", lang="sv")
    en = report_html(runs["one"], title="Primary-care pay 2022", lang="en")
    assert "<html lang=sv>" in sv and "<html lang=en>" in en
    assert "Ersättning per listad person, per komponent och år" in sv and "Pay per listed person" not in sv
    assert component_labels()["capitation_cni"] in sv and "Koncentrationsindex" in sv
    assert "Pay per listed person by component and year" in en and "Listningsersättning" not in en
    # calibration statuses and headings in Swedish
    assert "<th>mått</th>" in sv and "<th>figure</th>" in en


def test_scenario_report_in_swedish(runs):
    sv = report_html(runs["two"], lang="sv")
    for text in ("Budgeteffekt (scenario − bas)", "Vinnare och förlorare per mottagning", "Bas: ", "Scenario: ",
                 "Körningen bas", "skillnad (kr)"):
        assert text in sv, text
    assert "Winners and losers" not in sv and "Budget effect" not in sv


def test_workbook_formats_and_headings(runs, tmp_path):
    one = runs["one"]
    for lang, year, share in (("sv", "år", "andel av totalt"), ("en", "year", "share_of_total")):
        path = tmp_path / f"analysis_{lang}.xlsx"
        write_xlsx(one, path, lang)
        ws = openpyxl.load_workbook(path)["categories"]
        head = [c.value for c in ws[1]]
        assert head[0] == year and share in head
        col = {h: i for i, h in enumerate(head)}
        cat = one["categories"]
        row = ws[2]
        # a percent cell: the fraction, shown with a percent format (the CSV holds 0–100)
        cell = row[col[share]]
        assert "%" in cell.number_format
        assert cell.value == pytest.approx(cat.share_of_total.iloc[0] / 100)
        # SEK with two decimals and thousands, not a raw float
        sek = row[col["belopp (kr)" if lang == "sv" else "amount_sek"]]
        assert sek.number_format == "#,##0.00" and sek.value == pytest.approx(cat.amount_sek.iloc[0])
        if lang == "sv":
            assert row[col["benämning"]].value == category_labels("sv")[cat.category.iloc[0]]
    # a scenario's side-by-side columns keep their formats
    write_xlsx(runs["two"], tmp_path / "two.xlsx", "sv")
    ws = openpyxl.load_workbook(tmp_path / "two.xlsx")["shares"]
    head = [c.value for c in ws[1]]
    assert "andel av totalt, skillnad" in head and "belopp (kr), bas" in head
    assert "%" in ws[2][head.index("andel av totalt, skillnad")].number_format
    assert ws[2][head.index("belopp (kr), bas")].number_format == "#,##0.00"


def test_the_report_figures_table_in_swedish_in_the_report_and_the_workbook(runs, tmp_path):
    """The calibration table's descriptions, the report's worded values and the tolerances are
    Swedish (each target's own figure_sv), in report.html and analysis.xlsx alike."""
    from ersattning.analysis.calibration import TARGETS

    sv = report_html(runs["one"], lang="sv")
    en = report_html(runs["one"], lang="en")
    for t in TARGETS:
        assert t.figure_sv in sv and t.figure not in sv, t.key
        assert t.figure in en
    assert "knappt 20" in sv and "just under 20" not in sv and "och &lt; 0" in sv and "and &lt; 0" not in sv
    write_xlsx(runs["one"], tmp_path / "cal.xlsx", "sv")
    ws = openpyxl.load_workbook(tmp_path / "cal.xlsx")["calibration"]
    head = [c.value for c in ws[1]]
    cells = {ws.cell(row=r, column=head.index("mått") + 1).value for r in range(2, ws.max_row + 1)}
    assert cells == {t.figure_sv for t in TARGETS}
    tolerances = {ws.cell(row=r, column=head.index("tolerans") + 1).value for r in range(2, ws.max_row + 1)}
    assert "-0,026 ± 0,02 och < 0" in tolerances
