"""persons.born_abroad (optional, 0/1): the 2015 capitation item per listed person born abroad
(003 Bilaga 2, "Utlandsfödd 326 kr/år"). A bad value is `bad_flag` naming the file, line and
column; an empty value or a file without the column reads as null, which capitation counts as 0."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from inputs_data import P1, P2, P3, SAMO, VALID, write_folder

from ersattning.inputs import ERROR_CODES, read_inputs


def _persons(values: list[str]) -> dict:
    """VALID with persons.csv given a born_abroad column, one value per person row."""
    lines = VALID["persons"].rstrip("\n").split("\n")
    assert len(lines) - 1 == len(values)
    text = "\n".join([lines[0] + ",born_abroad", *(f"{line},{v}" for line, v in zip(lines[1:], values))]) + "\n"
    return {**VALID, "persons": text}


def _read(tmp_path: Path, files: dict):
    return read_inputs(write_folder(tmp_path / "in", files))


def test_zero_one_and_empty_are_read_as_int8(tmp_path):
    result = _read(tmp_path, _persons(["1", "0", "", "1", "0"]))
    assert result.errors.num_rows == 0, result.errors.to_pylist()
    p = result.tables["persons"]
    assert p.schema.field("born_abroad").type == pa.int8()
    assert p["born_abroad"].to_pylist() == [1, 0, None, 1, 0]


def test_a_file_without_the_column_reads_as_null(tmp_path):
    p = _read(tmp_path, VALID).tables["persons"]
    assert p["born_abroad"].null_count == p.num_rows


@pytest.mark.parametrize("bad", ["2", "-1", "ja", " 1", "1 ", "01", "1.0", "true", "\u0661", "１", "9" * 30])
def test_a_bad_value_is_bad_flag_naming_line_and_column(tmp_path, bad):
    # The third person row (line 4) gets the bad value; " 1" and "1 " are spaces, "١" and "１" look-alike digits.
    result = _read(tmp_path, _persons(["0", "1", bad, "0", "1"]))
    e = result.errors.to_pylist()
    assert [(r["file"], r["line"], r["column"], r["code"]) for r in e] == [("persons.csv", 4, "born_abroad", "bad_flag")]
    message = e[0]["message"]
    assert "0 or 1" in message
    # Country of birth is personal data: neither the value nor a person number is echoed.
    for secret in (P1, P2, P3, SAMO, "19550228"):
        assert secret not in message


def test_whitespace_only_is_bad_flag_as_for_dates_and_numbers(tmp_path):
    # Only text and code columns read a value of spaces as no value; a flag of spaces is an error.
    result = _read(tmp_path, _persons(["0", "1", "   ", "0", "1"]))
    assert [r["code"] for r in result.errors.to_pylist()] == ["bad_flag"]


def test_the_code_is_documented():
    assert "born_abroad" in ERROR_CODES["bad_flag"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "| `bad_flag` |" in readme
