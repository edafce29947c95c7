"""The rulebook loader refuses malformed parameter files and names the file and key (STYLE.md)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ersattning.rulebook import apply_reform
from ersattning import rulebook
from ersattning.errors import RulebookError

GOOD = """\
description: Test rate.
metadata:
  unit: SEK/listed/year
values:
  2020-01-01: {value: 100, reference: "seed 003"}
  2021-01-01: {value: 110.50, reference: "seed 003"}
  2022-01-01: {value: null, reference: "seed 003"}
"""


def write(tmp_path: Path, text: str, name: str = "comp/rate.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return tmp_path


def test_values_hold_until_the_next_date_and_null_ends(tmp_path):
    book = rulebook.load(write(tmp_path, GOOD))
    assert book.at(dt.date(2019, 12, 31)).value("comp.rate") is None
    assert book.at(dt.date(2020, 6, 1)).value("comp.rate") == Decimal("100")
    assert book.at(dt.date(2021, 1, 1)).value("comp.rate") == Decimal("110.50")
    assert book.at(dt.date(2022, 1, 1)).value("comp.rate") is None
    assert book.at(dt.date(2021, 5, 1)).ref("comp.rate") == "comp.rate@2021-01-01"


def test_numbers_are_decimals_from_their_text_never_floats(tmp_path):
    book = rulebook.load(write(tmp_path, GOOD.replace("110.50", "0.1")))
    value = book.at(dt.date(2021, 1, 1)).value("comp.rate")
    assert isinstance(value, Decimal) and value == Decimal("0.1")


@pytest.mark.parametrize(
    "change, key",
    [
        (("2021-01-01:", "2021-13-01:"), "values.2021-13-01"),              # not a calendar date
        (("2021-01-01:", "2021-1-1:"), "values.2021-1-1"),                  # not ISO
        (("2021-01-01:", "2019-01-01:"), "values.2019-01-01"),              # dates out of order
        (("unit: SEK/listed/year", "unit: SEK/person/yr"), "metadata.unit"),  # unknown unit
        (("description:", "descripton:"), "descripton"),                    # unknown top-level key
        ((', reference: "seed 003"}\n  2022', "}\n  2022"), "values.2021-01-01.reference"),  # no source
        (("{value: 100,", "{value: 100, amount: 3,"), "values.2020-01-01.amount"),  # unknown value key
        (("{value: 100,", "{value: lots,"), "values.2020-01-01.value"),     # not a number
    ],
)
def test_malformed_files_name_file_and_key(tmp_path, change, key):
    old, new = change
    assert old in GOOD
    write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RulebookError) as info:
        rulebook.load(tmp_path)
    assert info.value.file == "comp/rate.yaml"
    assert info.value.key == key


def test_age_bands_must_be_contiguous_from_zero_and_open_ended(tmp_path):
    text = """\
description: Bands.
metadata: {unit: SEK/listed/year, kind: age_bands}
values:
  2020-01-01: {value: {0-5: 1, 7-64: 2, 65-: 3}, reference: "seed 003"}
"""
    with pytest.raises(RulebookError, match="contiguous"):
        rulebook.load(write(tmp_path, text))
    with pytest.raises(RulebookError, match="open-ended"):
        rulebook.load(write(tmp_path, text.replace("7-64: 2, 65-: 3", "6-64: 2")))


def test_the_shipped_rulebook_loads_and_every_value_has_a_source():
    book = rulebook.load()
    for param in book.parameters.values():
        for value in param.values:
            assert value.reference, f"{param.file} {value.start}"
    # Figures the sources do not give are marked illustrative (RULES.md: "not in sources").
    assert book.at(dt.date(2022, 3, 31)).get("capitation_home_care.amount").illustrative
    assert not book.at(dt.date(2022, 3, 31)).get("capitation_acg.rate").illustrative


@pytest.mark.parametrize(
    "date, name, expected",
    [
        ("2015-06-30", "capitation_age.amounts", ((0, 5, 754), (6, 64, 630), (65, None, 1636))),
        ("2021-06-30", "capitation_age.amounts", ((0, 5, 360), (6, 64, 290), (65, 74, 920), (75, None, 1000))),
        ("2023-06-30", "capitation_age.amounts", ((0, 5, 480), (6, 64, 335), (65, 74, 1185), (75, None, 1290))),
        ("2016-06-30", "capitation_acg.rate", None),
        ("2019-06-30", "capitation_acg.rate", 700),
        ("2016-06-30", "capitation_cni.rate", 307),
        ("2023-06-30", "capitation_cni.rate", 475),
        ("2021-06-30", "capitation_on_call.amount", 48),
        ("2022-06-30", "capitation_on_call.amount", None),
        ("2021-11-30", "capitation_child_mental_health.amount", None),
        ("2021-12-31", "capitation_child_mental_health.amount", 203),
        ("2022-06-30", "goal_quality.max_per_listed", 30),
        ("2021-06-30", "penalty_quality.max_per_listed", 10),
        ("2016-06-30", "penalty_no_out_of_hours.amount", Decimal("2.70")),
        ("2018-06-30", "penalty_no_out_of_hours.amount", None),
        ("2019-06-30", "cap_reduction.doctor_visits_per_listed", Decimal("1.9")),
        ("2022-06-30", "cap_reduction.psychosocial_visits_per_listed", Decimal("0.70")),
        ("2023-06-30", "cap_reduction.reduction", None),
        ("2022-06-30", "health_promotion.listed_pot", 6500000),
    ],
)
def test_rulebook_figures_match_rules_md(date, name, expected):
    value = rulebook.load().at(dt.date.fromisoformat(date)).value(name)
    if isinstance(expected, tuple):
        expected = tuple((lo, hi, Decimal(a)) for lo, hi, a in expected)
    elif expected is not None:
        expected = Decimal(expected)
    assert value == expected


def test_reform_overlays_and_is_checked_whole(tmp_path):
    base = rulebook.load()
    reform = tmp_path / "reform.yaml"
    reform.write_text(
        "description: ACG up.\nparameters:\n  capitation_acg.rate:\n    values:\n"
        "      2022-01-01: {value: 1500, reference: proposal}\n",
        encoding="utf-8",
    )
    book = apply_reform(base, reform)
    assert book.at(dt.date(2022, 6, 30)).value("capitation_acg.rate") == 1500
    assert book.at(dt.date(2023, 6, 30)).value("capitation_acg.rate") == 1300  # the base's later value still applies
    assert base.at(dt.date(2022, 6, 30)).value("capitation_acg.rate") == 1200  # the base is untouched

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "description: x\nparameters:\n  capitation_acg.rate:\n    values:\n      2022-01-01: {value: 1500, reference: p}\n"
        "  capitation_acg.ratee:\n    values:\n      2022-01-01: {value: 1, reference: p}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulebookError) as info:
        apply_reform(base, bad)
    assert info.value.key == "parameters.capitation_acg.ratee"
    bad.write_text("description: x\nparameters:\n  capitation_age.amounts:\n    values:\n      2022-01-01: {value: 3, reference: p}\n")
    with pytest.raises(RulebookError, match="age bands"):
        apply_reform(base, bad)


def test_a_rules_folder_copy_with_a_broken_file_fails_naming_it(tmp_path):
    shutil.copytree(rulebook.default_rules_dir(), tmp_path / "rules")
    target = tmp_path / "rules" / "capitation_cni" / "rate.yaml"
    target.write_text(target.read_text().replace("2019-01-01", "2019-02-30"))
    with pytest.raises(RulebookError) as info:
        rulebook.load(tmp_path / "rules")
    assert info.value.file == "capitation_cni/rate.yaml"


DECISION = """\
description: Test table.
metadata: {unit: product_codes, kind: decision_table}
values:
  2021-02-01:
    reference: "seed 002"
    value:
      - {when: {out_of_county: true}, product: null}
      - {when: {profession: [psychologist], age_max: 17}, product: P}
      - {when: {}, product: B}
"""


def test_decision_tables_parse_rows_in_order(tmp_path):
    # A decision table of no visit component (as cap_reduction.categories): no declaration needed.
    book = rulebook.load(write(tmp_path, DECISION, "comp/categories.yaml"))
    rows = book.at(dt.date(2022, 1, 1)).value("comp.categories")
    assert rows == (({"out_of_county": True}, None), ({"profession": ("psychologist",), "age_max": 17}, "P"), ({}, "B"))


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("out_of_county: true", "out_of_county: yes please", "values.2021-02-01.value[0].when.out_of_county"),
        ("profession: [psychologist]", "professin: [psychologist]", "values.2021-02-01.value[1].when.professin"),
        ("{when: {}, product: B}", "{when: {}}", "values.2021-02-01.value[2]"),
    ],
)
def test_decision_table_errors_name_the_row(tmp_path, old, new, key):
    write(tmp_path, DECISION.replace(old, new), "comp/categories.yaml")
    with pytest.raises(RulebookError) as info:
        rulebook.load(tmp_path)
    assert info.value.key == key


def test_price_lists_are_decimal_amounts_per_code(tmp_path):
    text = "description: p\nmetadata: {unit: SEK/visit, kind: price_list}\nvalues:\n  2021-02-01: {value: {VF_BASE: 110, NEW: 212.50, DED: -300}, reference: s}\n"
    book = rulebook.load(write(tmp_path, text, "visit_fee/prices.yaml"))
    assert book.at(dt.date(2021, 2, 1)).value("visit_fee.prices") == {"VF_BASE": 110, "NEW": Decimal("212.50"), "DED": -300}
    write(tmp_path, text.replace("212.50", "lots"), "visit_fee/prices.yaml")
    with pytest.raises(RulebookError, match="NEW"):
        rulebook.load(tmp_path)


def test_every_visit_product_in_a_decision_table_has_a_price_on_the_same_dates():
    # A product without a price is an error at run time; the shipped rulebook has none.
    from ersattning.products.visits import visit_components

    book = rulebook.load()
    for component in visit_components(book):
        table, prices = book[f"{component}.decision_table"], book[f"{component}.prices"]
        for version in table.values:
            if version.value is None:
                continue
            priced = prices.at(version.start)
            for _, product in version.value:
                if product is not None:
                    assert priced and product in priced.value, f"{component}: {product} unpriced on {version.start}"
