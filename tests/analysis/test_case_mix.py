"""The open case-mix index (`analysis.case_mix`) worked by hand for a few persons with given
diagnoses (the 18- and 36-month windows at their boundaries, the hierarchy, the rescaling to a
mean of 1.0 over the county's residents), and `analyze --case-mix open` on the tiny region
(tests/af_region.py): the ACG component paid on the index instead of the ACG weights."""

from __future__ import annotations

from decimal import Decimal

import af_region
import pandas as pd
import pyarrow.compute as pc
import pytest
from support import typed_tables

from ersattning.analysis import analyze
from ersattning.analysis.case_mix import charlson_groups, open_risk
from ersattning.engine import Engine

PERSONS = ["A", "B", "C", "D", "E"]


def _contact(cid: str, person: str, date: str, diagnoses: str) -> dict:
    return {"contact_id": cid, "kombika": "K", "person_id": person, "date": date, "contact_type": "clinic_visit",
            "profession": "doctor", "diagnoses": diagnoses, "reported_at": "2022-12-31T10:00:00"}


@pytest.fixture(scope="module")
def index():
    tables = typed_tables(
        persons=[*({"person_id": p, "birth_date": "1950-01-01", "sex": "F", "county_code": "01", "area_code": "0180"} for p in PERSONS),
                 {"person_id": "OUT", "birth_date": "1950-01-01", "sex": "M", "county_code": "03"}],
        risk=[{"person_id": "A", "month": "2021-12", "acg_weight": "3.5", "cni": "0.9"}],
        contacts=[
            _contact("1", "A", "2020-09-01", "I21.0"),           # myocardial infarction: 18 months, first day of the window of 2022-03
            _contact("2", "B", "2019-03-01", "J44.9"),           # COPD (chronic): 36 months, first day of the window of 2022-03
            _contact("3", "B", "2021-06-01", "E11.6;E11.1"),     # diabetes with complication (2) supersedes without (1)
            _contact("4", "C", "2020-08-31", "I21.9"),           # a day before the window of 2022-03: counts in 2022-02
            _contact("5", "C", "2022-03-10", "C78.0;Z00.0"),     # metastatic (6) supersedes malignancy; from 2022-04 (not its own month)
            _contact("6", "E", "2022-01-15", "K70.3;R18"),       # mild liver disease with ascites = severe (3)
            _contact("7", "OUT", "2022-01-10", "I50.9"),         # not a resident: indexed, but not in the mean
            _contact("8", "D", "2022-02-01", None),
        ],
    )
    engine = Engine.duckdb().register(tables)
    t = open_risk(engine, [2022]).to_pandas()
    return t.set_index(["person_id", "month"])


def _w(index, person, month) -> Decimal:
    return index.loc[(person, month), "acg_weight"]


def test_scores_by_hand_rescaled_to_a_mean_of_one(index):
    # 2022-03: scores A 1, B 1 + 2, C 0, D 0, E 3; raw = 1 + score: 2, 4, 1, 1, 4; mean 12/5 = 2.4
    expected = {"A": 2 / 2.4, "B": 4 / 2.4, "C": 1 / 2.4, "D": 1 / 2.4, "E": 4 / 2.4}
    for person, value in expected.items():
        assert _w(index, person, "2022-03") == Decimal(str(round(value, 6))), person
    assert _w(index, "OUT", "2022-03") == Decimal(str(round(2 / 2.4, 6)))
    assert abs(sum(float(_w(index, p, "2022-03")) for p in PERSONS) / len(PERSONS) - 1.0) < 1e-6


def test_window_boundaries_18_and_36_months(index):
    # 2022-04: A's infarction (2020-09-01) and B's COPD (2019-03-01) are out; C's metastasis is in:
    # raw A 1, B 1 + 2, C 1 + 6, D 1, E 1 + 3; mean 16/5 = 3.2
    expected = {"A": 1 / 3.2, "B": 3 / 3.2, "C": 7 / 3.2, "D": 1 / 3.2, "E": 4 / 3.2}
    for person, value in expected.items():
        assert _w(index, person, "2022-04") == Decimal(str(round(value, 6))), person
    # 2022-02: C's infarction of 2020-08-31 is within the 18 months before February
    # raw A 2, B 4, C 2, D 1, E 4 (E's ascites and liver disease of January count in February)
    feb = {"A": 2, "B": 4, "C": 2, "D": 1, "E": 4}
    for person, raw in feb.items():
        assert _w(index, person, "2022-02") == Decimal(str(round(raw / 2.6, 6))), person
    # 2022-01: E's contact of January is not yet counted (the month paid is not in its window)
    assert _w(index, "E", "2022-01") == _w(index, "D", "2022-01")


def test_cni_is_kept_and_every_month_has_a_row(index):
    assert index.loc[("A", "2022-07"), "cni"] == Decimal("0.9")
    assert pd.isna(index.loc[("B", "2022-07"), "cni"])
    assert len(index) == 6 * 12


def test_groups_file_has_the_published_weights():
    groups = {g["group"]: g for g in charlson_groups()}
    assert {g: groups[g]["weight"] for g in ("metastatic_solid_tumor", "aids_hiv", "severe_liver_disease", "renal_disease",
                                               "dementia")} == {"metastatic_solid_tumor": 6, "aids_hiv": 6,
                                                                "severe_liver_disease": 3, "renal_disease": 2, "dementia": 1}
    assert {g["window"] for g in groups.values()} == {18, 36}


@pytest.fixture(scope="module")
def open_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-case-mix")
    db = folder / "tiny.duckdb"
    af_region.build(db, run=False).con.con.close()
    return analyze([2022], folder / "out", db=db, case_mix="open", need=True), folder / "out"


def _total(a, component=None, exclude=None) -> int:
    t = a.year("lines", 2022)
    if component:
        t = t.filter(pc.equal(t["component"], component))
    if exclude:
        t = t.filter(pc.not_equal(t["component"], exclude))
    return int(pc.sum(t["amount_ore"]).as_py() or 0)


def test_open_case_mix_pays_acg_on_the_index(open_run):
    result, out = open_run
    base, scenario = result.base, result.analysis
    # The three residents are all listed and have no Charlson diagnosis (J06.9): index 1.0 each.
    # ACG pay = rate × Σ weights of the listed / 12 a month: base weights 1.2 + 2.5 + 0.4 = 4.1,
    # scenario 3 × 1.0; so scenario × 4.1 = base × 3, and the scenario pays 1 200 SEK × 3 persons.
    assert _total(scenario, "capitation_acg") == 3 * 1200_00
    assert _total(base, "capitation_acg") * 30 == _total(scenario, "capitation_acg") * 41
    # nothing else changes: the CNI (kept from the risk table) and all other components
    assert _total(scenario, exclude="capitation_acg") == _total(base, exclude="capitation_acg")
    cm = pd.read_csv(out / "case_mix.csv")
    assert set(cm.window_months) == {18, 36} and (cm.mean_raw == 1.0).all()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "not ACG" in page
    shares = pd.read_csv(out / "shares.csv")
    acg = shares[shares.component == "capitation_acg"].iloc[0]
    assert acg.amount_sek_base == 4920 and acg.amount_sek_scenario == 3600


def test_need_side_by_side_keeps_the_acg_bands(open_run):
    result, out = open_run
    need = pd.read_csv(out / "need.csv")
    assert {"ratio_base", "ratio_scenario", "need_per_inhabitant_ore_difference"} <= set(need.columns)
    # the cells are the ACG bands of the base in both runs (the index is 1.0 for everyone here)
    for a in (result.base, result.analysis):
        assert sorted(set(a.need_cells["acg_band"].to_pylist())) == ["1-2", "2-4", "<0.5"]
    page = (out / "report.html").read_text(encoding="utf-8")
    # the report is in Swedish by default (analysis.language): the need section's headings too
    assert "Bas: Behovsstandardiserad ersättning per område" in page
    assert "Scenario: Behovsstandardiserad ersättning per område" in page
    assert "Scenario: ACG-ersättningen betald efter ett öppet case-mix-index" in page
    for path in [*out.glob("*.csv"), out / "report.html"]:
        text = path.read_text(encoding="utf-8")
        assert not any(p in text for p in (af_region.P_ADULT, af_region.P_OLD, af_region.P_CHILD)), path.name


def test_an_unknown_case_mix_and_need_with_neutral_are_refused(tmp_path):
    from typer.testing import CliRunner

    from ersattning.analysis.neutral import NeutralError
    from ersattning.cli import app

    result = CliRunner().invoke(app, ["analyze", "--synthetic", "--years", "2022", "--case-mix", "hcc", "--output", str(tmp_path)])
    assert result.exit_code != 0 and "acg or open" in result.output
    with pytest.raises(NeutralError, match="--need"):
        analyze([2022], tmp_path, case_mix="open", neutral="capitation_cni", need=True)
