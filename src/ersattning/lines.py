"""The statement line and the statement (a clinic-month's totals): their columns, declared once.

Pricing, statements, the database tables, the adjustment and manual lines and the exports
all take their columns and types from here; `exact_lines` makes the per-clinic items' lines
(low in the layers: it imports only pyarrow, money and errors).
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from ersattning.errors import StatementError
from ersattning.money import round_half_away

QUANTITY = pa.decimal128(38, 6)  # the type of a quantity or basis: exact, 6 decimals

#: The statement line, in the order of the `statement_lines` table (and of the content hash
#: of an issued month, which hashes the columns in this order): name, type, meaning.
_LINE = (
    ("line_id", pa.string(), "clinic:month:product, with @rule where a price changed mid-month; stable across recomputations"),
    ("clinic_id", pa.string(), "the clinic paid"),
    ("month", pa.string(), "the statement's month, YYYY-MM"),
    ("component", pa.string(), "the statement component (DESIGN.md), e.g. capitation_age"),
    ("product_code", pa.string(), "the product priced, e.g. CAP_AGE_0_5 or VF_BASE"),
    ("quantity", QUANTITY, "the quantity shown: basis ÷ divisor, rounded half away from zero to 6 decimals"),
    ("basis", QUANTITY, "the exact quantity the amount is computed from (persons, visits, weight sums)"),
    ("divisor", pa.int64(), "what the basis × price is divided by (12 for an annual price paid monthly)"),
    ("unit", pa.string(), "the unit of the unit price, e.g. SEK/listed/year"),
    ("unit_price_ore", pa.int64(), "the unit price in öre (null only on lines refused for a missing price)"),
    ("amount_ore", pa.int64(), "round(basis × unit price ÷ divisor) in öre, rounded once"),
    ("rule", pa.string(), "the rule values priced, name@effective date, '+'-joined"),
    ("reference", pa.string(), "the sources of those rule values"),
    ("illustrative", pa.bool_(), "whether a rule value is illustrative rather than the region's"),
    ("persons", pa.int64(), "the persons behind a capitation line (null for visits and per-clinic items)"),
    ("snapshot", pa.string(), "the date (or year) whose listings and rules the line used"),
    ("detail", pa.string(), "a sentence for the reader: goal met, claimed item's reason, paid/now of a correction"),
    ("corrects_month", pa.string(), "on an adjustment line: the issued month it corrects"),
    ("corrects_line_id", pa.string(), "on an adjustment line: the line of that month it corrects"),
)
LINE = pa.schema([(name, type_) for name, type_, _ in _LINE])
LINE_MEANING = {name: meaning for name, _, meaning in _LINE}

#: Columns that statements add when they number the lines (`statements._finish_lines`).
NUMBERED = ("line_id", "basis", "corrects_month", "corrects_line_id")
#: A priced line, before statements number it: the line without NUMBERED, its `quantity`
#: being the exact basis (pricing's output, and the per-clinic items' `exact_lines`).
PRICED = pa.schema([f for f in LINE if f.name not in NUMBERED])
#: A priced line as the engine's expressions return it (they give no detail text).
ENGINE_PRICED = pa.schema([f for f in PRICED if f.name != "detail"])

#: The statement groups: each component adds to one of these totals (the `group` of its rules/COMPONENT/component.yaml).
GROUPS = ("fixed", "variable", "goal", "adjustment")
#: A clinic's statement for a month: the sums of its lines by group and their total, in öre.
STATEMENT = pa.schema(
    [("clinic_id", pa.string()), ("month", pa.string())]
    + [(f"{g}_ore", pa.int64()) for g in (*GROUPS, "total")]
)

_DUCKDB = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN", QUANTITY: "DECIMAL(38,6)"}


def duckdb_ddl(table: str, schema: pa.Schema) -> str:
    """CREATE TABLE for `schema`, then ADD COLUMN IF NOT EXISTS for each column: a database
    made by an older version gets the columns added since (at the end, in schema order)."""
    cols = [(f.name, _DUCKDB[f.type]) for f in schema]
    create = f"CREATE TABLE IF NOT EXISTS {table} (\n    " + ", ".join(f"{n} {t}" for n, t in cols) + "\n);"
    alters = "".join(f"\nALTER TABLE {table} ADD COLUMN IF NOT EXISTS {n} {t};" for n, t in cols)
    return create + alters + "\n"


def exact_lines(records: list[dict]) -> pa.Table:
    """Priced lines from per-clinic records whose divisor differs per line (caps, pots, goals).

    Each record gives `quantity` (the exact basis, a Decimal with at most 6 decimals),
    `divisor` and `unit_price_ore`; the amount is round(basis × price / divisor), half
    away from zero, computed once in exact Decimal arithmetic. These are a few lines per
    clinic (never per person or contact), so plain Python here is the clear choice.
    """
    rows = []
    for r in records:
        basis = Decimal(r["quantity"])
        if basis != basis.quantize(Decimal("0.000001")):
            raise StatementError(f"{r['product_code']}: basis {basis} has more than 6 decimals")
        amount = round_half_away(basis * Decimal(r["unit_price_ore"]) / Decimal(r["divisor"]))
        rows.append({
            "persons": None, "snapshot": None, "illustrative": False, "detail": None, **r,
            "quantity": basis, "amount_ore": int(amount),
        })
    return pa.Table.from_pylist(rows, schema=PRICED)
