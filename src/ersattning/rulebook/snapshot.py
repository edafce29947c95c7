"""A rulebook as stored data: an exact JSON form of every parameter and value, and its hash.

A computed month stores the rulebook it was computed with (`core.Core`), so that what is read
later (trace, export, analysis) uses exactly that rulebook, whatever the code's rules/ say then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from ersattning.rulebook.components import Component, Product
from ersattning.rulebook.loader import Parameter, Rulebook, Value


def _encode(value: Any) -> Any:
    """Tagged JSON for the value types a parameter holds (exact: Decimal as text)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, dt.date):
        return {"D": value.isoformat()}
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return {"l": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"m": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"a rulebook value of type {type(value).__name__} cannot be stored")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "i":
        return int(body)
    if tag == "d":
        return Decimal(body)
    if tag == "D":
        return dt.date.fromisoformat(body)
    if tag == "t":
        return tuple(_decode(v) for v in body)
    if tag == "l":
        return [_decode(v) for v in body]
    if tag == "m":
        return {_decode(k): _decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r} in a stored rulebook")


def to_json(book: Rulebook) -> str:
    """The rulebook as canonical JSON text (sorted parameters; the same book gives the same text)."""
    doc = {
        "origin": book.origin,
        "parameters": [
            {"name": p.name, "description": p.description, "unit": p.unit, "kind": p.kind, "file": p.file,
             "values": [{"start": v.start.isoformat(), "value": _encode(v.value), "reference": v.reference,
                         "illustrative": v.illustrative, "note": v.note} for v in p.values]}
            for p in book.parameters.values()
        ],
    }
    doc["components"] = {name: _fields(c) for name, c in book.components.items()}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fields(component: Component) -> dict:
    fields = {f.name: _encode(getattr(component, f.name)) for f in dataclasses.fields(component) if f.name != "products"}
    fields["products"] = [{f.name: _encode(getattr(p, f.name)) for f in dataclasses.fields(p)} for p in component.products]
    return fields


def from_json(text: str) -> Rulebook:
    """The rulebook `to_json` wrote, value for value."""
    doc = json.loads(text)
    params = {}
    for p in doc["parameters"]:
        values = tuple(Value(dt.date.fromisoformat(v["start"]), _decode(v["value"]), v["reference"], v["illustrative"],
                             v["note"]) for v in p["values"])
        params[p["name"]] = Parameter(p["name"], p["description"], p["unit"], p["kind"], p["file"], values)
    if "components" not in doc:  # stored before components were declared: today's declarations
        from ersattning.rulebook.loader import load

        return Rulebook(params, origin=doc["origin"], components=load().components)
    components = {}
    for name, fields in doc["components"].items():
        products = tuple(Product(**{k: _decode(v) for k, v in p.items()}) for p in fields["products"])
        components[name] = Component(**{k: _decode(v) for k, v in fields.items() if k != "products"}, products=products)
    return Rulebook(params, origin=doc["origin"], components=components)


def rulebook_hash(text: str) -> str:
    """The stored rulebook's id: SHA-256 of its JSON text."""
    return hashlib.sha256(text.encode()).hexdigest()
