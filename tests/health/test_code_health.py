"""Code health: no binary floats in money code; rule values live in the rulebook, not in code."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from support import docstring_ids

SRC = Path(__file__).resolve().parents[2] / "src" / "ersattning"
MONEY_CODE = ["money.py", "pricing", "products", "statements", "store.py", "export"]
FLOAT_TYPES = re.compile(r"^(float\d*|double|real)$", re.IGNORECASE)
MODEL_NUMBERS = {1200, 1133, 1217, 1117, 410, 376, 307, 205, 203, 325, 48, 37, 36, 390, 310}
MODEL_DATE = re.compile(r"20(1[5-9]|2[0-3])-\d\d-\d\d")


def _files(parts):
    for part in parts:
        path = SRC / part
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def _code_nodes(path: Path):
    """AST nodes of the file, docstrings left out (they may talk about floats and dates)."""
    tree = ast.parse(path.read_text())
    docstrings = docstring_ids(tree)
    return [n for n in ast.walk(tree) if id(n) not in docstrings]


def test_no_float_in_money_code():
    offenders = []
    for path in _files(MONEY_CODE):
        for node in _code_nodes(path):
            if isinstance(node, ast.Name) and node.id == "float":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: float()")
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: float literal {node.value}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and FLOAT_TYPES.match(node.value):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: cast to {node.value}")
    assert not offenders, "floats in money code:\n" + "\n".join(offenders)


def test_no_kronor_or_model_dates_in_calculation_code():
    # Amounts and dates of the model belong in rules/*.yaml; code reads rules.at(date).
    offenders = []
    for path in _files(["products", "pricing", "statements"]):
        for node in _code_nodes(path):
            if isinstance(node, ast.Constant) and isinstance(node.value, int) and node.value in MODEL_NUMBERS:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODEL_DATE.search(node.value):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value}")
    assert not offenders, "model values in code:\n" + "\n".join(offenders)


def test_the_packaged_component_names_are_the_checked_declarations():
    """The module-level names (for callers without a rulebook: the API's manual kinds, the web
    app's labels) are read without the loader's checks; they must be what the loader reads."""
    from ersattning import rulebook
    from ersattning.statements import COMPONENT_GROUP, COMPONENT_LABELS_SV, MANUAL_COMPONENTS

    components = rulebook.load().components
    assert COMPONENT_GROUP == {n: c.group for n, c in components.items()}
    assert COMPONENT_LABELS_SV == {n: c.label_sv for n, c in components.items()}
    assert MANUAL_COMPONENTS == tuple(n for n, c in components.items() if c.manual)
    assert rulebook.packaged_components() == components
