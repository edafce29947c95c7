"""Statement components declared in the rulebook: `rules/COMPONENT/component.yaml` beside its parameters.

A declaration says, once, what the rest of the code needs to know of a component: the
statement group it adds to, its Swedish label, its analysis category, the unit and divisor of
its price, when it is posted, the module that produces its rows, and its product codes with
the parameter that prices each. The loader checks every declaration strictly (`parse_component`,
`check_components`), as it checks parameters.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ersattning.errors import RulebookError
from ersattning.lines import GROUPS

#: The file name of a declaration inside a component's rules folder.
COMPONENT_FILE = "component.yaml"

#: When a component's lines are posted: on the month's statement, or (yearly items: caps,
#: quality bonus and penalty for year Y) on the statement of January Y+1 (DESIGN.md).
POSTED = ("month", "january_next_year")

#: The analysis report's categories (seed 003 §4.2, §5) in its order, each with the statement
#: group its components belong to: a component's category must lie in its own group.
CATEGORY_GROUP = {
    "age": "fixed",
    "cni": "fixed",
    "acg": "fixed",
    "home_care": "fixed",
    "on_call_health_promotion": "fixed",
    "other_fixed": "fixed",
    "visits": "variable",
    "other_variable": "variable",
    "goal_based": "goal",
    "adjustment": "adjustment",
}

#: The money units of parameters and prices (the loader's UNITS include these).
PRICE_UNITS = ("SEK/listed/year", "SEK/listed/month", "SEK/enrolled/year", "SEK/clinic/month", "SEK/year", "SEK/visit",
               "SEK/unit")

#: Units a component's price may have: the parameters' units, and `SEK` for an amount that is
#: its own price (a claimed item, a correction), and `SEK/SEK cost` for a share of a cost (the
#: clinic's share of medical service: quantity = the cost in SEK, unit price = −share SEK per SEK).
COMPONENT_UNITS = (*PRICE_UNITS, "share", "SEK", "SEK/SEK cost")

#: The module that produces visit components' rows: their products come from their decision tables.
VISITS = "ersattning.products.visits"

#: Placeholders a product code may hold, and what fills them.
PLACEHOLDERS = {
    "band": "an age band of the price parameter (kind age_bands): LO_HI, or LO_PLUS for the open band",
    "decision_table": "the product codes the component's decision table gives, priced by its price list",
    "year": "the year the line is for (the paid year of a yearly item, the opening year of a new clinic)",
    "category": "a category of another table (the cap categories of cap_reduction.categories)",
    "product_code": "the product code of the line an adjustment corrects",
    "drug_code": "a drug code of the component's price list (requisition drugs)",
}

_TOP_KEYS = {"description", "group", "label_sv", "category", "unit", "divisor", "posted", "produced_by", "products", "manual", "sign"}

#: The sign a manual component's lines may take: `any` (a claimed item, reversed by its opposite),
#: `negative` (a decided penalty: paid negative, only a reversal of an earlier line is positive).
SIGNS = ("any", "negative")
_REQUIRED = ("description", "group", "label_sv", "category", "unit", "divisor", "posted", "produced_by")
_PRODUCT_KEYS = {"price", "uplift", "unit", "note"}
_MODULE = re.compile(r"^ersattning(\.[a-z_][a-z0-9_]*)+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PACKAGE = Path(__file__).resolve().parents[1]


def band_code(lo: int, hi: int | None, pattern: str = "CAP_AGE_{band}") -> str:
    """The product code of an age band: CAP_AGE_0_5, …, CAP_AGE_75_PLUS for the open band."""
    return pattern.format(band=f"{lo}_{hi}" if hi is not None else f"{lo}_PLUS")


@dataclass(frozen=True)
class Product:
    """A product code (or a code pattern with placeholders) and the parameters that price it."""

    code: str
    price: str | None = None  # the parameter whose value is the unit price
    uplift: str | None = None  # a parameter added to the price while it is in force
    unit: str | None = None  # the product's unit when it differs from the component's
    note: str = ""

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.code) if name)

    def pattern(self) -> re.Pattern:
        """A regular expression matching the codes this product stands for."""
        parts = []
        for text, name, _, _ in string.Formatter().parse(self.code):
            parts.append(re.escape(text))
            if name:
                parts.append(r"\d+_(?:\d+|PLUS)" if name == "band" else r"\d{4}" if name == "year" else r".+")
        return re.compile("^" + "".join(parts) + "$")


@dataclass(frozen=True)
class Component:
    """A statement component as its `component.yaml` declares it."""

    name: str
    description: str
    group: str  # fixed | variable | goal | adjustment: the statements.csv column it adds to
    label_sv: str
    category: str  # the analysis category (CATEGORY_GROUP)
    unit: str
    divisor: int  # 12 for an annual amount paid monthly, 1 otherwise
    posted: str  # month | january_next_year
    produced_by: tuple[str, ...]
    products: tuple[Product, ...] = field(default_factory=tuple)
    manual: bool = False
    file: str = ""
    sign: str = "any"  # SIGNS: a manual component's lines' sign

    def product(self, price: str | None = None) -> Product:
        """The component's one product (or the one priced by `price`); an error when that is ambiguous."""
        found = [p for p in self.products if price is None or p.price == price]
        if len(found) != 1:
            which = f" priced by {price}" if price else ""
            raise KeyError(f"{self.name} declares {len(found)} products{which}, not one ({self.file})")
        return found[0]

    def code(self, price: str | None = None, **fields: Any) -> str:
        """The product code of `product(price)`, its placeholders filled from `fields`."""
        return self.product(price).code.format(**fields)

    def band_code(self, lo: int, hi: int | None) -> str:
        """The product code of an age band (a product whose code holds `{band}`)."""
        product = next((p for p in self.products if "band" in p.placeholders), None)
        if product is None:
            raise KeyError(f"{self.name} declares no product per age band ({self.file})")
        return band_code(lo, hi, product.code)

    def produces(self, module: str) -> bool:
        return module in self.produced_by


def parse_component(name: str, doc: Any, file: str) -> Component:
    """A checked declaration (its parameters are checked against the rulebook by `check_components`)."""
    if not _NAME.match(name):
        raise RulebookError(file, "-", f"a component's folder name is lower_case_with_underscores, got {name!r}")
    if not isinstance(doc, dict):
        raise RulebookError(file, "-", "a component declaration is a mapping: " + ", ".join(sorted(_TOP_KEYS)))
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise RulebookError(file, sorted(unknown)[0], "unknown key")
    for key in _REQUIRED:
        if key not in doc:
            raise RulebookError(file, key, "missing")
    group = doc["group"]
    if group not in GROUPS:
        raise RulebookError(file, "group", f"unknown group {group!r}; one of {', '.join(GROUPS)}")
    category = doc["category"]
    if category not in CATEGORY_GROUP:
        raise RulebookError(file, "category", f"unknown category {category!r}; one of {', '.join(CATEGORY_GROUP)}")
    if CATEGORY_GROUP[category] != group:
        raise RulebookError(file, "category", f"category {category} belongs to the {CATEGORY_GROUP[category]} group, not {group}")
    unit = doc["unit"]
    if unit not in COMPONENT_UNITS:
        raise RulebookError(file, "unit", f"unknown unit {unit!r}; one of {', '.join(COMPONENT_UNITS)}")
    divisor = doc["divisor"]
    if isinstance(divisor, bool) or divisor not in (1, 12):
        raise RulebookError(file, "divisor", f"12 for an annual amount paid monthly, 1 otherwise; got {divisor!r}")
    posted = doc["posted"]
    if posted not in POSTED:
        raise RulebookError(file, "posted", f"unknown posting {posted!r}; one of {', '.join(POSTED)}")
    produced_by = doc["produced_by"]
    produced_by = (produced_by,) if isinstance(produced_by, str) else produced_by
    if not isinstance(produced_by, (list, tuple)) or not produced_by:
        raise RulebookError(file, "produced_by", "a module name (ersattning.products.…) or a list of them")
    for module in produced_by:
        if not isinstance(module, str) or not _MODULE.match(module) or not _module_exists(module):
            raise RulebookError(file, "produced_by", f"no module {module!r} in the ersattning package")
    manual = doc.get("manual", False)
    if not isinstance(manual, bool):
        raise RulebookError(file, "manual", "must be true or false")
    sign = doc.get("sign", "any")
    if sign not in SIGNS:
        raise RulebookError(file, "sign", f"unknown sign {sign!r}; one of {', '.join(SIGNS)}")
    if sign != "any" and not manual:
        raise RulebookError(file, "sign", "only a manual component declares its lines' sign (the others' come from their prices)")
    for key in ("description", "label_sv"):
        if not isinstance(doc[key], str) or not doc[key].strip():
            raise RulebookError(file, key, "a non-empty text")
    products = _products(doc.get("products") or {}, file)
    return Component(name, doc["description"].strip(), group, doc["label_sv"].strip(), category, unit, int(divisor),
                     posted, tuple(produced_by), products, manual, file, sign)


def _module_exists(module: str) -> bool:
    """Whether the dotted module is a file (or package) of this package: checked without importing it."""
    path = _PACKAGE.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _products(raw: Any, file: str) -> tuple[Product, ...]:
    if not isinstance(raw, dict):
        raise RulebookError(file, "products", "a mapping product code: {price, uplift, unit, note}")
    out = []
    for code, body in raw.items():
        where = f"products.{code}"
        body = {} if body is None else body
        if not isinstance(code, str) or not code or not isinstance(body, dict):
            raise RulebookError(file, where, "a product code mapped to {price, uplift, unit, note}")
        unknown = set(body) - _PRODUCT_KEYS
        if unknown:
            raise RulebookError(file, f"{where}.{sorted(unknown)[0]}", "unknown key")
        try:
            product = Product(code, body.get("price"), body.get("uplift"), body.get("unit"), str(body.get("note", "")))
            holes = product.placeholders
        except ValueError:
            raise RulebookError(file, where, "a code's placeholders are {name} (braces matched)") from None
        for hole in holes:
            if hole not in PLACEHOLDERS:
                raise RulebookError(file, where, f"unknown placeholder {{{hole}}}; one of {', '.join(PLACEHOLDERS)}")
        for key in ("price", "uplift"):
            if getattr(product, key) is not None and not isinstance(getattr(product, key), str):
                raise RulebookError(file, f"{where}.{key}", "a parameter name, folder.key")
        if product.uplift and not product.price:
            raise RulebookError(file, f"{where}.uplift", "an uplift is added to a price: give the price too")
        if product.unit is not None and product.unit not in COMPONENT_UNITS:
            raise RulebookError(file, f"{where}.unit", f"unknown unit {product.unit!r}; one of {', '.join(COMPONENT_UNITS)}")
        out.append(product)
    return tuple(out)


def check_components(components: dict[str, Component], parameters: dict) -> None:
    """The declarations against the parameters: every price exists and has the kind its code
    needs, and decision tables and visit components go together."""
    for comp in components.values():
        for product in comp.products:
            where = f"products.{product.code}"
            for key in ("price", "uplift"):
                name = getattr(product, key)
                if name is not None and name not in parameters:
                    raise RulebookError(comp.file, f"{where}.{key}", f"no parameter {name!r} in the rulebook")
            if product.price is None:
                continue
            kind = parameters[product.price].kind
            listed = {"decision_table", "drug_code"} & set(product.placeholders)
            needed = "age_bands" if "band" in product.placeholders else "price_list" if listed else "number"
            if kind != needed:
                raise RulebookError(comp.file, f"{where}.price", f"{product.price} is a {kind}; this code needs a {needed}")
            # An uplift has its price's shape: per age band for a price per age band (RULES.md §10).
            if product.uplift is not None and parameters[product.uplift].kind != kind:
                raise RulebookError(comp.file, f"{where}.uplift", f"{product.uplift} is a {parameters[product.uplift].kind}; "
                                    f"an uplift has its price's kind ({kind})")
        if comp.produces(VISITS):
            for key, kind in (("decision_table", "decision_table"), ("prices", "price_list")):
                name = f"{comp.name}.{key}"
                if name not in parameters or parameters[name].kind != kind:
                    raise RulebookError(comp.file, "produced_by",
                                        f"a visit component needs rules/{comp.name}/{key}.yaml (kind {kind})")
    for name, param in parameters.items():
        folder, _, key = name.partition(".")
        if param.kind == "price_list":  # a derived price names a number and a price list that exist
            for v in param.values:
                for code, amount in (v.value or {}).items():
                    if isinstance(amount, dict):
                        where = f"values.{v.start.isoformat()}.value.{code}"
                        for ref, kind in ((amount["share"], "number"), (amount["of"], "price_list")):
                            if ref not in parameters or parameters[ref].kind != kind:
                                raise RulebookError(param.file, where, f"{ref!r} is not a {kind} parameter of the rulebook")
        if key == "decision_table":
            comp = components.get(folder)
            if comp is None:
                raise RulebookError(param.file, "-", f"a decision table of no component: declare rules/{folder}/{COMPONENT_FILE}")
            if not comp.produces(VISITS):
                raise RulebookError(comp.file, "produced_by", f"{folder} has a decision table: its rows come from {VISITS}")


@functools.cache
def packaged_components() -> dict[str, Component]:
    """The declarations of the package's own rules/ folder (read once, without its parameters):
    for the few module-level names that need them at import time (the API's manual kinds)."""
    import yaml

    root = _PACKAGE / "rules"
    out = {}
    for path in sorted(root.glob(f"*/{COMPONENT_FILE}")):
        rel = str(path.relative_to(root))
        out[path.parent.name] = parse_component(path.parent.name, yaml.safe_load(path.read_text(encoding="utf-8")), rel)
    return out
