"""Component declarations (rules/COMPONENT/component.yaml): checked strictly by the loader, kept
by every copy of the rulebook, and true to the lines the engine makes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from ersattning.rulebook import apply_reform
from ersattning import rulebook
from ersattning.errors import RulebookError
from ersattning.rulebook.components import CATEGORY_GROUP, band_code

#: DESIGN.md's components that statements carry today (the unpaid ones it lists have no lines yet).
DESIGN_COMPONENTS = {
    "capitation_age", "capitation_acg", "capitation_cni", "capitation_on_call", "capitation_child_mental_health",
    "capitation_sick_leave_coordination", "capitation_home_care", "capitation_born_abroad",
    "capitation_competence_development", "health_promotion", "new_clinic", "visit_fee",
    "visit_out_of_county", "supplement_other_clinic_patient", "deduction_own_patient_elsewhere",
    "supplement_video_unlisted", "supplement_unlisted", "supplement_child_0_5_mental_health", "supplement_kva",
    "supplement_peripheral_home_visit", "cap_reduction", "goal_quality", "goal_care_guarantee", "penalty_quality",
    "penalty_no_out_of_hours", "adjustment", "collaboration", "geographic_coordination", "extended_opening_hours",
    "penalty_reporting", "penalty_environment",
    "medical_service", "requisition_drugs",  # the claims of master data (003 Bilaga 1; 000)
}


@pytest.fixture()
def rules(tmp_path) -> Path:
    """A copy of the packaged rules folder to break."""
    return Path(shutil.copytree(rulebook.default_rules_dir(), tmp_path / "rules"))


def _edit(rules: Path, component: str, old: str, new: str) -> None:
    path = rules / component / "component.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_every_component_is_declared_once_with_its_facts(book):
    assert set(book.components) == DESIGN_COMPONENTS
    acg = book.components["capitation_acg"]
    assert (acg.group, acg.label_sv, acg.category, acg.unit, acg.divisor, acg.posted) == (
        "fixed", "Listningsersättning, ACG", "acg", "SEK/listed/year", 12, "month")
    assert acg.produced_by == ("ersattning.products.capitation",)
    assert [(p.code, p.price, p.uplift) for p in acg.products] == [
        ("CAP_ACG", "capitation_acg.rate", "capitation_acg.temporary_uplift")]
    assert book.components["goal_quality"].posted == "january_next_year"
    assert {n for n, c in book.components.items() if c.manual} == {
        "collaboration", "geographic_coordination", "extended_opening_hours", "penalty_reporting", "penalty_environment"}
    assert {n for n, c in book.components.items() if c.sign == "negative"} == {"penalty_reporting", "penalty_environment"}
    for c in book.components.values():
        assert CATEGORY_GROUP[c.category] == c.group, c.name


def test_product_codes_come_from_the_declarations(book):
    assert book.code("capitation_acg") == "CAP_ACG"
    assert book.code("goal_quality", year=2021) == "GOAL_QUALITY_2021"
    assert book.code("health_promotion", "health_promotion.listed_pot") == "HEALTH_PROMOTION_LISTED"
    assert book.code("new_clinic", "new_clinic.monthly_amount", year=2016) == "NEW_CLINIC_MONTHLY_2016"
    age = book.component("capitation_age")
    assert age.band_code(0, 5) == band_code(0, 5) == "CAP_AGE_0_5"
    assert age.band_code(75, None) == "CAP_AGE_75_PLUS"
    with pytest.raises(KeyError, match="2 products"):
        book.code("health_promotion")  # two pots: say which
    with pytest.raises(KeyError, match="no component 'capitation_widget'"):
        book.component("capitation_widget")


def test_every_copy_of_the_rulebook_keeps_the_declarations(book, tmp_path):
    reform = tmp_path / "reform.yaml"
    reform.write_text('description: r\nparameters:\n  capitation_acg.rate:\n    values:\n'
                      '      2022-01-01: {value: 1500, reference: "test"}\n', encoding="utf-8")
    for copy in (apply_reform(book, reform), book.for_sample(1_000), book.frozen_at(dt.date(2019, 6, 1))):
        assert copy.components == book.components


@pytest.mark.parametrize(
    "component, old, new, key, message",
    [
        ("capitation_acg", "posted: month", "posted: month\ncolour: blue", "colour", "unknown key"),
        ("capitation_acg", "group: fixed", "group: fixd", "group", "unknown group"),
        ("capitation_acg", "group: fixed", "group: variable", "category", "belongs to the fixed group"),
        ("capitation_acg", "category: acg", "category: acgg", "category", "unknown category"),
        ("capitation_acg", "unit: SEK/listed/year", "unit: SEK/listed/yr", "unit", "unknown unit"),
        ("capitation_acg", "posted: month", "posted: weekly", "posted", "unknown posting"),
        ("capitation_acg", "divisor: 12", "divisor: 4", "divisor", "12 for an annual amount"),
        ("capitation_acg", "divisor: 12\n", "", "divisor", "missing"),
        ("capitation_acg", "produced_by: ersattning.products.capitation", "produced_by: ersattning.products.widgets",
         "produced_by", "no module"),
        ("capitation_acg", "price: capitation_acg.rate,", "price: capitation_acg.rates,", "products.CAP_ACG.price",
         "no parameter 'capitation_acg.rates'"),
        ("capitation_acg", "uplift: capitation_acg.temporary_uplift", "uplift: capitation_acg.uplift",
         "products.CAP_ACG.uplift", "no parameter"),
        ("capitation_acg", "CAP_ACG\": {price", "CAP_ACG\": {prise", "products.CAP_ACG.prise", "unknown key"),
        ("capitation_acg", '"CAP_ACG"', '"CAP_ACG_{colour}"', "products.CAP_ACG_{colour}", "unknown placeholder"),
        ("capitation_age", '"CAP_AGE_{band}"', '"CAP_AGE"', "products.CAP_AGE.price", "needs a number"),
        ("capitation_age", "uplift: capitation_age.temporary_uplift", "uplift: capitation_acg.temporary_uplift",
         "products.CAP_AGE_{band}.uplift", "an uplift has its price's kind (age_bands)"),
        ("collaboration", "manual: true", "manual: yes please", "manual", "true or false"),
        ("supplement_kva", "produced_by: ersattning.products.visits", "produced_by: ersattning.products.goals",
         "produced_by", "has a decision table"),
    ],
)
def test_a_bad_declaration_names_file_and_key(rules, component, old, new, key, message):
    _edit(rules, component, old, new)
    with pytest.raises(RulebookError) as info:
        rulebook.load(rules)
    assert info.value.file == f"{component}/component.yaml"
    assert info.value.key == key
    assert message in info.value.message


def test_a_decision_table_of_no_declared_component_is_refused(rules):
    (rules / "supplement_kva" / "component.yaml").unlink()
    with pytest.raises(RulebookError) as info:
        rulebook.load(rules)
    assert info.value.file == "supplement_kva/decision_table.yaml"
    assert "declare rules/supplement_kva/component.yaml" in info.value.message


def test_a_visit_component_without_its_price_list_is_refused(rules):
    (rules / "supplement_kva" / "prices.yaml").unlink()
    with pytest.raises(RulebookError) as info:
        rulebook.load(rules)
    assert (info.value.file, info.value.key) == ("supplement_kva/component.yaml", "products.{decision_table}.price")


def test_a_declaration_lies_in_its_component_folder(rules):
    nested = rules / "capitation_acg" / "extra"
    nested.mkdir()
    shutil.copy(rules / "capitation_acg" / "component.yaml", nested / "component.yaml")
    with pytest.raises(RulebookError, match="lies in its component's folder"):
        rulebook.load(rules)


def test_a_declaration_that_is_not_a_mapping_is_refused(rules):
    (rules / "capitation_acg" / "component.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        rulebook.load(rules)
    assert info.value.file == "capitation_acg/component.yaml"


def _matching(component, line: dict, book):
    """The declared products of `component` that a line's product code stands for."""
    found = []
    for product in component.products:
        if "decision_table" in product.placeholders:
            table = book[f"{component.name}.decision_table"]
            codes = {code for v in table.values if v.value for _, code in v.value if code}
            if line["product_code"] in codes:
                found.append(product)
        elif product.pattern().match(line["product_code"]):
            found.append(product)
    return found


def test_the_engines_lines_are_the_declared_products_priced_by_the_declared_parameters():
    from ersattning.analysis.scenarios import synthetic_engine
    from ersattning.statements import compute_month

    engine, summary = synthetic_engine(2_000, [2016, 2022], seed=5)
    book = rulebook.load().for_sample(summary["persons"])
    seen = set()
    for month in ("2016-03", "2022-06", "2023-01"):  # the 2016 items, the 2022 model, the yearly items of 2022
        for line in compute_month(engine, book, month).lines.to_pylist():
            component = book.components[line["component"]]
            products = _matching(component, line, book)
            assert products, f"{line['component']}: {line['product_code']} is not a declared product"
            product = products[0]
            if product.price:
                assert f"{product.price}@" in line["rule"], (line["product_code"], line["rule"])
            if component.produces("ersattning.products.capitation") or component.produces("ersattning.products.visits"):
                assert (line["unit"], line["divisor"]) == (product.unit or component.unit, component.divisor), line["product_code"]
            seen.add(line["component"])
    assert {"capitation_age", "capitation_acg", "visit_fee", "health_promotion", "cap_reduction", "goal_quality"} <= seen


@pytest.mark.parametrize(("component", "old", "new", "message"), [
    ("penalty_environment", "sign: negative", "sign: minus", "unknown sign 'minus'"),
    ("goal_quality", "produced_by: ersattning.products.goals", "produced_by: ersattning.products.goals\nsign: negative",
     "only a manual component declares its lines' sign"),
])
def test_a_bad_sign_is_refused_naming_the_key(rules, component, old, new, message):
    _edit(rules, component, old, new)
    with pytest.raises(RulebookError, match=message) as err:
        rulebook.load(rules)
    assert "sign" in str(err.value)
