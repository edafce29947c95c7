"""The README documents what users rely on: every error code, the two set-up commands."""

from __future__ import annotations

from pathlib import Path

from ersattning.inputs import ERROR_CODES
from ersattning.register import CONTACT_ERROR_CODES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_input_error_code_is_in_the_readme():
    missing = [code for code in ERROR_CODES if f"`{code}`" not in README]
    assert not missing, f"README lacks input error codes: {missing}"


def test_every_contact_error_code_is_in_the_readme():
    missing = [code for code in CONTACT_ERROR_CODES if f"`{code}`" not in README]
    assert not missing, f"README lacks contact error codes: {missing}"


def test_the_quick_start_has_the_two_commands_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci
