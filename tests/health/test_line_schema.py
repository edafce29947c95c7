"""The statement line is declared once (ersattning.lines): the database, the CSV and the code agree.

`test_no_second_declaration` scans every module under src/ersattning with `ast` for a
literal tuple, list, set or dict (keys) listing MANY or more of the line's columns: such a
literal is a second declaration of the line and should be derived from `lines.LINE` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb

from ersattning.lines import LINE, STATEMENT, duckdb_ddl
from ersattning.statements import CSV_LINE_COLUMNS

SRC = Path(__file__).resolve().parents[2] / "src" / "ersattning"
#: A literal listing this many of the line's 19 columns declares the line (a selection of a few
#: columns, like the price list's 8, does not).
MANY = 10
#: Literals allowed to list line columns: the declaration, and the CSV file's column order.
ALLOWED = {("lines.py", "_LINE"), ("statements/__init__.py", "CSV_LINE_COLUMNS")}

#: The statement_lines table as versions before this module created it (kept to check the upgrade).
OLD_DDL = """
CREATE TABLE statement_lines (
    line_id VARCHAR, clinic_id VARCHAR, month VARCHAR, component VARCHAR, product_code VARCHAR,
    quantity DECIMAL(38,6), basis DECIMAL(38,6), divisor BIGINT, unit VARCHAR,
    unit_price_ore BIGINT, amount_ore BIGINT, rule VARCHAR, reference VARCHAR,
    illustrative BOOLEAN, persons BIGINT, snapshot VARCHAR
);
CREATE TABLE statements (
    clinic_id VARCHAR, month VARCHAR, fixed_ore BIGINT, variable_ore BIGINT, goal_ore BIGINT,
    adjustment_ore BIGINT, total_ore BIGINT
);
"""


def _columns(con, table):
    return con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                       "ORDER BY ordinal_position", [table]).fetchall()


def test_an_older_database_gets_the_same_tables_as_a_new_one():
    ddl = duckdb_ddl("statement_lines", LINE) + duckdb_ddl("statements", STATEMENT)
    new, old = duckdb.connect(), duckdb.connect()
    new.execute(ddl)
    old.execute(OLD_DDL)
    old.execute("ALTER TABLE statement_lines ADD COLUMN detail VARCHAR")  # an in-between version
    old.execute(ddl)
    for table, schema in (("statement_lines", LINE), ("statements", STATEMENT)):
        assert _columns(old, table) == _columns(new, table)
        assert [c for c, _ in _columns(new, table)] == schema.names
    types = dict(_columns(new, "statement_lines"))
    assert types["quantity"] == types["basis"] == "DECIMAL(38,6)"
    assert types["amount_ore"] == types["unit_price_ore"] == "BIGINT"


def test_the_csv_shows_every_column_of_the_line():
    assert sorted(CSV_LINE_COLUMNS) == sorted(LINE.names)
    assert len(CSV_LINE_COLUMNS) == len(set(CSV_LINE_COLUMNS))


def _target(node, parents):
    """The name a literal is assigned to, if any."""
    parent = parents.get(id(node))
    while parent is not None and not isinstance(parent, (ast.Assign, ast.AnnAssign)):
        if isinstance(parent, (ast.FunctionDef, ast.ClassDef, ast.Module)):
            return None
        parent = parents.get(id(parent))
    if parent is None:
        return None
    target = parent.targets[0] if isinstance(parent, ast.Assign) else parent.target
    return target.id if isinstance(target, ast.Name) else None


#: Type names as Ibis spells them in a {column: type} dict.
IBIS_TYPES = {"string", "int64", "boolean", "decimal(38, 6)"}


def _declares(key: ast.expr, value: ast.expr) -> bool:
    """Whether `key: value` in a dict declares a column: its type, or a copy of the same column."""
    if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
        return value.slice.value == getattr(key, "value", None)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and isinstance(value.func.value, ast.Name):
        return value.func.value.id == "pa"
    return isinstance(value, ast.Constant) and value.value in IBIS_TYPES


def declarations(path: Path, rel: str) -> list[str]:
    """Literals in `path` that list MANY or more line columns: names in a tuple, list or set
    (or the first items of (name, type) tuples), or the keys of a dict that gives each its type or
    copies it from another table. Dicts of values (one line's record) are not declarations."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    names = set(LINE.names)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            elts = [k for k, v in zip(node.keys, node.values) if k is not None and _declares(k, v)]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = [e.elts[0] if isinstance(e, ast.Tuple) and e.elts else e for e in node.elts]
        else:
            continue
        cols = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in names}
        if len(cols) >= MANY and (rel, _target(node, parents)) not in ALLOWED:
            found.append(f"{rel}:{node.lineno}: {len(cols)} line columns")
    return found


def test_no_second_declaration():
    found = [d for p in sorted(SRC.rglob("*.py")) for d in declarations(p, p.relative_to(SRC).as_posix())]
    assert not found, "the statement line declared again (derive it from ersattning.lines.LINE):\n" + "\n".join(found)
