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


def test_every_component_has_a_group_and_a_swedish_label():
    """The web app and the workbook show components in Swedish; a new component needs both."""
    from ersattning.statements import COMPONENT_GROUP, COMPONENT_LABELS_SV

    assert set(COMPONENT_LABELS_SV) == set(COMPONENT_GROUP)
