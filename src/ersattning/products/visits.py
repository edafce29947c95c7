"""Visit products: the rulebook's decision tables evaluated on the whole contacts table.

Each visit component (visit_fee, supplements, deductions, new_clinic) has a dated decision
table in `rules/COMPONENT/decision_table.yaml`: the version in force on the contact's date
applies, its first matching row gives the product (or none). Prices come from
`rules/COMPONENT/prices.yaml` on the same date (HEJ). One contact can carry one product
per component: a base fee plus its supplements.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.errors import StatementError
from ersattning.money import to_ore
from ersattning.period import first_day, last_day
from ersattning.products.facts import contact_facts
from ersattning.rulebook.loader import Parameter, Rulebook

#: Visit components in statement order; each has decision_table.yaml and prices.yaml.
VISIT_COMPONENTS = (
    "visit_fee",
    "visit_out_of_county",
    "supplement_other_clinic_patient",
    "deduction_own_patient_elsewhere",
    "supplement_video_unlisted",
    "supplement_unlisted",
    "supplement_child_0_5_mental_health",
    "supplement_kva",
    "supplement_peripheral_home_visit",
    "new_clinic",
)
#: The cost of an own listed patient's visit elsewhere is billed to the listing clinic (seed 002).
BILLED_TO_LISTING_CLINIC = {"deduction_own_patient_elsewhere"}

_FAR_FUTURE = dt.date(9999, 12, 31)


def _versions(param: Parameter, start: dt.date, end: dt.date):
    """(value, from, to) for each version of `param` in force at some day of start..end."""
    out = []
    for i, v in enumerate(param.values):
        nxt = param.values[i + 1].start - dt.timedelta(days=1) if i + 1 < len(param.values) else _FAR_FUTURE
        if v.value is not None and v.start <= end and nxt >= start:
            out.append((v, max(v.start, start), min(nxt, end)))
    return out


def _condition(f: ibis.Table, when: dict) -> ibis.Value:
    cond = ibis.literal(True)
    for fact, value in when.items():
        if fact == "age_min":
            cond &= f.age.notnull() & (f.age >= value)
        elif fact == "age_max":
            cond &= f.age.notnull() & (f.age <= value)
        elif fact == "actions_include":
            padded = ";" + f.actions.fill_null("") + ";"
            any_of = ibis.literal(False)
            for word in value:
                any_of |= padded.contains(f";{word};")
            cond &= any_of
        elif isinstance(value, bool):
            cond &= f[fact] == value
        else:
            cond &= f[fact].isin(list(value))
    return cond


def product_code(f: ibis.Table, table: Parameter, start: dt.date, end: dt.date) -> ibis.Value:
    """The product each contact gets from one component's decision table (null = none)."""
    cases = []
    for version, v_from, v_to in _versions(table, start, end):
        in_force = (f.date >= v_from) & (f.date <= v_to)
        for when, product in version.value:
            cases.append((in_force & _condition(f, when), ibis.literal(product, type="string")))
    if not cases:
        return ibis.null("string")
    return ibis.cases(*cases, else_=ibis.null("string"))


def price_list_table(book: Rulebook, start: dt.date, end: dt.date) -> pa.Table:
    """Every visit product's price versions overlapping start..end (HEJ), in öre."""
    cols = {k: [] for k in ("component", "product_code", "p_from", "p_to", "unit_price_ore", "rule", "reference", "illustrative")}
    for component in VISIT_COMPONENTS:
        param = book[f"{component}.prices"]
        for version, v_from, v_to in _versions(param, start, end):
            for code, amount in version.value.items():
                cols["component"].append(component)
                cols["product_code"].append(code)
                cols["p_from"].append(v_from)
                cols["p_to"].append(v_to)
                cols["unit_price_ore"].append(to_ore(amount))
                cols["rule"].append(f"{component}.decision_table+{param.name}@{version.start.isoformat()}")
                cols["reference"].append(version.reference)
                cols["illustrative"].append(version.illustrative)
    return pa.table(
        cols,
        schema=pa.schema([
            ("component", pa.string()), ("product_code", pa.string()), ("p_from", pa.date32()), ("p_to", pa.date32()),
            ("unit_price_ore", pa.int64()), ("rule", pa.string()), ("reference", pa.string()), ("illustrative", pa.bool_()),
        ]),
    )


def contact_products(engine: Engine, book: Rulebook, contacts: ibis.Table, month: str) -> ibis.Table:
    """One row per (contact, component) that yields a product, with the clinic it is billed to."""
    start, end = first_day(month), last_day(month)
    f = contact_facts(engine, book, contacts, start, end)
    parts = []
    for component in VISIT_COMPONENTS:
        code = product_code(f, book[f"{component}.decision_table"], start, end)
        payee = f.listing_clinic if component in BILLED_TO_LISTING_CLINIC else f.clinic_id
        part = f.select(
            "kombika", "contact_id", "person_id", "date",
            payee=payee,
            performed_by=f.clinic_id,
            component=ibis.literal(component),
            product_code=code,
        )
        parts.append(part.filter(part.product_code.notnull()))
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out


def visit_lines(engine: Engine, book: Rulebook, contacts: ibis.Table, month: str) -> ibis.Table:
    """Priced visit lines per (clinic, component, product, price version) for `month`."""
    start, end = first_day(month), last_day(month)
    cp = contact_products(engine, book, contacts, month)
    prices = ibis.memtable(price_list_table(book, start, end))
    priced = cp.left_join(
        prices,
        [cp.component == prices.component, cp.product_code == prices.product_code, prices.p_from <= cp.date, prices.p_to >= cp.date],
    )
    grouped = priced.group_by(
        clinic_id=priced.payee,
        component=priced.component,
        product_code=priced.product_code,
        unit_price_ore=priced.unit_price_ore,
        rule=priced.rule,
        reference=priced.reference,
        illustrative=priced.illustrative,
    ).aggregate(n=priced.count(), persons=priced.person_id.nunique())
    return grouped.select(
        "clinic_id",
        month=ibis.literal(month),
        component="component",
        product_code="product_code",
        quantity=grouped.n.cast("decimal(38, 6)"),
        persons=grouped.persons.cast("int64"),
        snapshot=ibis.null("string"),
        unit_price_ore="unit_price_ore",
        unit=ibis.literal("SEK/visit"),
        divisor=ibis.literal(1, type="int64"),
        rule="rule",
        reference="reference",
        illustrative="illustrative",
        amount_ore=(grouped.n * grouped.unit_price_ore).cast("int64"),
    )


def check_visit_prices(lines: pa.Table) -> None:
    """A visit product without a price in force is an error with the product named."""
    import pyarrow.compute as pc

    missing = lines.filter(pc.and_(pc.equal(lines["unit"], "SEK/visit"), pc.is_null(lines["unit_price_ore"])))
    if len(missing):
        codes = sorted(set(missing["product_code"].to_pylist()))
        raise StatementError(f"no price in force for visit product(s) {', '.join(codes)}")
