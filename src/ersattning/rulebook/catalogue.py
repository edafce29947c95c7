"""The rulebook's parameters as data for people and programs: the list, and one parameter's dated values.

One function each for `ersattning rules list|show` and `GET /api/v1/parameters[/{name}]`: both edges
print or serve what these return. A parameter's name is its file's path under rules/, dotted
(`visit_fee.prices`); one entry of a price list or one age band is named below it
(`visit_fee.prices.VF_BASE`, `capitation_age.amounts.75-`). Values are plain JSON: amounts as
exact decimal text, age bands and price lists as mappings, decision tables as rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ersattning.rulebook.loader import Parameter, Rulebook, Value


class UnknownParameter(KeyError):
    """No parameter (nor entry of one) by that name."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"no parameter {name!r} in the rulebook (`ersattning rules list` lists them)")

    def __str__(self) -> str:
        return self.args[0]


def plain(value: Any) -> Any:
    """A parameter value as JSON: Decimal as its exact text, age bands {"LO-HI": amount}, rows as mappings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and value and all(isinstance(x, tuple) and len(x) == 3 for x in value):
        return {_band(lo, hi): plain(a) for lo, hi, a in value}  # age bands
    if isinstance(value, tuple) and value and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], dict)
                                                  for x in value):
        return [{"when": {k: plain(list(v) if isinstance(v, tuple) else v) for k, v in when.items()}, "product": product}
                for when, product in value]  # a decision table
    if isinstance(value, tuple) and len(value) == 2 and all(x is None or isinstance(x, int) for x in value):
        return _band(*value)  # an age range
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return str(value)


def _band(lo: int, hi: int | None) -> str:
    return f"{lo}-{'' if hi is None else hi}"


def resolve(book: Rulebook, name: str) -> tuple[Parameter, str | None]:
    """The parameter `name` names, and the entry below it (a price list's code, an age band) or None."""
    if name in book:
        return book[name], None
    head, _, entry = name.rpartition(".")
    while head:
        if head in book and book[head].kind in ("price_list", "age_bands"):
            return book[head], entry
        head, _, more = head.rpartition(".")
        entry = f"{more}.{entry}"
    raise UnknownParameter(name)


def _entry(value: Any, entry: str | None) -> Any:
    """The part of a plain value an entry names (absent: None)."""
    if entry is None or value is None:
        return value
    return value.get(entry) if isinstance(value, dict) else None


def _periods(param: Parameter, entry: str | None) -> list[dict]:
    out = []
    for i, v in enumerate(param.values):
        nxt = param.values[i + 1].start if i + 1 < len(param.values) else None
        out.append({"start": v.start.isoformat(), "end": (nxt - dt.timedelta(days=1)).isoformat() if nxt else None,
                    "value": _entry(plain(v.value), entry), "reference": v.reference, "illustrative": v.illustrative,
                    "note": v.note})
    return out


def _in_force(param: Parameter, entry: str | None, date: dt.date) -> dict | None:
    v: Value | None = param.at(date)
    if v is None:
        return None
    return next(p for p in _periods(param, entry) if p["start"] == v.start.isoformat())


def parameter_list(book: Rulebook, at: dt.date | None = None) -> list[dict]:
    """Every parameter in name order: name, description, unit, kind, the value in force on `at`
    (default today; None when none is), the date it holds from and how many dated values it has."""
    day = at or dt.date.today()
    out = []
    for name, param in book.parameters.items():
        now = param.at(day)
        out.append({"name": name, "description": param.description, "unit": param.unit, "kind": param.kind,
                    "value": plain(now.value) if now else None, "since": now.start.isoformat() if now else None,
                    "values": len(param.values), "file": param.file})
    return out


def parameter_detail(book: Rulebook, name: str, at: dt.date | None = None) -> dict:
    """One parameter (or an entry of one, see `resolve`): its description, unit, kind, file and every
    dated value with its validity (start, end = the day before the next start or None) and source;
    with `at`, also the value in force that day (`in_force`, None when none is). UnknownParameter if none."""
    param, entry = resolve(book, name)
    periods = _periods(param, entry)
    if entry is not None and all(p["value"] is None for p in periods):
        raise UnknownParameter(name)
    out = {"name": name, "parameter": param.name, "entry": entry, "description": param.description, "unit": param.unit,
           "kind": param.kind, "file": param.file, "values": periods}
    if at is not None:
        out["at"] = at.isoformat()
        out["in_force"] = _in_force(param, entry, at)
    return out
