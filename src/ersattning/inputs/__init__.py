"""The input files (DESIGN.md "Data contracts (input files)"): read a folder, check every value
and every rule between rows and files, and hand back typed tables plus an error table.

    inputs = read_inputs("in/").require_clean()   # InputError(errors=table) if anything is wrong
    listings = inputs.tables["listings"]          # typed Arrow table with source_line
"""

from __future__ import annotations

from pathlib import Path

from ersattning.inputs.read import RawInput, read_raw
from ersattning.inputs.schema import CONTRACTS, ERROR_CODES, ERRORS_SCHEMA, Column, Contract
from ersattning.inputs.validate import InputSet, rule_codes, validate, write_errors

__all__ = [
    "CONTRACTS", "ERROR_CODES", "ERRORS_SCHEMA", "Column", "Contract", "InputSet", "RawInput",
    "read_inputs", "read_raw", "rule_codes", "validate", "write_errors",
]


def read_inputs(folder: Path | str, stored=None, book=None) -> InputSet:
    """Read and validate every contract file in `folder` (NAME.csv or NAME.parquet).

    `stored(names)`, when given, returns the database's tables for contract files absent
    from the folder (those it has): they are kept by a load and checked with the files.
    Never raises for bad data: problems are rows of `InputSet.errors`; call
    `.require_clean()` to refuse. Raises InputError only when `folder` is not a folder.
    `book`: the rulebook whose code lists the claims' codes must use (default: the packaged one).
    """
    raw = read_raw(folder)
    absent = [n for n in CONTRACTS if n not in raw.sources]
    kept = stored(absent) if stored is not None and absent else None
    codes = rule_codes(book) if book is not None else None
    return validate(raw.tables, raw.sources, raw.errors, stored=kept, codes=codes)
