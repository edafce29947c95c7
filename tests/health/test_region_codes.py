"""Region Stockholm's county code ('01') and reservnummer prefix ('99') are spelt in one module.

Scans every module under src/ersattning except `ersattning/region.py` (their one home) with
`ast`: a string constant that is exactly "01" or "99" (a comparison, a startswith call, a
constant named anew), or a string — SQL text, f-string parts included — that holds the SQL
literal '01' or '99', is an offence. Docstrings are left out (they may explain the codes).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from support import docstring_ids

SRC = Path(__file__).resolve().parents[2] / "src" / "ersattning"
HOME = SRC / "region.py"
CODES = {"01", "99"}
SQL_LITERAL = re.compile(r"'(01|99)'")




def offences(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant in `path` that spells a code (docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstring_ids(tree)
    return [(node.lineno, node.value.strip()[:80]) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and (node.value in CODES or SQL_LITERAL.search(node.value))]


def test_region_codes_live_in_one_module():
    found = [f"{path.relative_to(SRC)}:{line}: {text!r}"
             for path in sorted(SRC.rglob("*.py")) if path != HOME for line, text in offences(path)]
    assert not found, "county code or reservnummer prefix outside ersattning/region.py:\n" + "\n".join(found)


def test_the_scan_finds_each_form(tmp_path):
    """The scan sees a comparison, a startswith call and SQL text, and not a docstring."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""County \'01\' in a docstring is fine."""\n'
        'a = county == "01"\n'
        'b = person_id.startswith("99")\n'
        "c = f\"WHERE county_code = '01' AND {x}\"\n"
    )
    assert offences(sample) == [(2, "01"), (3, "99"), (4, "WHERE county_code = '01' AND")]
