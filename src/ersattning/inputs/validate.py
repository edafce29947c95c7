"""Checks raw input tables against the contracts and types them, on whole columns at once.

Every problem becomes one row of an error table (file, line, column, code, message); nothing
is coerced. Values are checked with pyarrow.compute and numpy, relations between rows and
files (duplicates, overlaps, unknown keys, missing risk) with DuckDB SQL over the Arrow tables.
Messages never contain a person number or a birth date (personal data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ersattning.errors import InputError
from ersattning.ids import fixed_width_bytes, luhn_check_digits
from ersattning.inputs import schema as s
from ersattning.region import STOCKHOLM_COUNTY, is_reservnummer_arrow
from ersattning.inputs.read import column_as_text
from ersattning.inputs.parse import dictionary_parse, mask_np, parse_dates, person_id_problems
from ersattning.inputs.schema import CONTRACTS, ERRORS_SCHEMA, SOURCE_LINE, Column, Contract

_NULL = pa.scalar(None, pa.string())
_ECHO_CHARS = 40  # long values are cut in messages: enough to recognise, not a dump


@dataclass
class InputSet:
    """The typed contract tables of one input folder and every problem found in it.

    `tables` has all contract names; an absent optional file is an empty typed table. Rows
    with a value that could not be typed are left out of `tables` (their errors say why);
    rows that only break a rule between rows or files are kept.
    """

    tables: dict[str, pa.Table]
    errors: pa.Table
    #: The names that came as files (the tables a load replaces); the others are the stored
    #: tables checked with them, or empty.
    given: frozenset = frozenset(CONTRACTS)

    @property
    def is_clean(self) -> bool:
        return self.errors.num_rows == 0

    def require_clean(self) -> "InputSet":
        """This set, or InputError carrying the error table when any check failed."""
        if self.is_clean:
            return self
        n = self.errors.num_rows
        shown = self.errors.slice(0, 5).to_pylist()
        lines = [_describe(e) for e in shown]
        more = f"\n  … and {n - len(shown)} more" if n > len(shown) else ""
        raise InputError(f"{n} input error{'s' if n != 1 else ''}:\n  " + "\n  ".join(lines) + more, errors=self.errors)


def _describe(e: dict) -> str:
    where = e["file"] + (f" line {e['line']}" if e["line"] is not None else "") + (f", {e['column']}" if e["column"] else "")
    return f"{where}: {e['code']}: {e['message']}"


def write_errors(errors: pa.Table, path) -> None:
    """Write an error table as CSV (file, line, column, code, message); empty line/column = not row- or column-specific."""
    pacsv.write_csv(errors.cast(ERRORS_SCHEMA), str(path))


def empty_errors() -> pa.Table:
    return ERRORS_SCHEMA.empty_table()


# --- the collector ---------------------------------------------------------------------------

class _Errors:
    """Error rows gathered as whole tables, one per check."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def add(self, file: str, lines: pa.Array | None, column: str | None, code: str, message) -> None:
        """Rows for `lines` (None = one file-level row); `message` is one string or an array aligned with `lines`."""
        if lines is None:
            lines = pa.array([None], pa.int64())
        n = len(lines)
        if n == 0:
            return
        if isinstance(message, str):
            message = pa.repeat(pa.scalar(message, pa.string()), n)
        self.parts.append(pa.table([
            pa.repeat(pa.scalar(file, pa.string()), n),
            lines.cast(pa.int64()),
            pa.repeat(pa.scalar(column, pa.string()), n),
            pa.repeat(pa.scalar(code, pa.string()), n),
            message.cast(pa.string()),
        ], schema=ERRORS_SCHEMA))

    def add_masked(self, file: str, lines: pa.Array, mask: np.ndarray, column: str, code: str, message) -> None:
        """Rows where `mask` holds; `message` is a string, an aligned array or a `_Quoted`."""
        if not mask.any():
            return
        m = pa.array(mask)
        if isinstance(message, _Quoted):
            message = message.select(mask)
        elif not isinstance(message, str):
            message = message.filter(m)
        self.add(file, lines.filter(m), column, code, message)

    def add_table(self, file: str, t: pa.Table) -> None:
        """Rows from a query result with columns line, column, code, message."""
        if t.num_rows == 0:
            return
        n = t.num_rows
        self.parts.append(pa.table([
            pa.repeat(pa.scalar(file, pa.string()), n),
            t.column("line").cast(pa.int64()),
            t.column("column").cast(pa.string()),
            t.column("code").cast(pa.string()),
            t.column("message").cast(pa.string()),
        ], schema=ERRORS_SCHEMA))

    def table(self, file_order: list[str]) -> pa.Table:
        if not self.parts:
            return empty_errors()
        t = pa.concat_tables(self.parts).combine_chunks()
        rank = pc.index_in(t.column("file"), value_set=pa.array(file_order, pa.string()))
        keyed = t.append_column("_rank", pc.fill_null(rank, len(file_order)))
        keys = ["_rank", "file", "line", "column", "code", "message"]
        order = pc.sort_indices(keyed, sort_keys=[(k, "ascending", "at_start") for k in keys])
        return t.take(order)


# --- entry point -----------------------------------------------------------------------------

@dataclass
class _File:
    """One contract file during validation: its raw text, its typed columns (null where a
    value is missing or bad) and which rows have a value-level error."""

    contract: Contract
    source: str
    raw: dict[str, pa.Array]
    typed: dict[str, pa.Array]
    lines: pa.Array
    bad: np.ndarray
    aux: dict

    @property
    def name(self) -> str:
        return self.contract.name

    def work_table(self) -> pa.Table:
        """Typed columns, source_line and `_bad`, for SQL."""
        cols = {c: self.typed[c] for c in self.contract.column_names}
        cols[SOURCE_LINE] = self.lines
        cols["_bad"] = pa.array(self.bad)
        return pa.table(cols)

    def typed_table(self) -> pa.Table:
        cols = [self.typed[c] for c in self.contract.column_names] + [self.lines]
        table = pa.Table.from_arrays(cols, schema=self.contract.schema)
        return table.filter(pa.array(~self.bad)) if self.bad.any() else table


def validate(tables: dict[str, pa.Table], sources: dict[str, str] | None = None,
             read_errors: list[dict] | pa.Table | None = None, stored: dict[str, pa.Table] | None = None,
             codes: dict | None = None) -> InputSet:
    """Check and type raw tables (name -> table of text columns, optionally with `source_line`).

    `sources` maps a name to its file name for messages (default NAME.csv); a name in
    `sources` but not in `tables` was present but unreadable (its error is in `read_errors`),
    so it is not reported missing again and checks that need it are skipped.

    `stored` gives typed tables already in the database for files that are absent: a load
    keeps them, so they stand in for the absent files in every check (the checks between
    files see what the database will hold). Their problems are reported as "NAME (stored)".

    `codes`: the rulebook's code lists the claims' codes are checked against (`rule_codes`;
    default: those of the packaged rulebook).
    """
    sources = dict(sources or {})
    given = frozenset(tables)
    for name, table in (stored or {}).items():
        if name in CONTRACTS and name not in tables and name not in sources:
            tables = {**tables, name: _as_text(table, CONTRACTS[name])}
            sources[name] = f"{name} (stored)"
    errors = _Errors()
    if read_errors is not None:
        t = read_errors if isinstance(read_errors, pa.Table) else pa.Table.from_pylist(list(read_errors), schema=ERRORS_SCHEMA)
        if t.num_rows:
            errors.parts.append(t.cast(ERRORS_SCHEMA))
    files: dict[str, _File] = {}
    for name, contract in CONTRACTS.items():
        source = sources.get(name, f"{name}.csv")
        if name not in tables:
            if name not in sources and contract.required_file:
                errors.add(source, None, None, "missing_file", f"the required file {name}.csv (or {name}.parquet) is missing")
            continue
        f = _parse_file(contract, tables[name], source, errors)
        if f is not None:
            files[name] = f
    _check_relations(files, errors, codes)
    typed = {name: (files[name].typed_table() if name in files else c.empty_table()) for name, c in CONTRACTS.items()}
    order = [sources.get(n, f"{n}.csv") for n in CONTRACTS]
    return InputSet(typed, errors.table(order), given)


def _as_text(table: pa.Table, contract: Contract) -> pa.Table:
    """A typed (stored) table as the text its file held: dates ISO, decimals plain, and the
    line each row came from."""
    cols = {c: column_as_text(table.column(c)) for c in contract.column_names if c in table.column_names}
    if SOURCE_LINE in table.column_names:
        cols[SOURCE_LINE] = table.column(SOURCE_LINE)
    return pa.table(cols) if cols else pa.table({SOURCE_LINE: pa.array([], pa.int64())})


# --- values ----------------------------------------------------------------------------------

def _parse_file(contract: Contract, table: pa.Table, source: str, errors: _Errors) -> _File | None:
    n = table.num_rows
    if SOURCE_LINE in table.column_names:
        lines = table.column(SOURCE_LINE).combine_chunks().cast(pa.int64())
    else:  # a table handed over directly: number rows as its file would
        first = 1 if source.endswith(".parquet") else 2
        lines = pa.array(np.arange(first, n + first, dtype=np.int64))
    missing = [c.name for c in contract.columns if c.required and c.name not in table.column_names]
    for name in missing:
        errors.add(source, None, name, "missing_column", f"the required column {name!r} is not in the header")
    if missing:
        return None
    raw: dict[str, pa.Array] = {}
    typed: dict[str, pa.Array] = {}
    bad = np.zeros(n, bool)
    aux: dict = {}
    for column in contract.columns:
        if column.name in table.column_names:
            values = table.column(column.name).combine_chunks()
            if values.type != pa.string():
                values = values.cast(pa.string())
            # An empty value is a missing value, whichever way the file spelt it.
            empty = pc.equal(pc.binary_length(values), 0)
            if pc.any(empty).as_py():
                values = pc.if_else(empty, _NULL, values)
        else:
            values = pa.nulls(n, pa.string())
        raw[column.name] = values
        typed_values, problems = _parse_column(column, values, contract.name, aux)
        typed[column.name] = typed_values
        for mask, code, message in problems:
            errors.add_masked(source, lines, mask, column.name, code, message)
            bad |= mask
    f = _File(contract, source, raw, typed, lines, bad, aux)
    _check_rows(f, errors)
    return f


def _parse_column(column: Column, values: pa.Array, file: str, aux: dict) -> tuple[pa.Array, list]:
    """Typed array (null where missing or bad) and the problems: (row mask, code, message).

    Columns with few distinct values among many rows (dates, months, numbers) are parsed
    once per distinct value. `aux` receives by-products later checks reuse (month numbers).
    """
    present = mask_np(values.is_valid())
    problems = []
    kind = column.kind
    if kind in (s.TEXT, s.CODE):
        spaced = mask_np(pc.match_substring_regex(values, r"^\s|\s$"))
        if spaced.any():  # whitespace only is a missing value; around a code it is an error
            blank = spaced & mask_np(pc.match_substring_regex(values, r"^\s+$"))
            present &= ~blank
            spaced &= ~blank
            values = _keep(values, ~blank)
    if column.required:
        problems.append((~present, "missing_value", f"{column.name} is required"))

    if kind == s.TEXT:
        return values, problems
    if kind == s.CODE:
        problems.append((spaced, "bad_code", _quote(column, values, " has leading or trailing spaces")))
        return _keep(values, ~spaced), problems
    if kind == s.PERSON_ID:
        if file == "persons":  # other files are checked against persons (see _check_person_refs)
            wrong, why = person_id_problems(values)
            problems.append((wrong, "bad_person_id", _quote(column, values, why)))
        return values, problems
    if kind == s.DATE:
        typed, wrong, _, _ = dictionary_parse(values, parse_dates)
        problems.append((wrong, "bad_date", _quote(column, values, " is not a calendar date in the form YYYY-MM-DD")))
        return typed, problems
    if kind == s.MONTH:
        numbers, wrong, _, _ = dictionary_parse(values, _parse_months)
        aux["month_number"] = pc.fill_null(numbers.cast(pa.int32()), -1).to_numpy(zero_copy_only=False)
        problems.append((wrong, "bad_month", _quote(column, values, " is not a month in the form YYYY-MM")))
        return _keep(values, ~wrong), problems
    if kind == s.PERIOD:
        _, wrong, _, _ = dictionary_parse(values, _match(r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$"))
        problems.append((wrong, "bad_period", _quote(column, values, " is not a period YYYY or YYYY-MM")))
        return _keep(values, ~wrong), problems
    if kind == s.NUMBER:
        typed, wrong, reason_unique, indices = dictionary_parse(values, _parse_numbers)
        if wrong.any():
            why = (reason_unique[pc.fill_null(indices, 0).to_numpy(zero_copy_only=False)], _NUMBER_REASONS)
            problems.append((wrong, "bad_number", _quote(column, values, why)))
        if column.name in ("acg_weight", "cni", "cost_sek"):
            negative = mask_np(pc.less(typed, pa.scalar(0, s.DECIMAL)))
            problems.append((negative, "negative", _quote(column, values, " is negative")))
        return typed, problems
    if kind in (s.SEX, s.GOAL):
        allowed = s.SEXES if kind == s.SEX else tuple(s.GOALS)
        ok = mask_np(pc.is_in(values, value_set=pa.array(allowed, pa.string())))
        problems.append((present & ~ok, "bad_enum", _quote(column, values, " is not one of " + ", ".join(allowed))))
        return _keep(values, ok), problems
    if kind == s.KOMBIKA:
        ok = mask_np(pc.match_substring_regex(values, r"^\S{11}$"))
        problems.append((present & ~ok, "bad_code", _quote(column, values, " is not a kombika: 11 characters without spaces, e.g. 11010046M30")))
        return _keep(values, ok), problems
    if kind == s.ORG_NUMBER:
        typed, wrong = _org_numbers(values)
        problems.append((wrong, "bad_org_number", _quote(column, values, " is not an organisationsnummer NNNNNN-NNNN with a valid check digit")))
        return typed, problems
    if kind == s.FLAG:
        ok = mask_np(pc.is_in(values, value_set=pa.array(["0", "1"], pa.string())))
        problems.append((present & ~ok, "bad_flag", _quote(column, values, " is not 0 or 1")))
        return pc.cast(_keep(values, ok), pa.int8()), problems
    if kind == s.COUNTY:
        ok = mask_np(pc.match_substring_regex(values, r"^[0-9]{2}$"))
        problems.append((present & ~ok, "bad_code", _quote(column, values, " is not a county code of 2 digits (01 = Stockholm)")))
        return _keep(values, ok), problems
    raise AssertionError(f"unknown column kind {kind}")  # a bug in schema.py


def _org_numbers(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Organisationsnummer as 10 digits (the hyphen dropped) and the mask of present values that
    are not NNNNNN-NNNN or 10 digits with a Luhn check digit over the first nine."""
    shaped = mask_np(pc.match_substring_regex(values, r"^[0-9]{6}-?[0-9]{4}$"))
    digits = pc.replace_substring(pc.if_else(pa.array(shaped), values, _NULL), "-", "")
    ok = shaped.copy()
    idx = np.flatnonzero(shaped)
    if len(idx):
        d = fixed_width_bytes(digits.take(pa.array(idx, pa.int64())), 10).astype(np.int64) - 48
        ok[idx] = luhn_check_digits(d[:, :9]) == d[:, 9]
    wrong = mask_np(values.is_valid()) & ~ok
    return _keep(digits, ok), wrong


def _keep(values: pa.Array, ok: np.ndarray) -> pa.Array:
    """`values` with the rows that are not ok nulled (no copy when all are ok)."""
    return values if ok.all() else pc.if_else(pa.array(ok), values, _NULL)


def _match(pattern: str):
    """A `_dictionary_parse` parser that only checks the shape of each distinct value."""
    def parse(unique: pa.Array):
        ok = mask_np(pc.match_substring_regex(unique, pattern))
        return unique, ok, None
    return parse


class _Quoted:
    """An error message per row, "'value' tail", built only for the rows in error (building
    it for all 22 M rows of a risk file to keep three would dominate the run).

    `tail` is one string or (reason index per row, reasons). For personal columns the value
    is not echoed: the message starts with the column's name instead.
    """

    def __init__(self, column: Column, values: pa.Array, tail):
        self.column, self.values, self.tail = column, values, tail

    def select(self, mask: np.ndarray) -> pa.Array:
        if isinstance(self.tail, str):
            tail = pa.scalar(self.tail)
        else:
            codes, reasons = self.tail
            tail = reasons.take(pa.array(codes[mask]))
        if self.column.personal:
            if isinstance(tail, pa.Scalar):
                return pa.repeat(pa.scalar(self.column.name + self.tail), int(mask.sum()))
            return pc.binary_join_element_wise(pa.scalar(self.column.name), tail, "")
        shown = pc.utf8_slice_codeunits(self.values.filter(pa.array(mask)), 0, _ECHO_CHARS)
        return pc.binary_join_element_wise(pa.scalar("'"), shown, pa.scalar("'"), tail, "")


def _quote(column: Column, values: pa.Array, tail) -> _Quoted:
    return _Quoted(column, values, tail)


def _parse_months(unique: pa.Array) -> tuple[pa.Array, np.ndarray, None]:
    """Month numbers (year * 12 + month - 1) of YYYY-MM strings."""
    ok = mask_np(pc.match_substring_regex(unique, r"^[0-9]{4}-(0[1-9]|1[0-2])$"))
    idx = np.flatnonzero(ok)
    d = fixed_width_bytes(unique.take(pa.array(idx, pa.int64())), 7).astype(np.int64) - 48
    numbers = np.zeros(len(unique), np.int64)
    numbers[idx] = (d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]) * 12 + d[:, 5] * 10 + d[:, 6] - 1
    return pa.array(numbers, pa.int64(), mask=~ok), ok, None


# decimal128(18, 6): at most 12 digits before the point and 6 after; a few extra leading or
# trailing zeros change nothing and are accepted, more would overflow Arrow's decimal parser.
_FITS = r"^-?0{0,8}[0-9]{1,12}(\.[0-9]{1,6}0{0,8})?$"
_NUMBER_REASONS = pa.array([
    " is not a plain decimal number (like 1, 0.85 or 1.2345; point as decimal sign)",
    " has more than 6 decimals",
    " is too large (at most 12 digits before the decimal point)",
], pa.string())


def _parse_numbers(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Exact decimals from text (never through float); plain notation only. The reason a
    value fails (index into _NUMBER_REASONS) is worked out for the failing values only."""
    ok = mask_np(pc.match_substring_regex(values, _FITS))
    typed = pc.cast(pc.if_else(pa.array(ok), values, _NULL), s.DECIMAL)
    reason = np.zeros(len(values), np.int64)
    idx = np.flatnonzero(~ok & mask_np(values.is_valid()))
    if len(idx):
        sub = values.take(pa.array(idx, pa.int64()))
        plain = mask_np(pc.match_substring_regex(sub, r"^-?[0-9]+(\.[0-9]+)?$"))
        many_decimals = mask_np(pc.match_substring_regex(sub, r"\.[0-9]{6}[0-9]*[1-9]"))
        reason[idx] = np.where(plain & many_decimals, 1, np.where(plain, 2, 0))
    return typed, ok, reason


# --- rules within one file -------------------------------------------------------------------

def _check_rows(f: _File, errors: _Errors) -> None:
    """Rules between the values of one row."""
    t, src, lines = f.typed, f.source, f.lines
    for start, end in (("opened", "closed"), ("valid_from", "valid_to")):
        if start in t and end in t:
            wrong = mask_np(pc.less(t[end], t[start]))
            what = "closed is before opened" if start == "opened" else "valid_to is before valid_from"
            errors.add_masked(src, lines, wrong, end, "bad_interval", what)
            f.bad |= wrong
    if f.name == "persons":
        stockholm = mask_np(pc.equal(t["county_code"], STOCKHOLM_COUNTY))
        no_area = stockholm & mask_np(t["area_code"].is_null()) & mask_np(f.raw["area_code"].is_null())
        errors.add_masked(src, lines, no_area, "area_code", "missing_value", "area_code is required when county_code is 01 (Stockholm)")
        f.bad |= no_area
    if f.name == "goals":
        _check_goal_values(f, errors)
    if f.name in ("medical_service", "requisitions"):
        _check_claim_values(f, errors)


def _check_claim_values(f: _File, errors: _Errors) -> None:
    """medical_service and requisitions: a cost in SEK and öre within its bound, a quantity above
    0 and within its bound, a date not after today, and (medical_service) a well-formed person id."""
    t, src, lines, raw = f.typed, f.source, f.lines, f.raw
    if f.name == "medical_service":
        col, text, value = f.contract.column("cost_sek"), raw["cost_sek"], t["cost_sek"]
        ore = mask_np(pc.match_substring_regex(text, r"\.[0-9]{2}[0-9]*[1-9]"))
        huge = mask_np(pc.greater(value, pa.scalar(s.MAX_COST_SEK, s.DECIMAL)))
        errors.add_masked(src, lines, ore & mask_np(value.is_valid()), "cost_sek", "out_of_range",
                          _quote(col, text, " has more than 2 decimals: a cost is SEK and öre"))
        errors.add_masked(src, lines, huge, "cost_sek", "out_of_range",
                          _quote(col, text, f" is more than {s.MAX_COST_SEK} SEK for one order"))
        f.bad |= (ore & mask_np(value.is_valid())) | huge
        ids = t["person_id"]
        wrong, why = person_id_problems(ids)
        errors.add_masked(src, lines, wrong, "person_id", "bad_person_id", _quote(f.contract.column("person_id"), ids, why))
        f.bad |= wrong
    else:
        col, text, value = f.contract.column("quantity"), raw["quantity"], t["quantity"]
        low = mask_np(pc.less_equal(value, pa.scalar(0, s.DECIMAL)))
        high = mask_np(pc.greater(value, pa.scalar(s.MAX_QUANTITY, s.DECIMAL)))
        errors.add_masked(src, lines, low, "quantity", "out_of_range", _quote(col, text, " is not above 0"))
        errors.add_masked(src, lines, high, "quantity", "out_of_range", _quote(col, text, f" is more than {s.MAX_QUANTITY} units on one row"))
        f.bad |= low | high
    future = mask_np(pc.greater(t["date"], pa.scalar(dt.date.today(), pa.date32())))
    errors.add_masked(src, lines, future, "date", "future_date", _quote(f.contract.column("date"), raw["date"], " is after today"))
    f.bad |= future


def _check_goal_values(f: _File, errors: _Errors) -> None:
    t, src, lines, raw = f.typed, f.source, f.lines, f.raw
    goal, value, period = t["goal"], t["value"], t["period"]
    share = mask_np(pc.equal(goal, "care_guarantee_share"))
    count = mask_np(pc.is_in(goal, value_set=pa.array([g for g, (kind, _) in s.GOALS.items() if kind == "count"])))
    has_value = mask_np(value.is_valid())
    text = raw["value"]
    outside = share & has_value & mask_np(pc.or_(pc.less(value, pa.scalar(0, s.DECIMAL)), pc.greater(value, pa.scalar(1, s.DECIMAL))))
    negative = count & mask_np(pc.less(value, pa.scalar(0, s.DECIMAL)))
    fraction = count & has_value & ~negative & ~mask_np(pc.match_substring_regex(text, r"^-?[0-9]+(\.0*)?$"))
    col = f.contract.column("value")
    errors.add_masked(src, lines, outside, "value", "out_of_range", _quote(col, text, " is not a share between 0 and 1"))
    errors.add_masked(src, lines, negative, "value", "negative", _quote(col, text, " is negative: a count is 0 or more"))
    errors.add_masked(src, lines, fraction, "value", "out_of_range", _quote(col, text, " is not a whole number: the goal is a count"))
    monthly = mask_np(pc.match_substring_regex(period, r"^[0-9]{4}-[0-9]{2}$"))
    yearly = mask_np(pc.match_substring_regex(period, r"^[0-9]{4}$"))
    pcol = f.contract.column("period")
    errors.add_masked(src, lines, share & yearly, "period", "bad_period", _quote(pcol, raw["period"], " is a year: care_guarantee_share is given per month (YYYY-MM)"))
    errors.add_masked(src, lines, count & monthly, "period", "bad_period", _quote(pcol, raw["period"], " is a month: counts are given per year (YYYY)"))
    f.bad |= outside | negative | fraction | (share & yearly) | (count & monthly)


# --- rules between rows and files ------------------------------------------------------------

# Open ends of an interval, as DuckDB dates, so that overlap is a plain comparison.
_MIN, _MAX = "DATE '0001-01-01'", "DATE '9999-12-31'"
_NO_MONTH = np.iinfo(np.int64).max  # "no month": later than any month number


def _check_relations(files: dict[str, _File], errors: _Errors, codes: dict | None = None) -> None:
    """Rules between rows and between files. Keys against key sets (unknown clinic or person,
    duplicates in the big risk file, missing risk) run on integer codes in numpy; interval
    overlaps and joins on small tables run as DuckDB SQL over the Arrow tables."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a library must not draw on stdout
    for name, f in files.items():
        con.register(name, f.work_table())

    clinics = files.get("clinics")
    if clinics:
        _first_occurrence(con, errors, clinics, ["clinic_id"], "clinic_id",
                          "'clinic id ' || clinic_id || ' is already on line ' || first_line")
        known_clinics = pc.unique(clinics.raw["clinic_id"].drop_null())
        for name, f in files.items():
            for column in ("clinic_id", "provider_clinic_id"):
                if name != "clinics" and column in f.typed:
                    _check_clinic_refs(f, column, known_clinics, errors)

    person_codes = _check_person_refs(files, errors)

    if "persons" in files:
        _overlaps(con, errors, files["persons"], ["person_id"], "valid_from", "duplicate",
                  "'the same person already has a residence row overlapping this one, on line ' || other_line")
    if "kombika" in files:
        _overlaps(con, errors, files["kombika"], ["kombika"], "valid_from", "duplicate",
                  "'kombika ' || kombika || ' already has a row with overlapping validity, on line ' || other_line")
    if "home_care" in files:
        _overlaps(con, errors, files["home_care"], ["person_id"], "valid_from", "duplicate",
                  "'the same person is already enrolled in home care at an overlapping time, on line ' || other_line")
    if "affiliations" in files:
        _overlaps(con, errors, files["affiliations"], ["clinic_id", "provider_clinic_id", "assignment"], "valid_from", "duplicate",
                  "'the same affiliation already has a row with overlapping validity, on line ' || other_line")
    if "goals" in files:
        _first_occurrence(con, errors, files["goals"], ["clinic_id", "period", "goal"], "goal",
                          "goal || ' for clinic ' || clinic_id || ', ' || period || ' is already on line ' || first_line")

    if "medical_service" in files:
        _first_occurrence(con, errors, files["medical_service"], ["order_id"], "order_id",
                          "'order ' || order_id || ' is already on line ' || first_line")
    _check_rule_codes(files, codes, errors)

    risk = files.get("risk")
    risk_months = None
    if risk is not None:
        risk_months = risk.aux["month_number"]
        _risk_duplicates(risk, person_codes["risk"], risk_months, errors)

    listings = files.get("listings")
    if listings:
        _overlaps(con, errors, listings, ["person_id"], "valid_from", "overlapping_listing",
                  "'the person is already listed' || CASE WHEN other_clinic = clinic_id THEN ' at the same clinic' "
                  "ELSE ' at clinic ' || other_clinic END || ' on line ' || other_line || ' at the same time'",
                  tiebreak=["clinic_id"])
        if clinics:
            _listing_outside_clinic(con, errors, listings)
        if risk is not None and len(risk.lines):
            _missing_risk(listings, person_codes, risk, risk_months, errors)
    con.close()


def rule_codes(book) -> dict:
    """The rulebook's code lists that input columns must use, as dated sets: (file, column) →
    [(first day, set of codes)], each set holding until the next first day. Service codes are
    those of the three medical-service categories; drug codes those of the drug price list."""
    def dated(params) -> list:
        starts = sorted({v.start for p in params for v in p.values})
        out = []
        for start in starts:
            found = set()
            for p in params:
                v = p.at(start)
                if v is not None and v.value is not None:
                    found |= set(v.value)  # a list of codes, or a price list's codes
            out.append((start, frozenset(found)))
        return out

    return {
        ("medical_service", "service_code"): dated([book[name] for name in MEDICAL_SERVICE_CODE_LISTS]),
        ("requisitions", "drug_code"): dated([book["requisition_drugs.prices"]]),
    }


#: The code lists of the medical-service categories (003 Bilaga 1): the region bears the whole
#: cost, the cost is shared, or the clinic bears it (its kostnadsansvar).
MEDICAL_SERVICE_CODE_LISTS = ("medical_service.region_pays_codes", "medical_service.shared_codes",
                              "medical_service.clinic_pays_codes")


def _check_rule_codes(files: dict[str, _File], codes: dict | None, errors: _Errors) -> None:
    """`unknown_code` where a claim's code is not in the rulebook's list in force on its date
    (or its date is before any list). One set lookup per dated version of the list."""
    wanted = [key for key in s.RULE_CODE_COLUMNS if key[0] in files]
    if not wanted:
        return
    if codes is None:
        from ersattning.rulebook import load

        codes = rule_codes(load())
    for file, column in wanted:
        f = files[file]
        versions = codes.get((file, column), [])
        values, dates = f.typed[column], f.typed["date"]
        usable = mask_np(values.is_valid()) & mask_np(dates.is_valid()) & ~f.bad
        if not usable.any():
            continue
        days = _days(dates)
        starts = np.array([(v[0] - _EPOCH).days for v in versions], np.int64)
        version = np.searchsorted(starts, days, side="right") - 1
        known = np.zeros(len(values), bool)
        for i, (_, allowed) in enumerate(versions):
            rows = usable & (version == i)
            if rows.any():
                known |= rows & mask_np(pc.is_in(values, value_set=pa.array(sorted(allowed), pa.string())))
        unknown = usable & ~known
        errors.add_masked(f.source, f.lines, unknown, column, "unknown_code",
                          _quote(f.contract.column(column), values,
                                 f" is not a {s.RULE_CODE_COLUMNS[(file, column)]} in force on the row's date"))
        f.bad |= unknown


def _first_occurrence(con, errors: _Errors, f: _File, keys: list[str], column: str, message: str) -> None:
    """`duplicate` on every row whose key was already on an earlier line."""
    k = ", ".join(keys)
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in keys)
    q = f"""
        WITH dup AS (
            SELECT {k}, min(source_line) AS first_line FROM {f.name}
            WHERE NOT _bad AND {not_null} GROUP BY {k} HAVING count(*) > 1)
        SELECT t.source_line AS line, '{column}' AS "column", 'duplicate' AS code, {message} AS message
        FROM {f.name} t JOIN dup USING ({k})
        WHERE NOT t._bad AND t.source_line <> dup.first_line"""
    errors.add_table(f.source, con.sql(q).to_arrow_table())


def _overlaps(con, errors: _Errors, f: _File, keys: list[str], column: str, code: str, message: str,
              tiebreak: list[str] = ()) -> None:
    """Rows whose interval overlaps an earlier-starting row with the same key.

    Rows are ordered by (start, end, tiebreak columns, line): the later one is reported,
    naming the earlier row that reaches furthest. Ties between rows that differ are broken
    by their content, so the reported rows do not depend on the order of the file.
    """
    k = ", ".join(keys)
    extra = "".join(f", {c}" for c in tiebreak)
    order = f"s, e{extra}, source_line"
    other_clinic = "arg_max(clinic_id, reach) OVER w" if "clinic_id" in tiebreak else "NULL"
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in keys)
    q = f"""
        WITH t AS (
            SELECT {k}{extra}, source_line, coalesce(valid_from, {_MIN}) AS s, coalesce(valid_to, {_MAX}) AS e
            FROM {f.name} WHERE NOT _bad AND {not_null}),
        ranked AS (
            -- reach orders earlier rows by end, then by position: the row named is deterministic
            SELECT *, (e - DATE '0001-01-01') * 4294967296 + row_number() OVER (PARTITION BY {k} ORDER BY {order}) AS reach
            FROM t),
        w AS (
            SELECT *, max(e) OVER w AS prev_end, arg_max(source_line, reach) OVER w AS other_line,
                   {other_clinic} AS other_clinic
            FROM ranked
            WINDOW w AS (PARTITION BY {k} ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
        SELECT source_line AS line, '{column}' AS "column", '{code}' AS code, {message} AS message
        FROM w WHERE prev_end >= s"""
    errors.add_table(f.source, con.sql(q).to_arrow_table())


def _check_clinic_refs(f: _File, column: str, known: pa.Array, errors: _Errors) -> None:
    values = f.typed[column]
    unknown = mask_np(values.is_valid()) & ~mask_np(pc.is_in(values, value_set=known))
    errors.add_masked(f.source, f.lines, unknown, column, "unknown_clinic",
                      _quote(f.contract.column(column), values, " is not in clinics"))


def _check_person_refs(files: dict[str, _File], errors: _Errors) -> dict[str, np.ndarray]:
    """Persons named in other files must be in persons; those that are not are either
    malformed (`bad_person_id`) or simply absent (`unknown_person`). Only the few absent
    ones need the full identifier check, which keeps a 22 M-row risk file cheap.

    Returns each file's person codes: an int32 per row, the person's index among the known
    identifiers (-1 = none), for the checks that follow. Without a usable persons file the
    identifiers of the other files themselves are the known set (and nothing is unknown).
    """
    persons = files.get("persons")
    referring = [n for n in ("listings", "risk", "home_care") if n in files]
    if persons is not None:
        known = pc.unique(persons.raw["person_id"].drop_null())
    else:
        known = pc.unique(pa.chunked_array([files[n].typed["person_id"] for n in referring], pa.string()).drop_null())
    codes = {}
    for name in referring:
        f = files[name]
        ids = f.typed["person_id"]
        # int32 codes: 2.4 M persons fit, and the 22 M-row arrays stay half the size.
        code = pc.fill_null(pc.index_in(ids, value_set=known), -1).to_numpy(zero_copy_only=False)
        codes[name] = code
        absent = (code < 0) & mask_np(ids.is_valid())
        idx = np.flatnonzero(absent)
        if not len(idx):
            continue
        wrong, (reason, reasons) = person_id_problems(ids.take(pa.array(idx, pa.int64())))
        bad_rows = np.zeros(len(ids), bool)
        bad_rows[idx[wrong]] = True
        full_reason = np.zeros(len(ids), np.int64)
        full_reason[idx] = reason
        errors.add_masked(f.source, f.lines, bad_rows, "person_id", "bad_person_id",
                          _quote(f.contract.column("person_id"), ids, (full_reason, reasons)))
        errors.add_masked(f.source, f.lines, absent & ~bad_rows, "person_id", "unknown_person", "person_id is not in persons")
    return codes


def _month_text(numbers: np.ndarray) -> pa.Array:
    return pa.array((numbers - 1970 * 12).astype("datetime64[M]").astype(str), pa.string())


def _risk_duplicates(risk: _File, person: np.ndarray, month: np.ndarray, errors: _Errors) -> None:
    """(person_id, month) twice: on integer keys, sorted, because a hash aggregate over 22 M
    string pairs costs several times more. Only the rows of duplicated keys go further."""
    ok = (person >= 0) & (month >= 0)
    if not ok.any():
        return
    months = month[ok]
    m0 = months.min()
    key = person.astype(np.int64)  # built in place: these arrays are 22 M long
    key *= months.max() - m0 + 1
    key += month
    key -= m0
    key[~ok] = -1
    ordered = key[ok] if not ok.all() else key.copy()
    ordered.sort()
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(repeated):
        return
    rows = np.flatnonzero(ok & np.isin(key, repeated))
    sub = pa.table({"key": key[rows], "line": risk.lines.take(pa.array(rows)), "month": _month_text(month[rows])})
    first = sub.group_by("key").aggregate([("line", "min")])
    joined = sub.join(first, "key")
    later = joined.filter(pc.not_equal(joined["line"], joined["line_min"]))
    message = pc.binary_join_element_wise("the same person already has a risk row for ", later["month"],
                                          " on line ", later["line_min"].cast(pa.string()), "")
    errors.add(risk.source, later["line"], "month", "duplicate", message)


def _listing_outside_clinic(con, errors: _Errors, listings: _File) -> None:
    q = """
        WITH c AS (SELECT clinic_id, arg_min(opened, source_line) AS opened, arg_min(closed, source_line) AS closed
                   FROM clinics WHERE NOT _bad GROUP BY clinic_id)
        SELECT l.source_line AS line, 'valid_from' AS "column", 'listing_outside_clinic' AS code,
               CASE WHEN l.valid_from < c.opened
                    THEN 'the listing starts ' || l.valid_from || ', before clinic ' || l.clinic_id || ' opened (' || c.opened || ')'
                    ELSE 'the listing starts ' || l.valid_from || ', after clinic ' || l.clinic_id || ' closed (' || c.closed || ')' END AS message
        FROM listings l JOIN c USING (clinic_id)
        WHERE NOT l._bad AND (l.valid_from < c.opened OR l.valid_from > c.closed)"""
    errors.add_table(listings.source, con.sql(q).to_arrow_table())


def _missing_risk(listings: _File, codes: dict[str, np.ndarray], risk: _File, risk_month: np.ndarray, errors: _Errors) -> None:
    """A listed person (not a reservnummer) needs a risk row at or before every month-end the
    listing covers, within the months risk.csv spans (DESIGN: a listing counts for a month
    if it covers the month's last day). A risk row holds until the next one, so only the
    first covered month needs testing: the person's earliest row must be at or before it."""
    rperson = codes["risk"]
    ok = (rperson >= 0) & (risk_month >= 0)
    if not ok.any() or not len(codes["listings"]):  # no risk row, or no listing to need one
        return
    m0, m1 = risk_month[ok].min(), risk_month[ok].max()
    n_known = max(rperson.max(), codes["listings"].max()) + 1
    first = np.full(n_known, _NO_MONTH, np.int64)
    np.minimum.at(first, rperson[ok], risk_month[ok])

    person = codes["listings"]
    start = _days(listings.typed["valid_from"])
    end = _days(listings.typed["valid_to"])
    reserv = mask_np(is_reservnummer_arrow(listings.typed["person_id"]))
    usable = (person >= 0) & ~reserv & ~listings.bad & (start != _NO_DAY)
    start_month = _month_of(np.where(usable, start, 0))
    open_end = end == _NO_DAY
    safe_end = np.where(open_end, 0, end)
    end_is_month_end = _month_of(safe_end + 1) != _month_of(safe_end)
    end_month = np.where(open_end, _NO_MONTH, _month_of(safe_end) - np.where(end_is_month_end, 0, 1))
    a = np.maximum(start_month, m0)
    b = np.minimum(end_month, m1)
    earliest = first[np.where(usable, person, 0)]
    missing = usable & (a <= b) & (earliest > a)
    if not missing.any():
        return
    month = _month_text(a[missing])
    message = pc.binary_join_element_wise("the person has no risk row for ", month,
                                          " or any earlier month, and this listing covers ", month, "")
    errors.add(listings.source, listings.lines.filter(pa.array(missing)), "person_id", "missing_risk", message)


_NO_DAY = np.iinfo(np.int64).min
_EPOCH = dt.date(1970, 1, 1)


def _days(dates: pa.Array) -> np.ndarray:
    """date32 as days since 1970-01-01 (int64), _NO_DAY where null."""
    days = pc.fill_null(dates.cast(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    days[~mask_np(dates.is_valid())] = _NO_DAY
    return days


def _month_of(days: np.ndarray) -> np.ndarray:
    """Month number (year * 12 + month - 1) of days since 1970-01-01."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
