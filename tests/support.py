"""Shared test helpers: small typed input tables built from plain rows (the contracts' types)."""

from __future__ import annotations

import ast
import csv
import datetime as dt
from decimal import Decimal

import pyarrow as pa
from ersattning.engine import Engine
from ersattning.inputs.schema import CONTRACTS


#: Live contacts as the engine reads them (the register's current view).
CONTACTS_SCHEMA = pa.schema([
    ("kombika", pa.string()), ("contact_id", pa.string()), ("person_id", pa.string()), ("date", pa.date32()),
    ("contact_type", pa.string()), ("profession", pa.string()), ("diagnoses", pa.string()), ("actions", pa.string()),
])


def typed_tables(**rows: list[dict]) -> dict[str, pa.Table]:
    """Every contract table, typed; `rows` gives the non-empty ones as lists of dicts.

    `contacts` is included only when given (no contacts = no visit lines).
    """
    out = {}
    schemas = {name: contract.schema for name, contract in CONTRACTS.items()}
    if "contacts" in rows:
        schemas["contacts"] = CONTACTS_SCHEMA
    for name, schema in schemas.items():
        data = rows.get(name, [])
        cols = {}
        for field in schema:
            if field.name == "source_line":
                cols[field.name] = pa.array(range(2, len(data) + 2), pa.int64())
                continue
            values = [_convert(r.get(field.name), field.type) for r in data]
            cols[field.name] = pa.array(values, field.type)
        out[name] = pa.table(cols, schema=schema)
    return out


def _convert(value, type_):
    if value is None or value == "":
        return None
    if pa.types.is_date32(type_):
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if pa.types.is_decimal(type_):
        return Decimal(str(value))
    if pa.types.is_integer(type_):
        return int(value)
    return str(value)


def duckdb_engine(tables: dict[str, pa.Table]) -> Engine:
    return Engine.duckdb().register(tables)


def docstring_ids(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants in a parsed module (the source scans leave them out:
    prose may name floats, dates and codes)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def write_csv(path, rows: list[dict], columns: list[str]):
    """`rows` as a UTF-8 CSV file with `columns` as its header (a missing value is empty): what a PAS sends."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path
