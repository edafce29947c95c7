"""Runs the scenario files: hand-made inputs, expected statement lines worked out by hand.

Each YAML file names the rule and source it checks (RULES.md section, seed file), gives
the input rows (defaults below fill what a scenario does not care about) and the lines
expected, with the arithmetic in comments. Only the listed components are compared;
within them the set of lines must match exactly (no missing, no extra lines).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from support import duckdb_engine, typed_tables
from ersattning.rulebook import apply_reform
from ersattning.statements import compute_month

HERE = Path(__file__).parent
FILES = sorted(HERE.rglob("*.yaml"))

DEFAULTS = {
    "clinics": {"name": "Vårdcentral", "group_id": "G1", "area_code": "0180-08", "opened": "2000-01-01"},
    "persons": {"county_code": "01", "area_code": "0180-08"},
    "listings": {"valid_from": "2000-01-01"},
    "kombika": {"assignment": "hlv", "valid_from": "2000-01-01"},
    "affiliations": {"assignment": "psy_child_320"},
    "contacts": {"contact_type": "clinic_visit", "profession": "doctor"},
}


def _rows(spec: dict) -> dict[str, list[dict]]:
    rows = {}
    for name, items in (spec.get("inputs") or {}).items():
        rows[name] = [{**DEFAULTS.get(name, {}), **{k: (None if v is None else str(v)) for k, v in item.items()}} for item in items]
    return rows


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HERE)) for p in FILES])
def test_scenario(path: Path, book):
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert spec.get("rule") and spec.get("source"), f"{path.name}: a scenario names its rule and source"
    scenario_book = apply_reform(book, path.parent / spec["reform"]) if spec.get("reform") else book
    engine = duckdb_engine(typed_tables(**_rows(spec)))
    for month, expected in spec["expected"].items():
        result = compute_month(engine, scenario_book, str(month))
        components = set(spec.get("components") or [])
        got = {
            (c, p): (Decimal(str(q)), Decimal(a) / 100)
            for c, comp, p, q, a in zip(
                result.lines["clinic_id"].to_pylist(), result.lines["component"].to_pylist(),
                result.lines["product_code"].to_pylist(), result.lines["basis"].to_pylist(),
                result.lines["amount_ore"].to_pylist(),
            )
            if not components or comp in components
        }
        want = {
            (str(line["clinic_id"]), line["product_code"]): (Decimal(str(line["basis"])), Decimal(str(line["amount_sek"])))
            for line in (expected or [])
        }
        assert got == want, f"{path.name} {month}"
        # Every statement total is the sum of its lines.
        by_clinic = {}
        for c, a in zip(result.lines["clinic_id"].to_pylist(), result.lines["amount_ore"].to_pylist()):
            by_clinic[c] = by_clinic.get(c, 0) + a
        for c, t in zip(result.statements["clinic_id"].to_pylist(), result.statements["total_ore"].to_pylist()):
            assert t == by_clinic.get(c, 0)
