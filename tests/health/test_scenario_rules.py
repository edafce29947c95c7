"""Each scenario file's `rule:` names what it checks: rulebook parameters or components that exist.

A name is a snake_case word (with `_`), or `component.parameter`, in the rule's text; every
such name must be a parameter of `rulebook.load()` or a component (a rules folder or a
statement component), and each rule names at least one. A renamed or removed parameter then
shows in the scenarios that still cite it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from ersattning import rulebook
from ersattning.statements import COMPONENT_GROUP

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(SCENARIOS.rglob("*.yaml"))
NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:\.[a-z0-9_]+)?\b|\b[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\b")


@functools.cache
def known_names() -> set[str]:
    params = set(rulebook.load().parameters)
    return params | {p.split(".")[0] for p in params} | set(COMPONENT_GROUP)


def named(rule: str) -> list[str]:
    """The parameter or component names cited in a rule's text (file names like RULES.md left out)."""
    return [n for n in NAME.findall(rule) if not n.endswith((".md", ".txt", ".csv", ".yaml"))]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SCENARIOS)) for p in FILES])
def test_rule_names_existing_parameters(path: Path):
    rule = yaml.safe_load(path.read_text(encoding="utf-8"))["rule"]
    names = named(rule)
    assert names, f"{path.name}: rule: names no rulebook parameter or component: {rule!r}"
    unknown = sorted(set(names) - known_names())
    assert not unknown, f"{path.name}: rule: names {', '.join(unknown)}, not in the rulebook"


def test_named_reads_names_and_not_prose():
    assert named("capitation_acg.temporary_uplift, visit_fee - base fee (RULES.md §2)") == [
        "capitation_acg.temporary_uplift", "visit_fee"]
    assert named("age band by whole years (RULES.md §2; DESIGN.md Time)") == []
