"""Reading and validating the input files: a valid folder, then one spoilt row per error code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from inputs_data import P1, P2, P3, SAMO, VALID, write_folder

from ersattning.errors import InputError
from ersattning.inputs import CONTRACTS, ERROR_CODES, read_inputs, validate, write_errors

P4 = "198507042227"  # valid, not in persons.csv


@pytest.fixture
def valid_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "in", VALID)


def spoil(name: str, row: str, replace: str | None = None, files: dict | None = None) -> dict:
    """VALID with `row` appended to `name` (or put in place of the line `replace`)."""
    files = dict(files or VALID)
    text = files[name]
    if replace is None:
        text = text + row + "\n"
    else:
        assert replace + "\n" in text
        text = text.replace(replace + "\n", row + "\n" if row is not None else "")
    files[name] = text
    return files


def errors_of(folder: Path) -> list[tuple]:
    e = read_inputs(folder).errors
    return list(zip(e["file"].to_pylist(), e["line"].to_pylist(), e["column"].to_pylist(), e["code"].to_pylist()))


def only_error(tmp_path: Path, files: dict) -> tuple:
    errors = errors_of(write_folder(tmp_path / "in", files))
    assert len(errors) == 1, errors
    return errors[0]


# --- a valid folder --------------------------------------------------------------------------

def test_valid_folder_reads_clean_with_types(valid_folder):
    inputs = read_inputs(valid_folder).require_clean()
    assert set(inputs.tables) == set(CONTRACTS)
    for name, contract in CONTRACTS.items():
        assert inputs.tables[name].schema == contract.schema, name
    clinics = inputs.tables["clinics"]
    assert "comment" not in clinics.column_names  # extra columns are dropped
    assert clinics["name"].to_pylist()[1] == "Husläkarna, Nacka"
    assert clinics["closed"].to_pylist() == [None, None, dt.date(2021, 12, 31)]
    risk = inputs.tables["risk"].to_pylist()
    assert risk[0]["acg_weight"] == Decimal("1.2345") and risk[0]["cni"] == Decimal("0.85")
    assert risk[2]["acg_weight"] == Decimal("2.000001")
    assert inputs.tables["risk"]["source_line"].to_pylist() == [2, 3, 4, 5, 6]
    listings = inputs.tables["listings"]
    assert listings["valid_from"].to_pylist()[0] == dt.date(2018, 1, 1)
    assert listings["valid_to"].to_pylist()[1] is None
    assert inputs.tables["goals"]["value"].to_pylist()[0] == Decimal("0.93")


def test_optional_files_absent_give_empty_typed_tables(tmp_path):
    files = {k: v for k, v in VALID.items() if k in ("clinics", "persons", "listings")}
    inputs = read_inputs(write_folder(tmp_path, files)).require_clean()
    for name in ("kombika", "risk", "home_care", "goals", "affiliations"):
        assert inputs.tables[name].num_rows == 0
        assert inputs.tables[name].schema == CONTRACTS[name].schema


def test_header_only_file_is_a_valid_empty_table(tmp_path):
    files = dict(VALID, home_care="person_id,clinic_id,valid_from,valid_to\n", risk="person_id,month,acg_weight,cni\n")
    inputs = read_inputs(write_folder(tmp_path, files)).require_clean()
    assert inputs.tables["home_care"].num_rows == 0


def test_optional_column_may_be_left_out(tmp_path):
    text = "\n".join(line.rsplit(",", 1)[0] for line in VALID["kombika"].splitlines()) + "\n"
    inputs = read_inputs(write_folder(tmp_path, dict(VALID, kombika=text))).require_clean()
    assert inputs.tables["kombika"]["valid_to"].null_count == 2


def test_crlf_and_byte_order_mark(tmp_path):
    files = {k: "\ufeff" + v.replace("\n", "\r\n") for k, v in VALID.items()}
    inputs = read_inputs(write_folder(tmp_path, files)).require_clean()
    assert inputs.tables["clinics"]["clinic_id"].to_pylist() == ["C1", "C2", "C3"]


def test_parquet_and_csv_give_the_same_typed_tables(tmp_path, valid_folder):
    pq_folder = tmp_path / "pq"
    pq_folder.mkdir()
    for name in VALID:
        table = pacsv.read_csv(valid_folder / f"{name}.csv",
                               convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in ["person_id", "clinic_id", "county_code", "area_code", "kombika", "period", "value", "acg_weight", "cni"]}))
        pq.write_table(table, pq_folder / f"{name}.parquet")  # dates as date32, ids as text
    from_csv = read_inputs(valid_folder).require_clean().tables
    from_pq = read_inputs(pq_folder).require_clean().tables
    for name in VALID:
        # Parquet rows are numbered from 1, CSV data lines from 2.
        assert from_pq[name].drop_columns("source_line").equals(from_csv[name].drop_columns("source_line")), name
        assert [n + 1 for n in from_pq[name]["source_line"].to_pylist()] == from_csv[name]["source_line"].to_pylist()


def test_parquet_bad_value_names_the_row(tmp_path):
    write_folder(tmp_path, {k: v for k, v in VALID.items() if k != "risk"})
    risk = pacsv.read_csv(pa.BufferReader(VALID["risk"].replace(",0.5,", ",\"1,5\",").encode()),
                          convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in ["acg_weight", "cni"]}))
    pq.write_table(risk, tmp_path / "risk.parquet")
    assert errors_of(tmp_path) == [("risk.parquet", 2, "acg_weight", "bad_number")]


def test_parquet_native_types_are_read_as_their_text(tmp_path):
    write_folder(tmp_path, {k: v for k, v in VALID.items() if k not in ("home_care", "risk")})
    midnight = pa.array([dt.datetime(2022, 1, 1)], pa.timestamp("us"))
    pq.write_table(pa.table({"person_id": [P3], "clinic_id": ["C1"], "valid_from": midnight,
                             "valid_to": pa.array([dt.date(2022, 12, 31)], pa.date32())}), tmp_path / "home_care.parquet")
    pq.write_table(pa.table({"person_id": [P1, P2, P3, SAMO], "month": ["2022-01"] * 4,
                             "acg_weight": pa.array([Decimal("1.2345"), Decimal("0.5"), Decimal(1), Decimal(1)], pa.decimal128(10, 4)),
                             "cni": pa.array([0.85, 1e-7, 1.0, 1.4])}), tmp_path / "risk.parquet")
    inputs = read_inputs(tmp_path)
    # A float that prints in exponent form is an error, not a rounded number.
    assert errors_of(tmp_path) == [("risk.parquet", 2, "cni", "bad_number")]
    assert inputs.tables["home_care"]["valid_from"].to_pylist() == [dt.date(2022, 1, 1)]
    assert inputs.tables["risk"].to_pylist()[0]["acg_weight"] == Decimal("1.2345")
    assert inputs.tables["risk"].to_pylist()[0]["cni"] == Decimal("0.85")


def test_parquet_timestamp_with_a_time_is_not_a_date(tmp_path):
    write_folder(tmp_path, {k: v for k, v in VALID.items() if k != "home_care"})
    pq.write_table(pa.table({"person_id": [P3], "clinic_id": ["C1"],
                             "valid_from": pa.array([dt.datetime(2022, 1, 1, 13, 30)], pa.timestamp("us"))}),
                   tmp_path / "home_care.parquet")
    assert errors_of(tmp_path) == [("home_care.parquet", 1, "valid_from", "bad_date")]


# --- files and columns -----------------------------------------------------------------------

def test_missing_required_file(tmp_path):
    files = {k: v for k, v in VALID.items() if k != "persons"}
    assert only_error(tmp_path, files) == ("persons.csv", None, None, "missing_file")


def test_csv_and_parquet_both_present(tmp_path, valid_folder):
    pq.write_table(pa.table({"clinic_id": ["C1"]}), valid_folder / "goals.parquet")
    assert errors_of(valid_folder) == [("goals.csv", None, None, "duplicate_file")]


def test_missing_column(tmp_path):
    text = "\n".join(",".join(line.split(",")[:1] + line.split(",")[2:]) for line in VALID["listings"].splitlines()) + "\n"
    assert only_error(tmp_path, dict(VALID, listings=text)) == ("listings.csv", None, "clinic_id", "missing_column")


def test_duplicate_column(tmp_path):
    text = VALID["home_care"].replace("valid_to\n", "valid_to,clinic_id\n", 1).replace("2022-12-31\n", "2022-12-31,C2\n")
    assert only_error(tmp_path, dict(VALID, home_care=text)) == ("home_care.csv", 1, "clinic_id", "duplicate_column")


@pytest.mark.parametrize("content", [
    b"person_id,clinic_id,valid_from,valid_to\n" + P1.encode() + b",C1,2020-01-01\n",  # ragged
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\xff\xfe\x00",                  # binary
    b"",                                                                                    # empty
])
def test_unreadable_file(tmp_path, content):
    folder = write_folder(tmp_path, {k: v for k, v in VALID.items() if k != "home_care"})
    (folder / "home_care.csv").write_bytes(content)
    errors = read_inputs(folder).errors.to_pylist()
    assert [(e["file"], e["code"]) for e in errors] == [("home_care.csv", "unreadable")]
    assert P1 not in errors[0]["message"]


def test_ragged_row_names_its_line(tmp_path):
    files = spoil("listings", f"{P3},C1")
    assert only_error(tmp_path, files) == ("listings.csv", 8, None, "unreadable")


def test_truncated_parquet_is_unreadable(tmp_path):
    folder = write_folder(tmp_path, {k: v for k, v in VALID.items() if k != "goals"})
    pq.write_table(pa.table({"clinic_id": ["C1"] * 100, "period": ["2022"] * 100}), folder / "goals.parquet")
    data = (folder / "goals.parquet").read_bytes()
    (folder / "goals.parquet").write_bytes(data[: len(data) // 2])
    assert errors_of(folder) == [("goals.parquet", None, None, "unreadable")]


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    clinics = VALID["clinics"].replace("C2,", '\nC2,').replace("Gamla kliniken", '"Gamla\nkliniken"')
    listings = VALID["listings"] + "\n" + f"{P4},C1,2022-02-30,\n"
    errors = errors_of(write_folder(tmp_path, dict(VALID, clinics=clinics, listings=listings)))
    assert ("listings.csv", 9, "valid_from", "bad_date") in errors
    inputs = read_inputs(tmp_path)
    assert inputs.tables["clinics"]["source_line"].to_pylist() == [2, 4, 5]
    assert inputs.tables["clinics"]["name"].to_pylist()[2] == "Gamla\nkliniken"


# --- one bad value or row among good ones ----------------------------------------------------

CASES = {
    "missing_value": ("listings", f"{P3},,2020-01-01,", ("listings.csv", 8, "clinic_id", "missing_value")),
    "missing_value_whitespace": ("clinics", "C4,  ,G1,0180,2020-01-01,,", ("clinics.csv", 5, "name", "missing_value")),
    "missing_area_in_stockholm": ("persons", f"{P4},1985-07-04,F,01,,,", ("persons.csv", 7, "area_code", "missing_value")),
    "bad_date_calendar": ("kombika", "11010048M30,C1,hlv,2022-02-30,", ("kombika.csv", 4, "valid_from", "bad_date")),
    "bad_date_format": ("home_care", f"{P1},C1,2022-1-5,", ("home_care.csv", 3, "valid_from", "bad_date")),
    "bad_month": ("risk", f"{P2},2022-13,1,1", ("risk.csv", 7, "month", "bad_month")),
    "bad_period": ("goals", "C2,22,quality_areas_met,1", ("goals.csv", 5, "period", "bad_period")),
    "bad_period_granularity": ("goals", "C2,2022,care_guarantee_share,0.5", ("goals.csv", 5, "period", "bad_period")),
    "bad_number_comma": ("risk", f"{P2},2022-02,\"1,5\",1", ("risk.csv", 7, "acg_weight", "bad_number")),
    "bad_number_text": ("risk", f"{P2},2022-02,1,abc", ("risk.csv", 7, "cni", "bad_number")),
    "bad_number_exponent": ("risk", f"{P2},2022-02,1e3,1", ("risk.csv", 7, "acg_weight", "bad_number")),
    "bad_number_decimals": ("risk", f"{P2},2022-02,1.1234567,1", ("risk.csv", 7, "acg_weight", "bad_number")),
    "bad_number_bare_point": ("risk", f"{P2},2022-02,.5,1", ("risk.csv", 7, "acg_weight", "bad_number")),
    "negative": ("risk", f"{P2},2022-02,1,-0.3", ("risk.csv", 7, "cni", "negative")),
    "negative_count": ("goals", "C2,2022,quality_areas_met,-1", ("goals.csv", 5, "value", "negative")),
    "out_of_range_share": ("goals", "C2,2022-01,care_guarantee_share,1.2", ("goals.csv", 5, "value", "out_of_range")),
    "out_of_range_share_negative": ("goals", "C2,2022-01,care_guarantee_share,-0.3", ("goals.csv", 5, "value", "out_of_range")),
    "out_of_range_count": ("goals", "C2,2022,quality_areas_met,2.5", ("goals.csv", 5, "value", "out_of_range")),
    "bad_person_id_luhn": ("persons", "198507042228,1985-07-04,F,03,,,", ("persons.csv", 7, "person_id", "bad_person_id")),
    "bad_person_id_date": ("persons", "198502302227,1985-02-28,F,03,,,", ("persons.csv", 7, "person_id", "bad_person_id")),
    "bad_person_id_in_listing": ("listings", "8507042227,C1,2020-01-01,", ("listings.csv", 8, "person_id", "bad_person_id")),
    "bad_enum_sex": ("persons", f"{P4},1985-07-04,K,03,,,", ("persons.csv", 7, "sex", "bad_enum")),
    "bad_enum_goal": ("goals", "C2,2022,patients_happy,1", ("goals.csv", 5, "goal", "bad_enum")),
    "bad_code_kombika": ("kombika", "1101004M30,C1,hlv,2020-01-01,", ("kombika.csv", 4, "kombika", "bad_code")),
    "bad_code_county": ("persons", f"{P4},1985-07-04,F,1,,,", ("persons.csv", 7, "county_code", "bad_code")),
    "bad_code_spaces": ("affiliations", "C2 ,C1,hlv,2020-01-01,", ("affiliations.csv", 3, "clinic_id", "bad_code")),
    "bad_interval": ("home_care", f"{P1},C1,2022-02-01,2022-01-31", ("home_care.csv", 3, "valid_to", "bad_interval")),
    "bad_interval_clinic": ("clinics", "C4,Ny,G1,0180,2020-01-01,2019-12-31,", ("clinics.csv", 5, "closed", "bad_interval")),
    "duplicate_clinic": ("clinics", "C1,Kista igen,G1,0180,2010-01-01,,", ("clinics.csv", 5, "clinic_id", "duplicate")),
    "duplicate_kombika": ("kombika", "11010047M30,C1,hlv,2023-06-01,", ("kombika.csv", 4, "valid_from", "duplicate")),
    "duplicate_person": ("persons", f"{SAMO},1990-03-12,M,01,0180,2022-06-01,", ("persons.csv", 7, "valid_from", "duplicate")),
    "duplicate_risk": ("risk", f"{P2},2022-01,0.7,1", ("risk.csv", 7, "month", "duplicate")),
    "duplicate_goal": ("goals", "C1,2022,quality_areas_met,5", ("goals.csv", 5, "goal", "duplicate")),
    "duplicate_home_care": ("home_care", f"{P3},C2,2022-06-01,", ("home_care.csv", 3, "valid_from", "duplicate")),
    "unknown_clinic": ("listings", f"{P1},C9,2017-01-01,2017-12-31", ("listings.csv", 8, "clinic_id", "unknown_clinic")),
    "unknown_provider_clinic": ("affiliations", "C2,C9,hlv,2020-01-01,", ("affiliations.csv", 3, "provider_clinic_id", "unknown_clinic")),
    "unknown_person": ("home_care", f"{P4},C1,2022-01-01,", ("home_care.csv", 3, "person_id", "unknown_person")),
    "unknown_person_risk": ("risk", f"{P4},2022-01,1,1", ("risk.csv", 7, "person_id", "unknown_person")),
    "overlapping_listing": ("listings", f"{P2},C1,2020-01-01,", ("listings.csv", 8, "valid_from", "overlapping_listing")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_bad_row(tmp_path, case):
    name, row, expected = CASES[case]
    assert only_error(tmp_path, spoil(name, row)) == expected


def test_overlapping_listing_names_the_other_line(tmp_path):
    folder = write_folder(tmp_path, spoil("listings", f"{P2},C1,2020-01-01,"))
    e = read_inputs(folder).errors.to_pylist()[0]
    assert "line 4" in e["message"] and "clinic C2" in e["message"]


def test_listing_outside_clinic(tmp_path):
    files = spoil("listings", f"{P3},C3,2022-02-01,", replace=f"{P3},C1,2020-01-01,")
    assert only_error(tmp_path, files) == ("listings.csv", 5, "valid_from", "listing_outside_clinic")
    files = spoil("listings", f"{P2},C2,2015-01-01,", replace=f"{P2},C2,2019-06-01,")
    assert only_error(tmp_path / "b", files) == ("listings.csv", 4, "valid_from", "listing_outside_clinic")


def test_missing_risk_names_the_first_month(tmp_path):
    files = spoil("persons", f"{P4},1985-07-04,F,01,0180,,")
    files = spoil("listings", f"{P4},C1,2021-06-01,", files=files)
    files = spoil("risk", f"{P4},2022-02,1,1", files=files)
    folder = write_folder(tmp_path, files)
    errors = read_inputs(folder).errors.to_pylist()
    assert [(e["file"], e["line"], e["column"], e["code"]) for e in errors] == [("listings.csv", 8, "person_id", "missing_risk")]
    assert "2022-01" in errors[0]["message"]


def test_missing_risk_only_for_months_the_listing_covers(tmp_path):
    # Listed from 2022-01-31 to 2022-02-27: covers only the month-end 2022-01-31.
    files = spoil("persons", f"{P4},1985-07-04,F,01,0180,,")
    files = spoil("listings", f"{P4},C1,2022-01-31,2022-02-27", files=files)
    files = spoil("risk", f"{P4},2022-02,1,1", files=files)
    assert only_error(tmp_path, files) == ("listings.csv", 8, "person_id", "missing_risk")
    # Listed from 2022-02-01: the person's first row (2022-02) is in time.
    files = spoil("listings", f"{P4},C1,2022-02-01,", replace=f"{P4},C1,2022-01-31,2022-02-27", files=files)
    assert errors_of(write_folder(tmp_path / "b", files)) == []


def test_missing_risk_skips_reservnummer_and_empty_risk(tmp_path):
    # RESERV is listed from 2022-01-01 without a risk row: not an error (VALID reads clean).
    files = dict(VALID, risk="person_id,month,acg_weight,cni\n")
    assert errors_of(write_folder(tmp_path, files)) == []


def test_several_errors_on_one_row_are_all_reported(tmp_path):
    errors = errors_of(write_folder(tmp_path, spoil("persons", "1234,1985-02-30,X,1,,,")))
    assert errors == [
        ("persons.csv", 7, "birth_date", "bad_date"),
        ("persons.csv", 7, "county_code", "bad_code"),
        ("persons.csv", 7, "person_id", "bad_person_id"),
        ("persons.csv", 7, "sex", "bad_enum"),
    ]


def test_messages_never_contain_a_person_number(tmp_path):
    files = spoil("persons", f"{P4[:-1]}9,1985-07-04,F,03,,,")
    files = spoil("listings", f"{P4},C9,2030-02-30,", files=files)
    files = spoil("risk", f"{P1},2022-01,x,-1", files=files)
    errors = read_inputs(write_folder(tmp_path, files)).errors.to_pylist()
    assert len(errors) >= 5
    for e in errors:
        for pid in (P1, P2, P3, P4, P4[:-1] + "9", "1985-07-04"):
            assert pid not in e["message"]


def test_every_code_is_documented():
    for _, _, expected in CASES.values():
        assert expected[3] in ERROR_CODES
    for code in ("missing_file", "duplicate_file", "unreadable", "missing_column", "duplicate_column",
                 "listing_outside_clinic", "missing_risk"):
        assert code in ERROR_CODES


# --- the API around the table ----------------------------------------------------------------

def test_require_clean_raises_with_the_error_table(tmp_path):
    inputs = read_inputs(write_folder(tmp_path, spoil("risk", f"{P2},2022-02,1,abc")))
    with pytest.raises(InputError) as info:
        inputs.require_clean()
    assert info.value.errors.num_rows == 1
    assert "risk.csv line 7, cni: bad_number" in str(info.value)


def test_rows_with_bad_values_are_left_out_of_the_typed_tables(tmp_path):
    inputs = read_inputs(write_folder(tmp_path, spoil("risk", f"{P2},2022-02,1,abc")))
    assert inputs.tables["risk"]["source_line"].to_pylist() == [2, 3, 4, 5, 6]


def test_write_errors(tmp_path):
    inputs = read_inputs(write_folder(tmp_path / "in", spoil("risk", f"{P2},2022-02,1,abc")))
    write_errors(inputs.errors, tmp_path / "errors.csv")
    text = (tmp_path / "errors.csv").read_text().splitlines()
    assert text[0] == '"file","line","column","code","message"'
    assert text[1].startswith('"risk.csv",7,"cni","bad_number",')


def test_validate_in_memory_tables():
    tables = {name: pacsv.read_csv(pa.BufferReader(text.encode()), convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in text.splitlines()[0].split(",")})) for name, text in VALID.items()}
    tables["risk"] = tables["risk"].set_column(2, "acg_weight", pa.array(["1.2345", "0.5", "2.000001", "0.9", "x"]))
    result = validate(tables, {"risk": "risk.csv"})
    assert result.errors.select(["file", "line", "column", "code"]).to_pylist() == [
        {"file": "risk.csv", "line": 6, "column": "acg_weight", "code": "bad_number"}]


def test_folder_that_does_not_exist(tmp_path):
    with pytest.raises(InputError):
        read_inputs(tmp_path / "nope")
