"""Reads one contact file (CSV, JSON Lines or Parquet) as an all-text table with line numbers,
or gives `unreadable` error rows when the file cannot be parsed (then nothing in it is used)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ersattning.inputs.read import RawInput, _read_csv, _read_parquet
from ersattning.inputs.schema import SOURCE_LINE
from ersattning.register.schema import CONTACTS, ERRORS_SCHEMA, KEY

_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def file_format(path: Path) -> str:
    """`csv`, `jsonl` or `parquet`, by the file's suffix, else by its first bytes."""
    suffix = path.suffix.lower()
    if suffix in _JSON_SUFFIXES:
        return "jsonl"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix == ".csv":
        return "csv"
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "parquet" if head.startswith(b"PAR1") else "jsonl" if head.startswith(b"{") else "csv"


def read_contact_file(path: Path | str) -> tuple[pa.Table | None, pa.Table]:
    """(text table of the contract columns present + `source_line`, or None if unreadable; error rows).

    Lines: CSV physical line (header = 1), JSON Lines physical line, Parquet row (1-based).
    """
    path = Path(path)
    source = path.name
    if not path.is_file():
        return None, _errors([_unreadable(source, f"the file {source} does not exist")])
    fmt = file_format(path)
    if fmt == "jsonl":
        table, problems = _read_jsonl(path)
    else:
        out = RawInput()
        table = (_read_csv if fmt == "csv" else _read_parquet)(path, CONTACTS, out)
        problems = [
            {"source": e["file"], "line": e["line"], "kombika": None, "contact_id": None,
             "code": "unreadable", "field": e["column"], "message": e["message"]}
            for e in out.errors if e["code"] in ("unreadable",)  # a duplicated column is not fatal: the first is used
        ]
        if table is not None and not problems:
            absent = [k for k in KEY if k not in table.column_names]
            if absent:
                problems.append(_unreadable(source, f"the header has no {' and no '.join(absent)} column: "
                                                    "is this a contacts file?", line=1 if fmt == "csv" else None))
    if table is not None and not problems and fmt == "jsonl" and table.num_rows:
        for k in KEY:
            if table.column(k).null_count == table.num_rows:
                problems.append(_unreadable(source, f"no line has a {k!r} field: is this a contacts file?"))
    if problems:
        return None, _errors(problems)
    return table, ERRORS_SCHEMA.empty_table()


def _unreadable(source: str, message: str, line: int | None = None) -> dict:
    return {"source": source, "line": line, "kombika": None, "contact_id": None, "code": "unreadable",
            "field": None, "message": message}


def _errors(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ERRORS_SCHEMA)


def _read_jsonl(path: Path) -> tuple[pa.Table | None, list[dict]]:
    """One JSON object per line, read by DuckDB with every contract field as text (a number
    or a nested value becomes its JSON text, which then fails its own check)."""
    source = path.name
    data = path.read_bytes()
    if not data.strip():
        return None, [_unreadable(source, "the file is empty")]
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in CONTACTS.column_names)
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2").fetchall()
        # Default insertion order is kept, so row i is the i-th non-blank line.
        table = con.sql(
            f"SELECT * FROM read_json(?, format = 'newline_delimited', columns = {{{columns}}})", params=[str(path)]
        ).to_arrow_table()
    except duckdb.Error as exc:
        line, more, why = _first_bad_json_line(data)
        if line is not None:
            tail = f" ({more} more such lines)" if more else ""
            return None, [_unreadable(source, f"this line {why}{tail}: the file cannot be read as JSON Lines, "
                                              "one object per line", line=line)]
        return None, [_unreadable(source, "the file cannot be read as JSON Lines, one object per line ("
                                  + _json_reason(str(exc)) + ")")]
    finally:
        con.close()
    lines = _non_blank_lines(data)
    if len(lines) != table.num_rows:  # cannot happen with DuckDB's reader; refuse rather than misnumber
        return None, [_unreadable(source, "the lines of the file could not be numbered")]
    table = table.select(CONTACTS.column_names).append_column(SOURCE_LINE, pa.array(lines, pa.int64()))
    return table, []


def _json_reason(message: str) -> str:
    """DuckDB's diagnosis without the file path or the line's text (which may hold person numbers)."""
    first = message.splitlines()[0] if message else ""
    first = re.sub(r'in file "[^"]*",?\s*', "", first)
    first = re.sub(r"^[A-Za-z ]*Error:\s*", "", first)
    first = re.sub(r":\s*(Expected|expected) .*", "", first)  # "…, but got ARRAY: [ …line text… ]"
    first = re.sub(r"\s*at byte \d+ in line \d+", "", first)  # DuckDB's line count there is not the file's
    first = re.sub(r"\s*Try .*$", "", first)  # DuckDB's hint about its own options
    return first.strip()[:200] or "parse error"


def _first_bad_json_line(data: bytes) -> tuple[int | None, int, str]:
    """(1-based number of the first non-blank line that is not one JSON object, how many more
    such lines, what is wrong), every line checked at once by DuckDB; (None, 0, "") when no
    line is to blame. The line's text is never quoted: it is personal data."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, 0, "is not UTF-8 text"
    buf = np.frombuffer(data, np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1))
    if starts[-1] == len(buf):
        starts = starts[:-1]
    offsets = pa.array(np.append(starts, len(buf)).astype(np.int64), pa.int64())
    lines = pa.LargeStringArray.from_buffers(len(starts), offsets.buffers()[1], pa.py_buffer(data))
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2").fetchall()
        con.register("_lines", pa.table({"text": lines, "line": pa.array(np.arange(1, len(starts) + 1), pa.int64())}))
        bad = con.sql("""
            SELECT line FROM _lines
            WHERE trim(text, ' ' || chr(9) || chr(10) || chr(13)) <> ''
              AND coalesce(CASE WHEN json_valid(text) THEN json_type(text) END, '') <> 'OBJECT'
            ORDER BY line""").fetchnumpy()["line"]
    except duckdb.Error:
        return None, 0, ""
    finally:
        con.close()
    return (int(bad[0]), len(bad) - 1, "is not one JSON object") if len(bad) else (None, 0, "")


def _non_blank_lines(data: bytes) -> np.ndarray:
    """1-based numbers of the lines holding anything but whitespace (DuckDB skips the others)."""
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    if len(buf) and buf[-1] != 10:
        ends = np.append(ends, len(buf))
    begins = np.concatenate(([0], ends[:-1] + 1))
    visible = np.concatenate(([0], np.cumsum(~np.isin(buf, (9, 10, 13, 32)), dtype=np.int64)))
    has_text = visible[ends] - visible[begins] > 0
    return np.flatnonzero(has_text).astype(np.int64) + 1
