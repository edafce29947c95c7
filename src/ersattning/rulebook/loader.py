"""Load, check and query the dated rulebook (one YAML file per parameter).

Each `rules/COMPONENT/component.yaml` is not a parameter but the component's declaration
(`rulebook.components`): read into `Rulebook.components` and checked against the parameters.

A parameter file holds `description`, `metadata` (`unit`, `kind`, `reference`) and
`values:` keyed by the ISO date from which each value holds; each value carries its own
`reference` (a seed file name and section) and may be marked `illustrative: true`
(a figure the sources do not give). A value holds until the next date; `null` ends it.
Numbers are read as Decimal from their text: never through a binary float.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ersattning.errors import RulebookError
from ersattning.rulebook.components import COMPONENT_FILE, PRICE_UNITS, Component, check_components, parse_component

#: What a value is: an amount or ratio (`number`), a count, age bands with an amount each,
#: an age range, or a list of codes.
KINDS = ("number", "count", "age_bands", "age_range", "codes", "decision_table", "price_list")

#: Contact facts a decision-table row may test (computed by `products.facts`), and the
#: type of value each takes: a word (or a list of words), a flag, or a number bound.
FACTS = {
    "contact_type": "word",
    "profession": "word",
    "assignment": "word",
    "setting": "word",  # physical (at the clinic), digital, home
    "listing": "word",  # here, group, other, none (the patient's listing for capitation on the date)
    "resident": "flag",  # a residence row in persons on the date (any county)
    "visit": "flag",  # the contact type is a visit (visit_fee.visit_contact_types)
    "out_of_county": "flag",
    "reservnummer": "flag",
    "new_clinic": "flag",
    "peripheral": "flag",
    "malina_area": "flag",  # the clinic's area has a Malina clinic (supplement_child_0_5_mental_health.malina_areas)
    "actions_include": "word",
    "age_min": "number",
    "age_max": "number",
}

#: Inhabitants of Stockholm county on 2022-12-31 (RULES.md §9): the size of the region whose
#: region-wide amounts (the pots) the rulebook holds; a smaller synthetic region is a sample.
REGION_PERSONS = 2_440_027

#: Units the rulebook may use; a typo in a unit is an error, not a new unit.
UNITS = (
    *PRICE_UNITS,
    "product_codes",
    "share",
    "areas",
    "visits/listed/year",
    "visits/listed_75_plus/year",
    "visits/listed_65_plus/year",
    "years",
    "months",
    "persons",
    "area_codes",
    "contact_types",
    "days",
    "professions",
)

_TOP_KEYS = {"description", "metadata", "values"}
_META_KEYS = {"unit", "kind", "reference", "note"}
_VALUE_KEYS = {"value", "reference", "illustrative", "note"}
_BAND = re.compile(r"^(\d+)-(\d*)$")
#: Start date of a frozen rulebook's values: earlier than any date the engine looks at.
_ALWAYS = dt.date(1900, 1, 1)


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that turns YAML floats into Decimal from their source text."""


def _decimal_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)
# Dates stay strings so that we can check their exact spelling (ISO YYYY-MM-DD).
_DecimalLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Value:
    """One dated value of a parameter, with where it comes from."""

    start: dt.date
    value: Any  # Decimal | int | tuple | dict | None (None = the parameter ends here)
    reference: str
    illustrative: bool = False
    note: str = ""


@dataclass(frozen=True)
class Parameter:
    """A named parameter (its path under rules/, dotted) and its dated values in order."""

    name: str
    description: str
    unit: str
    kind: str
    file: str
    values: tuple[Value, ...] = field(default_factory=tuple)

    def at(self, date: dt.date) -> Value | None:
        """The value in force on `date`, or None before the first date or after a `null`."""
        found = None
        for v in self.values:
            if v.start <= date:
                found = v
            else:
                break
        if found is None or found.value is None:
            return None
        return found

    def dates(self) -> list[dt.date]:
        return [v.start for v in self.values]


class Rulebook:
    """All parameters and component declarations, checked; reads values in force on a date."""

    def __init__(self, parameters: dict[str, Parameter], origin: str = "", components: dict[str, Component] | None = None):
        self.parameters = dict(sorted(parameters.items()))
        self.origin = origin
        #: name → declaration (rules/NAME/component.yaml), in name order; kept by every copy below.
        self.components = dict(sorted((components or {}).items()))

    def _copy(self, parameters: dict[str, Parameter], origin: str) -> "Rulebook":
        """This rulebook's components with other parameters (reforms, samples, frozen books)."""
        return Rulebook(parameters, origin=origin, components=self.components)

    def component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise KeyError(f"no component {name!r} declared in the rulebook (rules/{name}/{COMPONENT_FILE})") from None

    def code(self, component: str, price: str | None = None, **fields: Any) -> str:
        """The product code a component declares (the one priced by `price`), placeholders filled."""
        return self.component(component).code(price, **fields)

    def components_by(self, module: str) -> tuple[str, ...]:
        """The components whose rows `module` produces, in name order."""
        return tuple(name for name, c in self.components.items() if c.produces(module))

    def __contains__(self, name: str) -> bool:
        return name in self.parameters

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r} in the rulebook") from None

    def at(self, date: dt.date) -> "RulesAt":
        """The values in force on `date` (a rule value applies to the contact's or snapshot's date)."""
        return RulesAt(self, date)

    def at_month_ends(self, names: tuple[str, ...], start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date, tuple]]:
        """start..end cut into runs of whole months over which the values of `names`, each read
        as it stands on its month's last day, do not change: (first day, last day, values). A
        month's statement reads such rules at the month's end; a run over several months (a
        year in one pass) reads each month's own values."""
        import calendar

        pieces: list[tuple[dt.date, dt.date, tuple]] = []
        day = start.replace(day=1)
        while day <= end:
            month_end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
            rules = self.at(month_end)
            values = tuple(rules.value(n) if n in self.parameters else None for n in names)
            lo, hi = max(day, start), min(month_end, end)
            if pieces and pieces[-1][2] == values:
                pieces[-1] = (pieces[-1][0], hi, values)
            else:
                pieces.append((lo, hi, values))
            day = month_end + dt.timedelta(days=1)
        return pieces

    def for_sample(self, persons: int, region_persons: int = REGION_PERSONS) -> "Rulebook":
        """The rulebook for a sample of the region (the synthetic region at a smaller size):
        region-wide yearly amounts (unit `SEK/year`, the health-promotion pots) scaled by
        persons / region_persons, to whole öre; amounts per person or visit are unchanged.
        Without it a 50 000-person sample would share the whole region's pots."""
        if persons >= region_persons:
            return self
        share = Decimal(persons) / Decimal(region_persons)
        scaled = {}
        for name, param in self.parameters.items():
            if param.unit != "SEK/year":
                continue
            values = tuple(
                v if v.value is None else replace(
                    v, value=(v.value * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                    reference=f"{v.reference} (scaled to a sample of {persons} of {region_persons} persons)")
                for v in param.values
            )
            scaled[name] = replace(param, values=values)
        return self._copy({**self.parameters, **scaled}, f"{self.origin} for a sample of {persons} persons")

    def recording(self) -> tuple["Rulebook", set[str]]:
        """This rulebook, and the names of the parameters read through it (`ALL_READ` among them
        when something went over all of them): what a computation on it depended on."""
        seen: set[str] = set()
        copy = self._copy(self.parameters, self.origin)
        copy.parameters = _Reads(copy.parameters, seen)
        return copy, seen

    def frozen_at(self, date: dt.date) -> "Rulebook":
        """The rulebook as it stood on `date`, for every date: each parameter holds the value
        in force on `date` (or none) from the beginning of time (`--rules-as-of`, analysis)."""
        frozen = {}
        for name, param in self.parameters.items():
            v = param.at(date)
            if v is None:
                held = Value(_ALWAYS, None, f"not in force on {date.isoformat()}")
            else:
                held = replace(v, start=_ALWAYS, reference=f"{v.reference} (as of {date.isoformat()})")
            frozen[name] = replace(param, values=(held,))
        return self._copy(frozen, f"{self.origin} as of {date.isoformat()}")


#: In `Rulebook.recording`'s names: the parameters were gone over as a whole (any may matter).
ALL_READ = "*"


class _Reads(dict):
    """A rulebook's parameters that note each name looked up (or `ALL_READ` when iterated)."""

    def __init__(self, parameters: dict[str, Parameter], seen: set[str]):
        super().__init__(parameters)
        self.seen = seen

    def __getitem__(self, name):
        self.seen.add(name)
        return super().__getitem__(name)

    def __contains__(self, name):
        self.seen.add(name)
        return super().__contains__(name)

    def get(self, name, default=None):
        self.seen.add(name)
        return super().get(name, default)

    def __iter__(self):
        self.seen.add(ALL_READ)
        return super().__iter__()

    def keys(self):
        self.seen.add(ALL_READ)
        return super().keys()

    def values(self):
        self.seen.add(ALL_READ)
        return super().values()

    def items(self):
        self.seen.add(ALL_READ)
        return super().items()


@dataclass(frozen=True)
class RulesAt:
    """The rulebook as in force on one date: `rules.value(name)`, `rules.get(name)`."""

    book: Rulebook
    date: dt.date

    def get(self, name: str) -> Value | None:
        return self.book[name].at(self.date)

    def value(self, name: str, default: Any = None) -> Any:
        v = self.get(name)
        return default if v is None else v.value

    def ref(self, name: str) -> str:
        """`name@start` of the value in force: the rule id printed on statement lines."""
        v = self.get(name)
        return f"{name}@{v.start.isoformat()}" if v else f"{name}@none"


def default_rules_dir() -> Path:
    return Path(str(resources.files("ersattning") / "rules"))


def load(directory: str | Path | None = None) -> Rulebook:
    """Read and check every parameter file and component declaration under `directory`
    (default: the package's rules/)."""
    root = Path(directory) if directory else default_rules_dir()
    if not root.is_dir():
        raise RulebookError(str(root), "-", "rules folder not found")
    params: dict[str, Parameter] = {}
    components: dict[str, Component] = {}
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root)
        if path.name == COMPONENT_FILE:
            if len(rel.parts) != 2:
                raise RulebookError(str(rel), "-", f"a {COMPONENT_FILE} lies in its component's folder, rules/COMPONENT/")
            components[rel.parts[0]] = parse_component(rel.parts[0], _read_yaml(path), str(rel))
            continue
        name = ".".join(rel.with_suffix("").parts)
        params[name] = _parse_parameter(name, _read_yaml(path), str(rel))
    if not params:
        raise RulebookError(str(root), "-", "no parameter files")
    check_components(components, params)
    return Rulebook(params, origin=str(root), components=components)


def _read_yaml(path: Path) -> Any:
    try:
        # Parsed once per process per file text (a rulebook is loaded several times by one
        # analysis): keyed by the text itself, so a changed file is parsed anew, never stale.
        return copy.deepcopy(_parse_yaml(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise RulebookError(str(path), "-", f"not valid YAML: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_DecimalLoader)


def _parse_parameter(name: str, doc: Any, file: str) -> Parameter:
    if not isinstance(doc, dict):
        raise RulebookError(file, "-", "a parameter file is a mapping with description, metadata, values")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise RulebookError(file, sorted(unknown)[0], "unknown key")
    for key in ("description", "metadata", "values"):
        if key not in doc:
            raise RulebookError(file, key, "missing")
    meta = doc["metadata"]
    if not isinstance(meta, dict):
        raise RulebookError(file, "metadata", "must be a mapping")
    unknown = set(meta) - _META_KEYS
    if unknown:
        raise RulebookError(file, f"metadata.{sorted(unknown)[0]}", "unknown key")
    unit = meta.get("unit")
    if unit not in UNITS:
        raise RulebookError(file, "metadata.unit", f"unknown unit {unit!r}; one of {', '.join(UNITS)}")
    kind = meta.get("kind", "number")
    if kind not in KINDS:
        raise RulebookError(file, "metadata.kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    values = _parse_values(doc["values"], kind, file, meta.get("reference"))
    return Parameter(name, str(doc["description"]).strip(), unit, kind, file, values)


def _parse_values(raw: Any, kind: str, file: str, default_ref: str | None) -> tuple[Value, ...]:
    if not isinstance(raw, dict) or not raw:
        raise RulebookError(file, "values", "must be a non-empty mapping of ISO dates to values")
    out: list[Value] = []
    for key, entry in raw.items():
        where = f"values.{key}"
        start = _parse_date(key, file, where)
        if out and start <= out[-1].start:
            raise RulebookError(file, where, "dates must be in increasing order")
        if not isinstance(entry, dict):
            raise RulebookError(file, where, "each date maps to {value, reference}")
        unknown = set(entry) - _VALUE_KEYS
        if unknown:
            raise RulebookError(file, f"{where}.{sorted(unknown)[0]}", "unknown key")
        if "value" not in entry:
            raise RulebookError(file, f"{where}.value", "missing")
        reference = entry.get("reference", default_ref)
        if not reference:
            raise RulebookError(file, f"{where}.reference", "every value needs a source reference")
        illustrative = entry.get("illustrative", False)
        if not isinstance(illustrative, bool):
            raise RulebookError(file, f"{where}.illustrative", "must be true or false")
        value = None if entry["value"] is None else _parse_value(entry["value"], kind, file, f"{where}.value")
        out.append(Value(start, value, str(reference), illustrative, str(entry.get("note", ""))))
    return tuple(out)


def _parse_date(key: Any, file: str, where: str) -> dt.date:
    if not isinstance(key, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", key):
        raise RulebookError(file, where, "a value's key is its start date, ISO YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(key)
    except ValueError:
        raise RulebookError(file, where, "not a calendar date") from None


def _number(raw: Any, file: str, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)):
        raise RulebookError(file, where, f"expected a number, got {raw!r}")
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise RulebookError(file, where, f"not a number: {raw!r}") from None


def _age_range(text: Any, file: str, where: str) -> tuple[int, int | None]:
    m = _BAND.match(str(text))
    if not m:
        raise RulebookError(file, where, f"age range is 'MIN-MAX' or 'MIN-' (open), got {text!r}")
    lo, hi = int(m.group(1)), (int(m.group(2)) if m.group(2) else None)
    if hi is not None and hi < lo:
        raise RulebookError(file, where, "age range ends before it starts")
    return lo, hi


#: A price derived from other rule values: `share` (a number parameter) × the price of `code`
#: in the price list `of`, both in force on the same day (e.g. the 2021 new-clinic raise, half
#: the base fee: 003 Bilaga 2). Kept as the rule says, resolved where prices are read.
DERIVED_PRICE_KEYS = ("share", "of", "code")


def _price(raw: Any, file: str, where: str) -> Any:
    if not isinstance(raw, dict):
        return _number(raw, file, where)
    if set(raw) != set(DERIVED_PRICE_KEYS) or not all(isinstance(raw[k], str) and raw[k] for k in DERIVED_PRICE_KEYS):
        raise RulebookError(file, where, "an amount, or a derived price {share: PARAMETER, of: PRICE_LIST, code: PRODUCT}")
    return {k: raw[k] for k in DERIVED_PRICE_KEYS}


def _parse_value(raw: Any, kind: str, file: str, where: str) -> Any:
    if kind == "number":
        return _number(raw, file, where)
    if kind == "count":
        n = _number(raw, file, where)
        if n != n.to_integral_value() or n < 0:
            raise RulebookError(file, where, "a count is a whole number ≥ 0")
        return int(n)
    if kind == "age_range":
        return _age_range(raw, file, where)
    if kind == "codes":
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            raise RulebookError(file, where, "expected a list of codes (strings)")
        return tuple(raw)
    if kind == "decision_table":
        return _decision_table(raw, file, where)
    if kind == "price_list":
        if not isinstance(raw, dict) or not raw:
            raise RulebookError(file, where, "a price list maps product codes to amounts")
        return {str(code): _price(amount, file, f"{where}.{code}") for code, amount in raw.items()}
    # age_bands: {"0-5": 390, "6-64": 310, "65-74": 1117, "75-": 1217}: contiguous from 0, last open.
    if not isinstance(raw, dict) or not raw:
        raise RulebookError(file, where, "age bands are a mapping 'MIN-MAX': amount")
    bands = []
    for text, amount in raw.items():
        lo, hi = _age_range(text, file, f"{where}.{text}")
        bands.append((lo, hi, _number(amount, file, f"{where}.{text}")))
    expected = 0
    for i, (lo, hi, _) in enumerate(bands):
        if lo != expected:
            raise RulebookError(file, where, f"age bands must be contiguous from 0 (gap or overlap at {lo})")
        if hi is None and i != len(bands) - 1:
            raise RulebookError(file, where, "only the last age band may be open")
        expected = (hi + 1) if hi is not None else None
    if expected is not None:
        raise RulebookError(file, where, "the last age band must be open-ended ('75-')")
    return tuple(bands)


def _decision_table(raw: Any, file: str, where: str) -> tuple[tuple[dict, str | None], ...]:
    """Rows `{when: {fact: value}, product: CODE}` in order; the first matching row wins.

    A value is a word or a list of words (any of them), true/false for a flag, a number
    for `age_min`/`age_max`. `product: null` stops the table: the contact gets no product
    from it (e.g. out-of-county patients in the ordinary fee table).
    """
    if not isinstance(raw, list) or not raw:
        raise RulebookError(file, where, "a decision table is a list of rows {when, product}")
    rows = []
    for i, row in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(row, dict) or set(row) - {"when", "product", "note"} or "product" not in row:
            raise RulebookError(file, at, "each row is {when: {fact: value}, product: CODE or null}")
        when = row.get("when") or {}
        if not isinstance(when, dict):
            raise RulebookError(file, f"{at}.when", "conditions are a mapping fact: value")
        checked = {}
        for fact, value in when.items():
            kind = FACTS.get(fact)
            if kind is None:
                raise RulebookError(file, f"{at}.when.{fact}", f"unknown fact; one of {', '.join(FACTS)}")
            if kind == "flag" and not isinstance(value, bool):
                raise RulebookError(file, f"{at}.when.{fact}", "expected true or false")
            if kind == "number":
                value = int(_number(value, file, f"{at}.when.{fact}"))
            if kind == "word":
                words = value if isinstance(value, list) else [value]
                if not words or not all(isinstance(w, str) for w in words):
                    raise RulebookError(file, f"{at}.when.{fact}", "expected a word or a list of words")
                value = tuple(words)
            checked[fact] = value
        product = row["product"]
        if product is not None and not isinstance(product, str):
            raise RulebookError(file, f"{at}.product", "a product code (text) or null")
        rows.append((checked, product))
    return tuple(rows)


