"""The 2022 temporary uplift of capitation by age band (RULES.md §2, §10): each band's price is
the FFU amount plus that band's uplift, and an uplift whose bands are not the price's is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import yaml

from ersattning.rulebook import apply_reform
from ersattning.errors import StatementError
from ersattning.pricing import capitation_prices


def _age_prices(book, date):
    return {p.product_code: p for p in capitation_prices(book.at(date)) if p.component == "capitation_age"}


def _reform(tmp_path, value) -> str:
    path = tmp_path / "uplift.yml"
    path.write_text(yaml.safe_dump({
        "description": "test uplift", "reference": "test",
        "parameters": {"capitation_age.temporary_uplift": {"values": {"2022-03-01": {"value": value, "reference": "test"}}}},
    }), encoding="utf-8")
    return str(path)


def test_default_uplift_is_zero_in_every_band_and_named_in_the_rule(book):
    # 000: "Årlig åldersviktad listningsersättning enligt förfrågningsunderlaget samt tillfälligt
    # beslut, gäller från mars tom december 2022": the FFU 2022 amounts + 0 (amount not in sources).
    prices = _age_prices(book, dt.date(2022, 3, 31))
    assert {c: p.unit_price for c, p in prices.items()} == {
        "CAP_AGE_0_5": Decimal(390), "CAP_AGE_6_64": Decimal(310), "CAP_AGE_65_74": Decimal(1117), "CAP_AGE_75_PLUS": Decimal(1217)}
    assert all(p.rule == "capitation_age.amounts@2022-01-01+capitation_age.temporary_uplift@2022-03-01" for p in prices.values())
    assert all(p.illustrative for p in prices.values())  # the 0 is illustrative
    # February: no uplift in force, the rule names the amounts only.
    assert {p.rule for p in _age_prices(book, dt.date(2022, 2, 28)).values()} == {"capitation_age.amounts@2022-01-01"}


def test_uplift_per_band_adds_to_its_own_band(book, tmp_path):
    reformed = apply_reform(book, _reform(tmp_path, {"0-5": 60, "6-64": 14, "65-74": 83, "75-": 103}))
    prices = _age_prices(reformed, dt.date(2022, 6, 30))
    # 390 + 60 = 450; 310 + 14 = 324; 1117 + 83 = 1200; 1217 + 103 = 1320
    assert {c: p.unit_price for c, p in prices.items()} == {
        "CAP_AGE_0_5": Decimal(450), "CAP_AGE_6_64": Decimal(324), "CAP_AGE_65_74": Decimal(1200), "CAP_AGE_75_PLUS": Decimal(1320)}
    # 2023: the uplift has ended (null from 2023-01-01): FFU 2023 only.
    assert _age_prices(reformed, dt.date(2023, 1, 31))["CAP_AGE_0_5"].unit_price == Decimal(480)


def test_uplift_with_other_bands_is_refused(book, tmp_path):
    # 65- as one band does not match 2022's 65-74 and 75-: no silent guess at which uplift applies.
    reformed = apply_reform(book, _reform(tmp_path, {"0-5": 60, "6-64": 14, "65-": 83}))
    with pytest.raises(StatementError, match="capitation_age.temporary_uplift.*no band 65-74"):
        capitation_prices(reformed.at(dt.date(2022, 3, 31)))
