"""Derived visit prices: the 2021 new-clinic raise is `new_clinic.base_fee_uplift_share` × the
base fee in force (003 Bilaga 2: "Besöksersättning höjs med 50% ... Höjningen gäller enbart
grundersättningen"), not a copied amount; the price line names both rule values."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from ersattning.rulebook import apply_reform
from ersattning import rulebook
from ersattning.errors import RulebookError
from ersattning.products.visits import price_list_table

RULES = Path(rulebook.__file__).resolve().parents[1] / "rules"


def _new_clinic_prices(book, day: dt.date) -> dict:
    t = price_list_table(book, [(day, day)]).to_pylist()
    return {r["product_code"]: r for r in t if r["component"] == "new_clinic"}


def test_2021_raise_is_half_the_base_fee_in_force_and_names_both_values(book):
    p = _new_clinic_prices(book, dt.date(2021, 10, 1))
    assert p["NEW_CLINIC_BASE_2021"]["unit_price_ore"] == 5500    # 0.5 × 110 SEK = 55.00
    assert p["NEW_CLINIC_PSY_2021"]["unit_price_ore"] == 21250    # 0.5 × 425 SEK = 212.50
    assert p["NEW_CLINIC_BASE_2021"]["rule"] == (
        "new_clinic.decision_table+new_clinic.prices@2021-02-01"
        "+new_clinic.base_fee_uplift_share@2021-01-01+visit_fee.prices@2021-02-01")
    assert "003_887ea947c2495c54.txt" in p["NEW_CLINIC_BASE_2021"]["reference"]


def test_a_reform_of_the_share_changes_the_raise(book, tmp_path):
    reform = tmp_path / "share.yml"
    reform.write_text(yaml.safe_dump({"description": "d", "reference": "test", "parameters": {
        "new_clinic.base_fee_uplift_share": {"values": {"2021-01-01": {"value": 0.6, "reference": "test"}}}}}), encoding="utf-8")
    p = _new_clinic_prices(apply_reform(book, reform), dt.date(2021, 10, 1))
    assert p["NEW_CLINIC_BASE_2021"]["unit_price_ore"] == 6600    # 0.6 × 110 = 66.00
    assert p["NEW_CLINIC_PSY_2021"]["unit_price_ore"] == 25500    # 0.6 × 425 = 255.00


@pytest.mark.parametrize("old, new, message", [
    ("of: visit_fee.prices, code: VF_BASE}", "of: visit_fee.prices}", "a derived price"),
    ("share: new_clinic.base_fee_uplift_share, of: visit_fee.prices, code: VF_BASE",
     "share: new_clinic.base_fee_uplift_share, of: visit_fee.pricez, code: VF_BASE", "'visit_fee.pricez' is not a price_list"),
    ("share: new_clinic.base_fee_uplift_share, of: visit_fee.prices, code: VF_BASE",
     "share: new_clinic.window_months, of: visit_fee.prices, code: VF_BASE", "'new_clinic.window_months' is not a number"),
])
def test_a_bad_derived_price_is_refused_naming_file_and_key(tmp_path, old, new, message):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    path = rules / "new_clinic" / "prices.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        rulebook.load(rules)
    assert info.value.file.endswith("new_clinic/prices.yaml")
    assert "NEW_CLINIC_BASE_2021" in info.value.key
    assert message in info.value.message
