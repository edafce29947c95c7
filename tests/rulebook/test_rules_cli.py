"""`ersattning rules list|show|check`: the parameters as the rulebook holds them, and a reform checked whole
(every problem at once, here and wherever `--rules` is read)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from ersattning.rulebook import apply_reform
from ersattning import rulebook
from ersattning.cli import app
from ersattning.rulebook.catalogue import parameter_detail, parameter_list
from ersattning.rulebook.reform import ReformError, check_reform

runner = CliRunner()

GOOD = """\
description: ACG up.
reference: a proposal
parameters:
  capitation_acg.rate:
    unit: SEK/listed/year
    values:
      2022-01-01: {value: 1500}
"""

# Eight problems, in four parameters and the file itself.
BAD = """\
description: many problems
colour: blue
parameters:
  capitation_acg.ratee:
    values:
      2022-01-01: {value: 1, reference: p}
  capitation_acg.rate:
    unit: SEK/visit
    values:
      2022-02-30: {value: 1500, reference: p}
      2022-06-01: {value: -5, reference: p, colour: x}
      2022-03-01: {value: 1400, reference: p}
      2023-01-01: {value: 1400, reference: p}
      2023-01-01: {value: 1450, reference: p}
  capitation_age.amounts:
    values:
      2022-01-01: {value: 3}
  visit_fee.prices:
    values:
      2022-01-01: {value: {VF_BASE: -10}, reference: p}
  deduction_own_patient_elsewhere.prices:
    values:
      2022-01-01: {value: {DED_OWN_ELSEWHERE: -400}, reference: p}
"""

EXPECTED = {
    (None, "colour"),                                                           # unknown key of the file
    ("capitation_acg.ratee", "parameters.capitation_acg.ratee"),                # unknown parameter
    ("capitation_acg.rate", "parameters.capitation_acg.rate.unit"),             # wrong unit
    ("capitation_acg.rate", "parameters.capitation_acg.rate.values.2022-02-30"),  # not a calendar date
    ("capitation_acg.rate", "parameters.capitation_acg.rate.values.2022-06-01.colour"),  # unknown key of a value
    ("capitation_acg.rate", "parameters.capitation_acg.rate.values.2022-06-01.value"),   # negative money
    ("capitation_acg.rate", "parameters.capitation_acg.rate.values.2022-03-01"),  # dates out of order
    ("capitation_acg.rate", "parameters.capitation_acg.rate.values.2023-01-01"),  # a date twice: overlapping
    ("capitation_age.amounts", "parameters.capitation_age.amounts.values.2022-01-01.reference"),  # no source
    ("capitation_age.amounts", "parameters.capitation_age.amounts.values.2022-01-01.value"),      # wrong type
    ("visit_fee.prices", "parameters.visit_fee.prices.values.2022-01-01.value.VF_BASE"),         # negative money
}


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rules_list_gives_every_parameter_with_unit_value_and_count():
    book = rulebook.load()
    out = _json(runner.invoke(app, ["rules", "list", "--at", "2022-06-30", "--json"]))["parameters"]
    assert [p["name"] for p in out] == list(book.parameters)
    acg = next(p for p in out if p["name"] == "capitation_acg.rate")
    assert (acg["unit"], acg["value"], acg["since"]) == ("SEK/listed/year", "1200", "2022-01-01")  # FFU 2022
    assert acg["values"] == len(book["capitation_acg.rate"].values)
    ended = next(p for p in out if p["name"] == "penalty_no_out_of_hours.amount")
    assert ended["value"] is None  # ended 2018 (test_loader: None on 2018-06-30)
    table = runner.invoke(app, ["rules", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "capitation_acg.rate" in table.stdout


def test_rules_show_gives_every_dated_value_with_validity_and_source():
    out = _json(runner.invoke(app, ["rules", "show", "capitation_acg.rate", "--at", "2022-06-30", "--json"]))
    param = rulebook.load()["capitation_acg.rate"]
    assert out["unit"] == "SEK/listed/year" and out["file"] == "capitation_acg/rate.yaml"
    assert [v["start"] for v in out["values"]] == [v.start.isoformat() for v in param.values]
    assert [v["reference"] for v in out["values"]] == [v.reference for v in param.values]
    # Each value holds until the day before the next starts; the last holds on.
    for this, nxt in zip(out["values"], out["values"][1:]):
        assert dt.date.fromisoformat(this["end"]) == dt.date.fromisoformat(nxt["start"]) - dt.timedelta(days=1)
    assert out["values"][-1]["end"] is None
    assert out["in_force"]["value"] == "1200" and out["in_force"]["start"] == "2022-01-01"
    assert out["in_force"]["end"] == "2022-12-31"


def test_rules_show_names_an_entry_of_a_price_list_or_an_age_band():
    fee = parameter_detail(rulebook.load(), "visit_fee.prices.VF_BASE", dt.date(2022, 3, 10))
    assert fee["parameter"] == "visit_fee.prices" and fee["entry"] == "VF_BASE"
    assert fee["in_force"]["value"] == "110"  # the 2021 base fee (RULES.md §3)
    band = _json(runner.invoke(app, ["rules", "show", "capitation_age.amounts.75-", "--at", "2022-06-30", "--json"]))
    assert band["in_force"]["value"] == "1217"  # FFU 2022, 75 and over
    text = runner.invoke(app, ["rules", "show", "capitation_acg.rate", "--at", "2022-06-30"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "in force on 2022-06-30: 1200 SEK/listed/year" in text.stdout


def test_rules_show_refuses_an_unknown_name():
    for name in ("capitation_acg.ratee", "visit_fee.prices.NO_SUCH_CODE"):
        result = runner.invoke(app, ["rules", "show", name])
        assert result.exit_code == 2, result.output
        assert "no parameter" in result.output


def test_the_catalogue_lists_what_the_rulebook_holds():
    book = rulebook.load()
    rows = {r["name"]: r for r in parameter_list(book, dt.date(2022, 3, 10))}
    assert rows["visit_fee.prices"]["value"]["VF_BASE"] == "110"
    assert rows["capitation_age.amounts"]["value"]["75-"] == "1217"
    assert rows["cap_reduction.kva_min_age"]["value"] == 75


def test_rules_check_accepts_a_good_reform(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "capitation_acg.rate" in result.stdout


def test_rules_check_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    _, problems = check_reform(rulebook.load(), bad)
    assert {(p.parameter, p.key) for p in problems} == EXPECTED
    # A deduction's prices are negative in the rulebook: a negative reform value is no problem there.
    assert not any(p.parameter == "deduction_own_patient_elsewhere.prices" for p in problems)
    result = runner.invoke(app, ["rules", "check", str(bad)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert f"{len(EXPECTED)} problem(s)" in result.output
    for parameter, key in EXPECTED:
        assert key in result.output


@pytest.mark.parametrize("text, key", [("", "-"), ("- a list\n", "-"), ("description: x\n", "parameters"),
                                       ("parameters: {a: [\n", "-")])
def test_rules_check_refuses_a_file_that_is_no_reform(tmp_path, text, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    _, problems = check_reform(rulebook.load(), bad)
    assert [p.key for p in problems] == [key]
    assert runner.invoke(app, ["rules", "check", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["rules", "check", str(tmp_path / "missing.yaml")]).exit_code == 1


def test_loading_a_reform_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    base = rulebook.load()
    with pytest.raises(ReformError) as info:
        apply_reform(base, bad)
    assert {(p.parameter, p.key) for p in info.value.problems} == EXPECTED
    # The command line's --rules reads the reform the same way: every problem in one message.
    result = runner.invoke(app, ["statements", "--input", str(tmp_path), "--month", "2022-03", "--output",
                                 str(tmp_path / "out"), "--rules", str(bad)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert f"{len(EXPECTED)} problem(s)" in result.output
    for _, key in EXPECTED:
        assert key in result.output
    assert not (tmp_path / "out").exists()


def test_an_inline_reform_applies_like_a_file():
    book = apply_reform(rulebook.load(), "inline", text=GOOD)
    assert book.at(dt.date(2022, 6, 30)).value("capitation_acg.rate") == 1500
    assert book.at(dt.date(2023, 6, 30)).value("capitation_acg.rate") == 1300  # the base's later value


def test_a_reforms_derived_price_must_name_rules_that_exist():
    text = ("parameters:\n  new_clinic.prices:\n    values:\n      2022-01-01:\n        reference: p\n        value:\n"
            "          NEW_CLINIC_BASE_2021: {share: new_clinic.base_fee_uplift_share, of: visit_fee.prices, code: VF_BASE}\n"
            "          NEW_CLINIC_PSY_2021: {share: new_clinic.no_such_share, of: visit_fee.decision_table, code: VF_PSYCHOLOGIST}\n")
    _, problems = check_reform(rulebook.load(), "inline", text)
    assert [(p.key, p.message.split(" is ")[0]) for p in problems] == [
        ("parameters.new_clinic.prices.values.2022-01-01.value.NEW_CLINIC_PSY_2021", "'new_clinic.no_such_share'"),
        ("parameters.new_clinic.prices.values.2022-01-01.value.NEW_CLINIC_PSY_2021", "'visit_fee.decision_table'")]
    good = text.replace("new_clinic.no_such_share", "new_clinic.base_fee_uplift_share").replace(
        "visit_fee.decision_table", "visit_fee.prices")
    assert check_reform(rulebook.load(), "inline", good)[1] == []
