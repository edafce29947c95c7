"""clinics.org_number (optional): the provider's organisationsnummer for the e-invoice, NNNNNN-NNNN
or 10 digits with a Luhn check digit; a bad one is `bad_org_number` and is never echoed."""

from __future__ import annotations

from pathlib import Path

from ersattning.inputs import read_inputs
from test_cli_export import FILES

HEADER = "clinic_id,name,group_id,area_code,opened,closed,org_number\n"


def inputs(tmp_path: Path, clinics: str):
    for name, text in {**FILES, "clinics.csv": clinics}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return read_inputs(tmp_path)


def test_both_spellings_are_accepted_and_stored_as_ten_digits(tmp_path):
    # 232100-0016 is Region Stockholm's. Luhn over 232100001 (weights 2,1,2,…):
    # 4 + 3 + 4 + 1 + 0 + 0 + 0 + 0 + 2 = 14 → check digit (10 − 4) mod 10 = 6 ✓
    t = inputs(tmp_path, HEADER + "C1,Ett,G1,0180-01,2010-01-01,,232100-0016\nC2,Två,G2,0186,2010-01-01,,5599000014\n")
    assert t.is_clean, t.errors.to_pylist()
    assert t.tables["clinics"]["org_number"].to_pylist() == ["2321000016", "5599000014"]


def test_the_column_may_be_left_out(tmp_path):
    t = inputs(tmp_path, FILES["clinics.csv"].replace(",org_number", "").replace(",559900-0014", "").replace(",,\n", ",\n"))
    assert t.is_clean, t.errors.to_pylist()
    assert t.tables["clinics"]["org_number"].null_count == 2


def test_a_bad_check_digit_or_shape_is_bad_org_number_without_the_value(tmp_path):
    t = inputs(tmp_path, HEADER + "C1,Ett,G1,0180-01,2010-01-01,,232100-0017\nC2,Två,G2,0186,2010-01-01,,23210-00016\n")
    errors = t.errors.to_pylist()
    assert [(e["line"], e["column"], e["code"]) for e in errors] == [(2, "org_number", "bad_org_number"), (3, "org_number", "bad_org_number")]
    assert all("232100" not in e["message"] and "23210-" not in e["message"] for e in errors)  # a sole trader's is a personnummer
