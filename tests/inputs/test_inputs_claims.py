"""medical_service.csv and requisitions.csv (optional master data for the claims of 003 Bilaga 1
and 000): a valid pair reads clean and typed; each spoilt row gives exactly one error naming the
file, line and column. Codes are checked against the rulebook's lists in force on the row's date."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from inputs_data import P1, P3, VALID, write_folder

from ersattning.rulebook import apply_reform
from ersattning.inputs import ERROR_CODES, read_inputs

CLAIMS = {
    **VALID,
    # P3 lives in county 03 (out of county): 000 says the cost responsibility is the same.
    "medical_service": f"""order_id,clinic_id,date,person_id,service_code,cost_sek
o-1,C1,2022-03-01,{P1},RAD-XR,612.50
o-2,C1,2022-03-02,{P3},LAB-CRP,95
o-3,C2,2022-03-03,,RAD-MR,4200.00
""",
    "requisitions": """clinic_id,date,drug_code,quantity
C1,2022-03-01,B03AC01,2
C2,2022-03-05,B03BA03,0.5
""",
}


def spoil(name: str, row: str) -> dict:
    files = dict(CLAIMS)
    files[name] = files[name] + row + "\n"
    return files


def only_error(tmp_path: Path, files: dict) -> tuple:
    e = read_inputs(write_folder(tmp_path / "in", files)).errors
    errors = list(zip(e["file"].to_pylist(), e["line"].to_pylist(), e["column"].to_pylist(), e["code"].to_pylist(),
                      e["message"].to_pylist()))
    assert len(errors) == 1, errors
    return errors[0]


def test_valid_claims_read_clean_and_typed(tmp_path):
    inputs = read_inputs(write_folder(tmp_path / "in", CLAIMS)).require_clean()
    ms = inputs.tables["medical_service"]
    assert ms["cost_sek"].to_pylist() == [Decimal("612.5"), Decimal(95), Decimal(4200)]
    assert ms["person_id"].to_pylist()[2] is None  # person_id is optional
    assert inputs.tables["requisitions"]["quantity"].to_pylist() == [Decimal(2), Decimal("0.5")]


def test_absent_claim_files_are_empty_tables(tmp_path):
    inputs = read_inputs(write_folder(tmp_path / "in", VALID)).require_clean()
    assert inputs.tables["medical_service"].num_rows == 0 and inputs.tables["requisitions"].num_rows == 0


MS, RQ = "medical_service.csv", "requisitions.csv"


@pytest.mark.parametrize("name, row, expected", [
    # medical_service: the cost
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,-10.00", (MS, 5, "cost_sek", "negative")),
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,10.005", (MS, 5, "cost_sek", "out_of_range")),  # 3 decimals: not öre
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,10.001", (MS, 5, "cost_sek", "out_of_range")),
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,1000000.01", (MS, 5, "cost_sek", "out_of_range")),  # huge
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,1e3", (MS, 5, "cost_sek", "bad_number")),
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,1 000", (MS, 5, "cost_sek", "bad_number")),
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XR,", (MS, 5, "cost_sek", "missing_value")),
    # the codes
    ("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XX,10", (MS, 5, "service_code", "unknown_code")),
    ("medical_service", f"o-9,C1,2022-03-04,{P1},rad-xr,10", (MS, 5, "service_code", "unknown_code")),  # look-alike
    ("medical_service", f"o-9,C1,2022-03-04,{P1}, RAD-XR,10", (MS, 5, "service_code", "bad_code")),  # whitespace
    ("medical_service", f"o-9,C1,2015-12-31,{P1},RAD-XR,10", (MS, 5, "service_code", "unknown_code")),  # before any list
    # keys, clinic, person, date
    ("medical_service", f"o-1,C1,2022-03-04,{P1},RAD-XR,10", (MS, 5, "order_id", "duplicate")),
    ("medical_service", f"o-9,C9,2022-03-04,{P1},RAD-XR,10", (MS, 5, "clinic_id", "unknown_clinic")),
    ("medical_service", "o-9,C1,2022-03-04,198005171230,RAD-XR,10", (MS, 5, "person_id", "bad_person_id")),
    ("medical_service", f"o-9,C1,2999-03-04,{P1},RAD-XR,10", (MS, 5, "date", "future_date")),
    ("medical_service", f"o-9,C1,2022-02-30,{P1},RAD-XR,10", (MS, 5, "date", "bad_date")),
    # requisitions
    ("requisitions", "C1,2022-03-04,B03AC01,0", (RQ, 4, "quantity", "out_of_range")),
    ("requisitions", "C1,2022-03-04,B03AC01,-1", (RQ, 4, "quantity", "out_of_range")),
    ("requisitions", "C1,2022-03-04,B03AC01,10001", (RQ, 4, "quantity", "out_of_range")),
    ("requisitions", "C1,2022-03-04,B03AC0l,1", (RQ, 4, "drug_code", "unknown_code")),  # l for 1
    ("requisitions", "C1,2022-03-04,B03AC01 ,1", (RQ, 4, "drug_code", "bad_code")),
    ("requisitions", "C9,2022-03-04,B03AC01,1", (RQ, 4, "clinic_id", "unknown_clinic")),
    ("requisitions", "C1,2999-01-01,B03AC01,1", (RQ, 4, "date", "future_date")),
    ("requisitions", "C1,,B03AC01,1", (RQ, 4, "date", "missing_value")),
])
def test_one_spoilt_claim_row_gives_one_error(tmp_path, name, row, expected):
    got = only_error(tmp_path, spoil(name, row))
    assert got[:4] == expected
    assert expected[3] in ERROR_CODES
    assert P1 not in got[4]  # a person number is never echoed


def test_an_unknown_code_names_the_list_and_the_date(tmp_path):
    message = only_error(tmp_path, spoil("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XX,10"))[4]
    assert message == "'RAD-XX' is not a service code of rules/medical_service in force on the row's date"


def test_a_reform_that_adds_a_code_accepts_it(tmp_path, book):
    reform = tmp_path / "more.yaml"
    reform.write_text("description: more\nparameters:\n  medical_service.shared_codes:\n    values:\n"
                      "      2022-01-01: {value: [RAD-XR, RAD-XX], reference: test}\n", encoding="utf-8")
    folder = write_folder(tmp_path / "in", spoil("medical_service", f"o-9,C1,2022-03-04,{P1},RAD-XX,10"))
    assert read_inputs(folder, book=apply_reform(book, reform)).is_clean
