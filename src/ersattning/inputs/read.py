"""Finds the contract files in a folder and reads them as all-string tables with their line numbers.

Parsing only: every value stays text (types come from `validate`), each row keeps the line
it came from (`source_line`: CSV header = line 1; Parquet row 1 = line 1), and a file that
cannot be parsed becomes an `unreadable` error row instead of an exception.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ersattning.errors import InputError
from ersattning.inputs.schema import CONTRACTS, SOURCE_LINE, Contract

_MAX_RAGGED = 1000  # a file with more ragged lines than this is garbage: stop counting


@dataclass
class RawInput:
    """What was found in a folder: raw string tables, their file names, and reading errors.

    `sources` names every contract file that exists (readable or not); a name in `sources`
    but not in `tables` could not be read, and its error is in `errors`.
    """

    tables: dict[str, pa.Table] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)

    def error(self, file: str, code: str, message: str, line: int | None = None, column: str | None = None) -> None:
        self.errors.append({"file": file, "line": line, "column": column, "code": code, "message": message})


def read_raw(folder: Path | str) -> RawInput:
    """Read every contract file in `folder` (NAME.csv or NAME.parquet) as strings.

    A missing file is not an error here (`validate` knows which are required); a folder
    that does not exist is a refusal (InputError).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"input folder {folder} does not exist or is not a folder")
    out = RawInput()
    for name, contract in CONTRACTS.items():
        found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.is_file()]
        if not found:
            continue
        if len(found) == 2:
            out.sources[name] = found[0].name
            out.error(found[0].name, "duplicate_file", f"both {name}.csv and {name}.parquet are in the folder; keep one")
            continue
        path = found[0]
        out.sources[name] = path.name
        reader = _read_csv if path.suffix == ".csv" else _read_parquet
        table = reader(path, contract, out)
        if table is not None:
            out.tables[name] = table
    return out


# --- CSV -------------------------------------------------------------------------------------

def _read_csv(path: Path, contract: Contract, out: RawInput) -> pa.Table | None:
    file = path.name
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is not part of the header
    if not data.strip():
        out.error(file, "unreadable", "the file is empty: it needs at least the header line")
        return None
    if not data.endswith(b"\n"):
        # The last line is a line without its newline: a header-only file then reads as no rows
        # (as with the newline), and a cut last line is checked like any other line.
        data += b"\n"
    header = _header(data)
    if header is None:
        out.error(file, "unreadable", "the header line is not UTF-8 text", line=1)
        return None
    _report_duplicate_columns(header, file, out)

    # Quoted values may hold line breaks: pyarrow then needs to know, or it may split a
    # record at a block boundary.
    quoted = b'"' in data
    wanted = [c for c in contract.column_names if c in header]
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header},
        # pyarrow reads every column when include_columns is empty: keep the first one
        # then, so a file without any contract column still has its rows checked and counted.
        include_columns=wanted or header[:1],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    ragged: list[int] = []

    def on_ragged(row):  # called by pyarrow, once per bad line only
        ragged.append(0)
        return "skip" if len(ragged) <= _MAX_RAGGED else "error"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=quoted, invalid_row_handler=on_ragged),
            convert_options=convert,
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError) as exc:
        _report_unparsable(data, file, str(exc), ragged, out)
        return None
    if ragged:
        _report_unparsable(data, file, "", ragged, out)
        return None
    if _newlines(data) == table.num_rows + 1:
        lines = np.arange(2, table.num_rows + 2, dtype=np.int64)  # one line per record: the usual case
    else:
        lines = _record_lines(data, table.num_rows)  # blank lines or line breaks in values
    return _with_lines(table.select(wanted), lines, table.num_rows)


def _newlines(data: bytes) -> int:
    """Line count as a newline-terminated file: a missing final newline counts as one."""
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _header(data: bytes) -> list[str] | None:
    """Column names of the first non-empty line (quoted names allowed), or None if not UTF-8."""
    start = 0
    while True:  # skip blank lines before the header, as pyarrow does
        end = data.find(b"\n", start)
        first = data[start:] if end < 0 else data[start:end]
        if first.strip(b"\r") or end < 0:
            break
        start = end + 1
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return next(csv.reader([text]))


def _report_duplicate_columns(header: list[str], file: str, out: RawInput) -> None:
    seen: set[str] = set()
    for name in header:  # a header is a handful of names: a loop here is not a loop over rows
        if name in seen:
            out.error(file, "duplicate_column", f"column {name!r} appears more than once in the header; the first is used", line=1, column=name)
        seen.add(name)


def _report_unparsable(data: bytes, file: str, message: str, ragged: list, out: RawInput) -> None:
    """One `unreadable` row: the first bad line (found again single-threaded, which numbers
    lines) and what was wrong with it. The line's text is never echoed: it is personal data."""
    if "UTF8" in message or "UTF-8" in message:
        try:
            data.decode("utf-8")
            line = None
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
        out.error(file, "unreadable", "the file is not UTF-8 text (save it as CSV UTF-8)", line=line)
        return
    if ragged:
        first: dict = {}

        def stop_at_first(row):  # row.number counts records (header = 1), not lines
            first.update(number=row.number, expected=row.expected_columns, actual=row.actual_columns)
            return "error"

        try:
            pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(data)),
                read_options=pacsv.ReadOptions(use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=stop_at_first, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=False),
            )
        except pa.ArrowException:
            pass
        if first:
            starts = _record_starts(data)
            first["line"] = int(starts[first["number"] - 1]) if first["number"] <= len(starts) else first["number"]
            more = len(ragged) - 1
            tail = "" if more <= 0 else f" ({'over ' if len(ragged) > _MAX_RAGGED else ''}{more} more such lines)"
            fields = "1 field" if first["actual"] == 1 else f"{first['actual']} fields"
            out.error(file, "unreadable", f"this line has {fields} where the header has {first['expected']}{tail}", line=first["line"])
            return
    # Anything else: keep pyarrow's diagnosis but cut off the row text it may quote.
    text = re.sub(r"(got \d+)\s*:.*", r"\1", message.splitlines()[0] if message else "").strip()
    out.error(file, "unreadable", f"the file cannot be parsed as CSV ({text[:200] or 'parse error'})")


def _record_lines(data: bytes, n_rows: int) -> np.ndarray:
    """The line each record starts on, as a person sees it in an editor, when the file has
    blank lines (which pyarrow skips) or quoted line breaks."""
    starts = _record_starts(data)
    if len(starts) != n_rows + 1:  # a quote inside an unquoted value fooled the count
        return np.arange(2, n_rows + 2, dtype=np.int64)
    return starts[1:].astype(np.int64)


def _record_starts(data: bytes) -> np.ndarray:
    """1-based line of every record, the header first; blank lines are no record, and a
    newline after an odd number of quotes is inside a value and continues the record."""
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    if data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    begins = np.concatenate(([0], ends[:-1] + 1))
    length = ends - begins
    empty = (length == 0) | ((length == 1) & (buf[np.minimum(begins, len(buf) - 1)] == 13))
    record_start = np.ones(len(ends), bool)
    if b'"' in data:
        inside = np.searchsorted(np.flatnonzero(buf == 34), ends) % 2 == 1
        record_start[1:] = ~inside[:-1]
    return (np.flatnonzero(record_start & ~empty) + 1).astype(np.int64)


# --- Parquet ---------------------------------------------------------------------------------

def _read_parquet(path: Path, contract: Contract, out: RawInput) -> pa.Table | None:
    file = path.name
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        _report_duplicate_columns(names, file, out)
        wanted = [c for c in contract.column_names if c in names]
        table = pf.read(columns=list(dict.fromkeys(wanted)))
    except Exception as exc:  # any failure to decode the file is the sender's to fix
        out.error(file, "unreadable", f"the file cannot be read as Parquet ({type(exc).__name__})")
        return None
    columns = {}
    for name in wanted:
        try:
            columns[name] = column_as_text(table.column(name))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.error(file, "unreadable", f"column {name!r} has type {table.column(name).type}, which cannot be read as text", column=name)
            return None
    lines = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return _with_lines(pa.table(columns) if columns else table.select([]), lines, table.num_rows)


def column_as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A typed column (Parquet, or a stored table) as the text a CSV would hold. Timestamps that are all at midnight are
    dates written by a dataframe library: they become the dates; any other time stays visible
    (and fails as a date)."""
    typ = column.type
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = typ.value_type
    if pa.types.is_timestamp(typ) and typ.tz is None:
        as_date = column.cast(pa.date32(), safe=False)
        if pc.all(pc.fill_null(pc.equal(as_date.cast(typ), column), True)).as_py() in (True, None):
            column = as_date
    return column.cast(pa.string())


def _with_lines(table: pa.Table, lines: np.ndarray, n_rows: int) -> pa.Table:
    if table.num_columns == 0:
        return pa.table({SOURCE_LINE: pa.array(lines, pa.int64())})
    return table.append_column(SOURCE_LINE, pa.array(lines, pa.int64()))
