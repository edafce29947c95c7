"""Reform files checked whole: every problem of a reform overlay at once, each naming the parameter and the key.

`check_reform` is the one checker: `ersattning rules check`, `apply_reform` (run, analyze,
statements `--rules`) and the what-if calculation all use it, so a reform either applies whole or is
refused with the complete list of what to fix (`ReformError.problems`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ersattning.errors import RulebookError
from ersattning.rulebook.components import PRICE_UNITS
from ersattning.rulebook.loader import _VALUE_KEYS, Parameter, Rulebook, Value, _DecimalLoader, _parse_date, _parse_value

_REFORM_KEYS = {"description", "reference", "parameters"}
#: What a reform may say of a parameter: its values, why, and (checked, not changed) its unit.
_BODY_KEYS = {"values", "description", "unit"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a reform file: the parameter it concerns (None: the file as a whole), the key, why."""

    parameter: str | None
    key: str
    message: str

    def as_dict(self) -> dict:
        return {"parameter": self.parameter, "key": self.key, "message": self.message}


class ReformError(RulebookError):
    """A reform file with problems: all of them (`problems`), the first one's key as `key`."""

    def __init__(self, file: str, problems: list[Problem]):
        self.problems = list(problems)
        first = self.problems[0]
        lines = "\n".join(f"  {p.key}: {p.message}" for p in self.problems)
        super().__init__(file, first.key, f"{len(self.problems)} problem(s) in the reform file:\n{lines}")


def _duplicates(node, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Keys given twice in a mapping of the YAML node tree, with the path to them (PyYAML keeps the
    last silently; two values for one date are two overlapping periods)."""
    out = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            if name in seen:
                out.append((path, name))
            seen.add(name)
            out += _duplicates(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicates(item, (*path, f"[{i}]"))
    return out


def read_reform(source: str | Path, text: str | None = None) -> tuple[str, Any, list[Problem]]:
    """(file name, parsed document, problems of reading it): from a file, or from `text` (inline)."""
    file = str(source)
    if text is None:
        path = Path(source)
        if not path.is_file():
            return file, None, [Problem(None, "-", "reform file not found")]
        text = path.read_text(encoding="utf-8")
    try:
        duplicates = _duplicates(yaml.compose(text, Loader=_DecimalLoader))
        doc = yaml.load(text, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        return file, None, [Problem(None, "-", f"not valid YAML: {exc}")]
    problems = []
    for path, key in duplicates:
        parameter = path[1] if len(path) > 1 and path[0] == "parameters" else None
        dated = len(path) == 3 and path[2] == "values"
        problems.append(Problem(parameter, ".".join((*path, key)), "the date is given twice: two values for one date are "
                                "overlapping periods; keep one" if dated else "the key is given twice: keep one"))
    return file, doc, problems


def check_reform(book: Rulebook, source: str | Path, text: str | None = None) -> tuple[dict[str, Parameter], list[Problem]]:
    """Check a reform against `book` whole: (the changed parameters, merged, when no problem; every problem).

    Checked: the file's keys; every named parameter exists; its unit, when the reform states it,
    is the parameter's; every date is an ISO calendar date, in increasing order, none given twice;
    every value parses as the parameter's own kind; no negative money where the base rulebook's
    values are never negative; every value has a source reference; no unknown key anywhere.
    """
    file, doc, problems = read_reform(source, text)
    if doc is None and not problems:
        problems.append(Problem(None, "-", "the reform file is empty"))
    if problems and doc is None:
        return {}, problems
    if not isinstance(doc, dict):
        return {}, [*problems, Problem(None, "-", "a reform file is a mapping with description, reference and parameters")]
    for key in sorted(set(map(str, doc)) - _REFORM_KEYS):
        problems.append(Problem(None, key, "unknown key; a reform file has " + ", ".join(sorted(_REFORM_KEYS))))
    params = doc.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append(Problem(None, "parameters", "must name at least one parameter"))
        return {}, problems
    default_ref = doc.get("reference")
    changed: dict[str, Parameter] = {}
    for name, body in params.items():
        where = f"parameters.{name}"
        if name not in book:
            problems.append(Problem(str(name), where, "no such parameter in the rulebook (`ersattning rules list`)"))
            continue
        base = book[name]
        if not isinstance(body, dict) or "values" not in body:
            problems.append(Problem(name, where, "expected {values: {DATE: {value, reference}}}"))
            continue
        for key in sorted(set(map(str, body)) - _BODY_KEYS):
            problems.append(Problem(name, f"{where}.{key}", "unknown key; a parameter of a reform has values, description, unit"))
        if "unit" in body and body["unit"] != base.unit:
            problems.append(Problem(name, f"{where}.unit", f"the parameter's unit is {base.unit}, not {body['unit']!r}"))
        values = _check_values(book, base, body["values"], file, where, default_ref, problems)
        if values is not None:
            merged = {v.start: v for v in base.values}
            merged.update({v.start: v for v in values})
            changed[name] = replace(base, values=tuple(merged[d] for d in sorted(merged)))
    return (changed if not problems else {}), problems


def _check_values(book: Rulebook, base: Parameter, raw: Any, file: str, where: str, default_ref: str | None,
                  problems: list[Problem]) -> tuple[Value, ...] | None:
    """The reform's dated values of `base`, every problem of them added to `problems` (None if any)."""
    name = base.name
    before = len(problems)
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(name, f"{where}.values", "a non-empty mapping of ISO dates to {value, reference}"))
        return None
    out: list[Value] = []
    last: dt.date | None = None
    for key, entry in raw.items():
        at = f"{where}.values.{key}"
        try:
            start = _parse_date(key, file, at)
        except RulebookError as exc:
            problems.append(Problem(name, at, exc.message))
            start = None
        if start is not None and last is not None and start <= last:
            problems.append(Problem(name, at, "dates must be in increasing order (each value holds until the next date)"))
        last = start or last
        if not isinstance(entry, dict):
            problems.append(Problem(name, at, "each date maps to {value, reference}"))
            continue
        for extra in sorted(set(map(str, entry)) - _VALUE_KEYS):
            problems.append(Problem(name, f"{at}.{extra}", "unknown key; a value has " + ", ".join(sorted(_VALUE_KEYS))))
        reference = entry.get("reference", default_ref)
        if not reference:
            problems.append(Problem(name, f"{at}.reference", "every value needs a source reference"))
        illustrative = entry.get("illustrative", False)
        if not isinstance(illustrative, bool):
            problems.append(Problem(name, f"{at}.illustrative", "must be true or false"))
        if "value" not in entry:
            problems.append(Problem(name, f"{at}.value", "missing"))
            continue
        value = None
        if entry["value"] is not None:
            try:
                value = _parse_value(entry["value"], base.kind, file, f"{at}.value")
            except RulebookError as exc:
                problems.append(Problem(name, exc.key, f"{exc.message} (the parameter is of kind {base.kind}, unit {base.unit})"))
                continue
            if base.unit in PRICE_UNITS and not _may_be_negative(base):
                for sub, amount in _amounts(value):
                    if amount < 0:
                        problems.append(Problem(name, f"{at}.value{sub}", f"negative money ({amount} {base.unit}): "
                                                "the rulebook's values of this parameter are never negative"))
            if base.kind == "price_list":
                _check_derived(book, name, f"{at}.value", value, problems)
        if start is not None:
            out.append(Value(start, value, str(reference), bool(illustrative), str(entry.get("note", ""))))
    return tuple(out) if len(problems) == before else None


def _check_derived(book: Rulebook, name: str, where: str, prices: dict, problems: list[Problem]) -> None:
    """A derived price of a price list names a number parameter (`share`) and a price list (`of`) of the rulebook."""
    for code, amount in prices.items():
        if isinstance(amount, dict):
            for ref, kind in ((amount["share"], "number"), (amount["of"], "price_list")):
                if ref not in book or book[ref].kind != kind:
                    problems.append(Problem(name, f"{where}.{code}", f"{ref!r} is not a {kind} parameter of the rulebook"))


def _amounts(value: Any) -> list[tuple[str, Decimal]]:
    """The money amounts in a parsed value, each with the key below `value` it sits at."""
    if isinstance(value, Decimal):
        return [("", value)]
    if isinstance(value, dict):  # a price list (a derived price has no amount of its own)
        return [(f".{code}", a) for code, a in value.items() if isinstance(a, Decimal)]
    if isinstance(value, tuple) and value and isinstance(value[0], tuple) and len(value[0]) == 3:  # age bands
        return [(f".{lo}-{'' if hi is None else hi}", a) for lo, hi, a in value]
    return []


def _may_be_negative(param: Parameter) -> bool:
    """A parameter some of whose base values are negative (a deduction) may be negative in a reform too."""
    return any(a < 0 for v in param.values if v.value is not None for _, a in _amounts(v.value))


def apply_reform(book: Rulebook, source: str | Path, text: str | None = None) -> Rulebook:
    """`book` with the reform overlaid (the reform's dated values replace the base's on the same dates
    and hold until the next date of either); ReformError with every problem, nothing applied, if any."""
    changed, problems = check_reform(book, source, text)
    if problems:
        raise ReformError(str(source), problems)
    return book._copy({**book.parameters, **changed}, f"{book.origin} + {source}")
