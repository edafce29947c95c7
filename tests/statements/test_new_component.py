"""A component added to the rulebook alone — a declaration, a decision table and a price list in
a copy of the rules folder, no code change — is paid on the statement, adds to its group's
total, shows in the workbook with its Swedish label and in the analysis under its category."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow.compute as pc
import pytest

from support import duckdb_engine, typed_tables
from ersattning import rulebook
from ersattning.analysis import measures
from ersattning.analysis.categories import category_of, component_categories, mapping_rows
from ersattning.analysis.core import run_analysis
from ersattning.export.data import MonthData
from ersattning.export.xlsx import GROUP_LABELS, write_month_xlsx
from ersattning.statements import compute_month

WIDGET = "supplement_test_widget"
LABEL = "Tillägg, testwidget"
DECLARATION = f"""\
description: A test supplement for nurses' physical visits, declared in the rulebook only.
group: variable
label_sv: "{LABEL}"
category: other_variable
unit: SEK/visit
divisor: 1
posted: month
produced_by: ersattning.products.visits
products:
  "{{decision_table}}": {{price: {WIDGET}.prices}}
"""
TABLE = """\
description: Nurses' physical visits earn the test supplement.
metadata: {unit: product_codes, kind: decision_table}
values:
  2022-01-01:
    reference: "test"
    value:
      - {when: {out_of_county: false, profession: nurse, setting: physical}, product: SUP_TEST_WIDGET}
"""
PRICES = """\
description: The test supplement's price.
metadata: {unit: SEK/visit, kind: price_list}
values:
  2022-01-01: {value: {SUP_TEST_WIDGET: 42.50}, reference: "test"}
"""


@pytest.fixture(scope="module")
def widget_book(tmp_path_factory) -> rulebook.Rulebook:
    rules = Path(shutil.copytree(rulebook.default_rules_dir(), tmp_path_factory.mktemp("book") / "rules"))
    folder = rules / WIDGET
    folder.mkdir()
    for name, text in (("component.yaml", DECLARATION), ("decision_table.yaml", TABLE), ("prices.yaml", PRICES)):
        (folder / name).write_text(text, encoding="utf-8")
    return rulebook.load(rules)


@pytest.fixture(scope="module")
def engine():
    person = "199202011087"
    contact = {"kombika": "11010046M30", "person_id": person, "date": "2022-06-01"}
    return duckdb_engine(typed_tables(
        clinics=[{"clinic_id": "C1", "name": "Vårdcentral", "group_id": "G1", "area_code": "0180-08", "opened": "2000-01-01"}],
        kombika=[{"kombika": "11010046M30", "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"}],
        persons=[{"person_id": person, "birth_date": "1992-02-01", "sex": "F", "county_code": "01", "area_code": "0180-08"}],
        listings=[{"person_id": person, "clinic_id": "C1", "valid_from": "2000-01-01"}],
        contacts=[
            {**contact, "contact_id": "1", "contact_type": "clinic_visit", "profession": "nurse"},  # widget
            {**contact, "contact_id": "2", "contact_type": "clinic_visit", "profession": "nurse", "date": "2022-06-15"},  # widget
            {**contact, "contact_id": "3", "contact_type": "clinic_visit", "profession": "doctor"},  # no widget: a doctor
            {**contact, "contact_id": "4", "contact_type": "video", "profession": "nurse"},  # no widget: digital
        ],
    ))


@pytest.fixture(scope="module")
def month(engine, widget_book):
    return compute_month(engine, widget_book, "2022-06")


def test_the_new_component_is_paid_on_the_statement(month):
    lines = month.lines.filter(pc.equal(month.lines["component"], WIDGET)).to_pylist()
    assert [(r["clinic_id"], r["product_code"], r["basis"], r["amount_ore"], r["unit"]) for r in lines] == [
        ("C1", "SUP_TEST_WIDGET", Decimal(2), 8500, "SEK/visit")]  # 2 nurse visits × 42.50
    assert lines[0]["rule"] == f"{WIDGET}.decision_table+{WIDGET}.prices@2022-01-01"


def test_the_new_component_adds_to_its_group_total(month, engine, book):
    (st,) = month.statements.to_pylist()
    variable = [r["amount_ore"] for r in month.lines.to_pylist() if r["component"] in ("visit_fee", WIDGET)]
    assert st["variable_ore"] == sum(variable)
    assert st["total_ore"] == sum(month.lines["amount_ore"].to_pylist())
    # The same region under the packaged rulebook: the same statement less the widget's 85 SEK.
    without = compute_month(engine, book, "2022-06").statements.to_pylist()[0]
    assert st["variable_ore"] - without["variable_ore"] == 8500
    assert st["fixed_ore"] == without["fixed_ore"]


def test_the_new_component_is_in_the_workbook_with_its_swedish_label(month, widget_book, tmp_path):
    data = MonthData("2022-06", "draft", None, None, month.lines, month.statements, {"C1": {"name": "Vårdcentral"}})
    path = write_month_xlsx(data, tmp_path, book=widget_book)
    sheet = openpyxl.load_workbook(path)[GROUP_LABELS["variable"]]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    widget = [r for r in rows if r[3] == "SUP_TEST_WIDGET"]
    assert [(r[2], r[6]) for r in widget] == [(LABEL, 85)]
    assert {r[2] for r in rows if r[3] and r[3].startswith("VF_")} == {"Besöksersättning"}


def test_the_new_component_is_in_the_analysis_under_its_category(engine, widget_book):
    assert category_of(WIDGET, widget_book) == "other_variable"
    assert mapping_rows([WIDGET], component_categories(widget_book)) == [
        {"component": WIDGET, "category": "other_variable", "group": "variable"}]
    analysis = run_analysis(engine, widget_book, [2022], months=[6])
    shares = measures.shares(analysis)
    row = shares[shares.component == WIDGET]
    assert list(row.category) == ["other_variable"]
    assert float(row.amount_sek.iloc[0]) == 85.0 * 12  # one month scaled to the year
    # The components table of the outputs (components.csv) carries it too.
    assert WIDGET in {r["component"] for r in mapping_rows(analysis.lines["component"].to_pylist(), measures.categories_of(analysis))}


def test_the_new_component_is_in_the_trace_from_the_rulebook_its_month_stored(widget_book, tmp_path):
    """Paid under the widget rulebook and traced by a reader who loads the packaged one (which has
    no widget): the trace reads the month's stored rulebook, so it finds the line's expression,
    its contacts and the decision row that gave them the product."""
    import datetime as dt

    from ersattning.core import Core
    from ersattning.register import intake_table, records_table
    from ersattning.store import open_engine, store_inputs

    person = "199202011087"
    tables = typed_tables(
        clinics=[{"clinic_id": "C1", "name": "Vårdcentral", "group_id": "G1", "area_code": "0180-08", "opened": "2000-01-01"}],
        kombika=[{"kombika": "11010046M30", "clinic_id": "C1", "assignment": "hlv", "valid_from": "2000-01-01"}],
        persons=[{"person_id": person, "birth_date": "1992-02-01", "sex": "F", "county_code": "01", "area_code": "0180-08"}],
        listings=[{"person_id": person, "clinic_id": "C1", "valid_from": "2000-01-01"}],
    )
    db = tmp_path / "widget.duckdb"
    engine = open_engine(db)
    store_inputs(engine, tables)
    visits = [{"contact_id": cid, "kombika": "11010046M30", "person_id": person, "date": date, "contact_type": kind,
               "profession": who, "diagnoses": "J06.9", "actions": None, "record_type": None,
               "reported_at": "2022-06-30T10:00:00"}
              for cid, date, kind, who in (("1", "2022-06-01", "clinic_visit", "nurse"), ("2", "2022-06-15", "clinic_visit", "nurse"),
                                           ("3", "2022-06-01", "clinic_visit", "doctor"))]
    intake_table(engine, records_table(visits), "widget.jsonl", received_at=dt.datetime(2022, 7, 1, 8))
    Core(engine, base=widget_book).run(["2022-06"])
    engine.con.con.close()

    reader = Core.open(db)
    assert WIDGET not in reader.book.components
    t = reader.trace_line("C1:2022-06:SUP_TEST_WIDGET")
    assert t["produced_by"] == ["ersattning.products.visits"] and t["reproduces"] is True
    assert [r["contact_id"] for r in t["behind"]["rows"]] == ["1", "2"]
    assert {r["decision_row"] for r in t["behind"]["rows"]} == {f"{WIDGET}.decision_table@2022-01-01#0"}
    contact = reader.trace_contact("11010046M30", "1")
    widget = [p for p in contact["products"] if p["component"] == WIDGET]
    assert [(p["unit_price_ore"], p["line_id"], p["decision"]["row"]) for p in widget] == [(4250, "C1:2022-06:SUP_TEST_WIDGET", 0)]
    # Its workbook, exported later from the database, labels it as the stored rulebook declares.
    from ersattning.export import export_month

    reader.engine.con.con.close()
    (path,) = export_month(db, "2022-06", "xlsx", tmp_path / "x").files
    sheet = openpyxl.load_workbook(path)[GROUP_LABELS["variable"]]
    assert [(r[2].value, r[6].value) for r in sheet.iter_rows(min_row=2) if r[3].value == "SUP_TEST_WIDGET"] == [(LABEL, 85)]
