"""Every rulebook parameter is read by some code: a parameter no code reads pays nothing.

A parameter `folder.key` counts as read when a module under src/ersattning (the rulebook's
own loader left out, docstrings left out) has a string naming it — `"capitation_acg.rate"`,
also inside longer text — or builds it: an f-string `f"{component}.key"` in some module
while `"folder"` is a string constant in some module or a component the rulebook declares
(how visit and goal components name their decision tables, price lists and levels: the visit
components are those declared produced by products.visits). A parameter a component declaration
names as a product's `price` or `uplift` is read too: pricing reads the declared prices; so is one
a price list's derived price names (`{share, of, code}`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ersattning import rulebook
from support import docstring_ids

SRC = Path(__file__).resolve().parents[2] / "src" / "ersattning"

#: Parameters in the rulebook that no code reads yet, each with why. The test fails when one
#: of them becomes read (take it off the list) or when another unread parameter appears.
UNREAD = {
    # 2015's quality bonus as a share of pay: the engine pays quality goals from 2016's amounts per listed.
    "goal_quality.max_share",
}




def code_strings(paths) -> tuple[list[str], set[str]]:
    """The string constants of `paths` (f-string parts included) and the `.key` suffixes that
    f-strings put after a formatted value."""
    strings, suffixes = [], set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = docstring_ids(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                strings.append(node.value)
            if isinstance(node, ast.JoinedStr):
                for before, part in zip(node.values, node.values[1:]):
                    if isinstance(before, ast.FormattedValue) and isinstance(part, ast.Constant):
                        m = re.match(r"\.(\w+)", part.value)
                        if m:
                            suffixes.add(m.group(1))
    return strings, suffixes


def declared(components, parameters=None) -> tuple[set[str], set[str]]:
    """The components' names and the parameters their products name as price or uplift, or
    a derived price of a price list names (`{share, of, code}`: pricing reads both)."""
    priced = {name for c in components.values() for p in c.products for name in (p.price, p.uplift) if name}
    for param in (parameters or {}).values():
        if param.kind == "price_list":
            priced |= {amount[k] for v in param.values for amount in (v.value or {}).values()
                       if isinstance(amount, dict) for k in ("share", "of")}
    return set(components), priced


def unread(parameters, strings: list[str], suffixes: set[str], components: set[str] = frozenset(),
           priced: set[str] = frozenset()) -> set[str]:
    text = "\n".join(strings)
    constants = set(strings) | set(components)
    out = set()
    for name in parameters:
        folder, key = name.split(".", 1)
        named = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) or name in priced
        built = key in suffixes and folder in constants
        if not (named or built):
            out.add(name)
    return out


def _sources():
    return [p for p in sorted(SRC.rglob("*.py")) if "rulebook" not in p.relative_to(SRC).parts]


def test_every_parameter_is_read():
    book = rulebook.load()
    found = unread(book.parameters, *code_strings(_sources()), *declared(book.components, book.parameters))
    new = sorted(found - UNREAD)
    assert not new, "rulebook parameters no code reads (read them, or list them in UNREAD with why):\n" + "\n".join(new)
    now_read = sorted(UNREAD - found)
    assert not now_read, "parameters in UNREAD that code reads now (take them off the list):\n" + "\n".join(now_read)


def test_the_scan_sees_names_and_built_names(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""capitation_cni.rate in a docstring is not a read."""\n'
        'COMPONENTS = ("visit_fee",)\n'
        'a = rules.value("capitation_acg.rate")\n'
        'b = f"{rules.ref(x)}+cap_reduction.categories"\n'
        'c = book[f"{component}.decision_table"]\n'
    )
    params = ["capitation_acg.rate", "capitation_cni.rate", "cap_reduction.categories", "visit_fee.decision_table",
              "supplement_kva.decision_table", "capitation_acg.rate_extra"]
    assert unread(params, *code_strings([sample])) == {"capitation_cni.rate", "supplement_kva.decision_table",
                                                       "capitation_acg.rate_extra"}
    # declared: supplement_kva is a component (its table is built), capitation_cni.rate a declared price
    assert unread(params, *code_strings([sample]), {"supplement_kva"}, {"capitation_cni.rate"}) == {"capitation_acg.rate_extra"}
