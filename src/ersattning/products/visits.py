"""Visit products: the rulebook's decision tables evaluated on the whole contacts table.

Each visit component (visit_fee, supplements, deductions, new_clinic: the components whose
`component.yaml` names this module in `produced_by`) has a dated decision table in
`rules/COMPONENT/decision_table.yaml`: the version in force on the contact's date
applies, its first matching row gives the product (or none). Prices come from
`rules/COMPONENT/prices.yaml` on the same date (HEJ). One contact can carry one product
per component: a base fee plus its supplements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.errors import StatementError
from ersattning.lines import ENGINE_PRICED, LINE
from ersattning.money import to_ore
from ersattning.period import first_day, last_day
from ersattning.products.facts import contact_facts
from ersattning.rulebook.loader import Parameter, Rulebook

#: The cost of an own listed patient's visit elsewhere is billed to the listing clinic (seed 002).
BILLED_TO_LISTING_CLINIC = {"deduction_own_patient_elsewhere"}

_FAR_FUTURE = dt.date(9999, 12, 31)


def visit_components(book: Rulebook) -> tuple[str, ...]:
    """The visit components: those the rulebook declares produced by this module (each has
    decision_table.yaml and prices.yaml, which the loader checks)."""
    return book.components_by(__name__)


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


def _decisions(f: ibis.Table, table: Parameter, start: dt.date, end: dt.date) -> list[tuple[ibis.Value, str | None, str]]:
    """(condition, product, row) for every row of every version of a decision table in force in
    the period, in the order they are tried: the first that holds decides. `row` names it as
    `TABLE@VERSION#INDEX` (index from 0 within that version)."""
    out = []
    for version, v_from, v_to in _versions(table, start, end):
        in_force = (f.date >= v_from) & (f.date <= v_to)
        for i, (when, product) in enumerate(version.value):
            out.append((in_force & _condition(f, when), product, f"{table.name}@{version.start.isoformat()}#{i}"))
    return out


def product_code(f: ibis.Table, table: Parameter, start: dt.date, end: dt.date) -> ibis.Value | None:
    """The product each contact gets from one component's decision table (null = none);
    None when no version of the table is in force in the period (the component is left out)."""
    cases = [(cond, ibis.literal(product, type="string")) for cond, product, _ in _decisions(f, table, start, end)]
    if not cases:
        return None
    return ibis.cases(*cases, else_=ibis.null("string"))


def decision_row(f: ibis.Table, table: Parameter, start: dt.date, end: dt.date) -> ibis.Value:
    """Which row of the decision table decided each contact's product (`product_code`'s cases,
    in the same order, naming the row instead of its product); null when no row matched."""
    cases = [(cond, ibis.literal(row, type="string")) for cond, _, row in _decisions(f, table, start, end)]
    return ibis.cases(*cases, else_=ibis.null("string")) if cases else ibis.null("string")


def distinct_decisions(f: ibis.Table, tables: list[Parameter], start: dt.date, end: dt.date,
                       keys: dict[str, ibis.Value]) -> ibis.Table:
    """The contacts counted (`n`) per `keys` and per distinct combination of what `tables`' rows
    read in start..end: a table the decision tables can be evaluated on in place of the contacts
    (`_condition` and `_decisions` give every group the product each of its contacts gets).

    A contact's date, age and actions are cut down to what the tables can tell apart: the date to
    the first day of its piece of the period (cut at every table version's start and at month
    starts), the age to the greatest `age_min` / `age_max + 1` bound at or below it, the actions to
    the words `actions_include` names. So 2.6 M contacts of a quarter become about 0.3 M groups,
    and each CASE of each table runs on those instead of every contact."""
    facts, bounds, words = set(), set(), set()
    cuts = {start} | {d for d in (dt.date(y, m, 1) for y in range(start.year, end.year + 1) for m in range(1, 13))
                      if start < d <= end}
    for table in tables:
        for version, _, _ in _versions(table, start, end):
            cuts.add(max(version.start, start))
            for when, _ in version.value:
                for fact, value in when.items():
                    if fact == "age_min":
                        bounds.add(int(value))
                    elif fact == "age_max":
                        bounds.add(int(value) + 1)
                    elif fact == "actions_include":
                        words.update(value)
                    else:
                        facts.add(fact)
    pieces = sorted(cuts)
    reduced = {"date": ibis.cases(*[(f.date >= d, ibis.literal(d)) for d in reversed(pieces[1:])], else_=ibis.literal(pieces[0]))
               if len(pieces) > 1 else ibis.literal(pieces[0])}
    if bounds:
        # Below every bound, any age below the smallest behaves alike: the smallest − 1 stands for it.
        low = sorted(bounds)
        reduced["age"] = ibis.cases((f.age.isnull(), ibis.null("int64")), *[(f.age >= b, ibis.literal(b, type="int64")) for b in reversed(low)],
                                    else_=ibis.literal(low[0] - 1, type="int64"))
    if words:
        padded = ";" + f.actions.fill_null("") + ";"
        reduced["actions"] = ibis.literal("").concat(
            *[ibis.ifelse(padded.contains(f";{w};"), f"{w};", "") for w in sorted(words)])
    return f.group_by(**keys, **{name: f[name] for name in sorted(facts - set(keys))}, **reduced).aggregate(n=f.count())


def _in_force(f: ibis.Table, book: Rulebook, start: dt.date, end: dt.date) -> dict[str, ibis.Value]:
    """component -> product-code expression, for the components with a table in force."""
    codes = {c: product_code(f, book[f"{c}.decision_table"], start, end) for c in visit_components(book)}
    return {c: code for c, code in codes.items() if code is not None}


def price_periods(book: Rulebook, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """start..end cut where any visit decision table or price list changes (usually one piece)."""
    cuts = {start}
    for component in visit_components(book):
        for name in (f"{component}.decision_table", f"{component}.prices", *_derived_from(book[f"{component}.prices"])):
            cuts.update(v.start for v in book[name].values if start < v.start <= end)
    bounds = sorted(cuts)
    return [(b, (bounds[i + 1] - dt.timedelta(days=1)) if i + 1 < len(bounds) else end) for i, b in enumerate(bounds)]


def _derived_from(prices: Parameter) -> set[str]:
    """The parameters the derived prices of a price list read (their changes cut price periods)."""
    return {name for v in prices.values for amount in (v.value or {}).values() if isinstance(amount, dict)
            for name in (amount["share"], amount["of"])}


def _resolve(book: Rulebook, day: dt.date, amount) -> tuple[Decimal, list[str], list[str], bool]:
    """A price list's amount on `day` (SEK) with the rule values it adds (`rule@date`), their
    references and whether any is illustrative: a number as it stands; a derived price
    (`share` × `code`'s price in `of`, loader.DERIVED_PRICE_KEYS) from the values in force."""
    if not isinstance(amount, dict):
        return amount, [], [], False
    share, base = book[amount["share"]].at(day), book[amount["of"]].at(day)
    if share is None or share.value is None or base is None or amount["code"] not in base.value:
        raise StatementError(f"the derived price {amount['share']} × {amount['of']} {amount['code']} has no value "
                             f"in force on {day.isoformat()}")
    of, of_rule, of_refs, of_illus = _resolve(book, day, base.value[amount["code"]])
    rules = [f"{amount['share']}@{share.start.isoformat()}", f"{amount['of']}@{base.start.isoformat()}", *of_rule]
    return (share.value * of, rules, [share.reference, base.reference, *of_refs],
            share.illustrative or base.illustrative or of_illus)


def price_list_table(book: Rulebook, periods: list[tuple[dt.date, dt.date]]) -> pa.Table:
    """Every visit product's price in each period (HEJ), in öre, with its rule and source."""
    schema = pa.schema([("period", pa.int64()), *(LINE.field(n) for n in ("component", "product_code", "unit_price_ore", "rule", "reference", "illustrative"))])
    cols = {k: [] for k in schema.names}
    for i, (p_from, _) in enumerate(periods):
        for component in visit_components(book):
            param = book[f"{component}.prices"]
            version = param.at(p_from)
            if version is None:
                continue
            for code, amount in version.value.items():
                price, rules, refs, illustrative = _resolve(book, p_from, amount)
                cols["period"].append(i)
                cols["component"].append(component)
                cols["product_code"].append(code)
                cols["unit_price_ore"].append(to_ore(price))
                cols["rule"].append("+".join([f"{component}.decision_table+{param.name}@{version.start.isoformat()}", *rules]))
                cols["reference"].append("; ".join([version.reference, *refs]))
                cols["illustrative"].append(version.illustrative or illustrative)
    return pa.table(cols, schema=schema)


def contact_products(engine: Engine, book: Rulebook, contacts: ibis.Table, month: str,
                     components: tuple[str, ...] | None = None, assume: dict | None = None) -> ibis.Table:
    """One row per (contact, component) that yields a product, with the clinic it is billed to,
    the decision-table row that gave it and its price in force (the price period, price, rule,
    source): the rows `visit_lines` counts, one by one. `components`: only these (the trace of
    one line needs its own component's branch of the union, not the others'). `assume`: facts
    set to these values before the tables are read (what a held contact would get once its
    inputs are corrected: `HELD_CORRECTED`)."""
    start, end = first_day(month), last_day(month)
    f = contact_facts(engine, book, contacts, start, end)
    if assume:
        f = f.mutate(**{k: ibis.literal(v) for k, v in assume.items()})
    periods = price_periods(book, start, end)
    period = ibis.cases(*[((f.date >= a) & (f.date <= b), i) for i, (a, b) in enumerate(periods)], else_=-1)
    parts = []
    for component, code in _in_force(f, book, start, end).items():
        if components is not None and component not in components:
            continue
        payee = f.listing_clinic if component in BILLED_TO_LISTING_CLINIC else f.clinic_id
        part = f.select(
            "kombika", "contact_id", "person_id", "date",
            payee=payee,
            performed_by=f.clinic_id,
            component=ibis.literal(component),
            product_code=code,
            decision_row=decision_row(f, book[f"{component}.decision_table"], start, end),
            period=period,
        )
        parts.append(part.filter(part.product_code.notnull()))
    if not parts:  # the component has no decision table in force this month
        parts.append(f.select("kombika", "contact_id", "person_id", "date", payee=f.clinic_id, performed_by=f.clinic_id,
                              component=ibis.literal(""), product_code=ibis.null("string"),
                              decision_row=ibis.null("string"), period=period).limit(0))
    products = ibis.union(*parts)
    prices = ibis.memtable(price_list_table(book, periods))
    j = products.left_join(prices, [products.period == prices.period, products.component == prices.component,
                                    products.product_code == prices.product_code])
    return j.select(*(products[c] for c in products.columns),
                    unit_price_ore=prices.unit_price_ore, rule=prices.rule, reference=prices.reference,
                    illustrative=prices.illustrative)


@dataclass
class VisitPass:
    """What one pass over a run of months' contacts gives: the visit lines of every month (engine
    lines with their `month`), and per month the held contacts' count, the caps' usage (when
    asked for) and the care guarantee's counts per clinic (when the contacts carry them)."""

    lines: pa.Table
    held: dict[str, int] = field(default_factory=dict)
    usage: dict[str, pa.Table] = field(default_factory=dict)
    care_guarantee: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    #: with_areas: contacts per (month, clinic_id, listing_clinic, patient_area, each component's
    #: product), the counts the analysis splits visit lines by (analysis.attribution)
    areas: pa.Table | None = None

    def merge(self, other: "VisitPass") -> "VisitPass":
        """This pass and one over other months, as one."""
        areas = None if self.areas is None or other.areas is None else pa.concat_tables([self.areas, other.areas], promote_options="default")
        return VisitPass(pa.concat_tables([self.lines, other.lines]), self.held | other.held, self.usage | other.usage,
                         self.care_guarantee | other.care_guarantee, areas)


def visit_pass(engine: Engine, book: Rulebook, contacts: ibis.Table, months: list[str], with_usage: bool = False,
               with_areas: bool = False) -> VisitPass:
    """Priced visit lines per (month, clinic, component, product, price version) for `months`
    (consecutive), from one pass over their contacts' facts.

    Every component's product is a column; the contacts are counted per (month, clinic, listing
    clinic, price period, products), and only that small table is turned into one row per
    component and priced. The caps' categories (`with_usage`), the hold codes and the care
    guarantee's counting ride along as more keys of the same count, so that a year's caps, the
    held contacts and the care-guarantee shares need no second pass over the contacts; so does the
    patient's area (`with_areas`, for the analysis: `VisitPass.areas`).
    """
    from ersattning.products.goals import care_guarantee_key

    start, end = first_day(months[0]), last_day(months[-1])
    periods = price_periods(book, start, end)
    f = contact_facts(engine, book, contacts, start, end)
    period = ibis.cases(*[((f.date >= a) & (f.date <= b), i) for i, (a, b) in enumerate(periods)], else_=-1)
    if not _in_force(f, book, start, end):  # before the first visit model in the rulebook: no visit lines
        return VisitPass(ENGINE_PRICED.empty_table())
    month = f.date.strftime("%Y-%m") if len(months) > 1 else ibis.literal(months[0])
    base = {"month": month, "clinic_id": f.clinic_id, "listing_clinic": f.listing_clinic, "period": period}
    if with_areas:
        base["patient_area"] = f.patient_area
    care = care_guarantee_key(book, f, start, end)
    if care is not None:  # it reads the contact's own dates, so it is a key of its own
        base[CARE] = care
    tables = [book[f"{c}.decision_table"] for c in visit_components(book)]
    tables += [book[name] for name in ("visit_fee.held", *(("cap_reduction.categories",) if with_usage else ()))
               if name in book]
    # The decision tables run on the distinct combinations of what they read, not on each contact.
    g = engine.cache(distinct_decisions(f, tables, start, end, base))
    codes = _in_force(g, book, start, end)
    keys = dict(codes)
    if with_usage:
        category = product_code(g, book["cap_reduction.categories"], start, end)
        if category is not None:
            keys[CAP_CATEGORY] = category
    keys[HELD] = held_code(g, book, start, end)
    counted = engine.cache(g.group_by(*base, **keys).aggregate(n=g.n.sum()))
    parts = []
    for component in codes:
        payee = counted.listing_clinic if component in BILLED_TO_LISTING_CLINIC else counted.clinic_id
        part = counted.select(
            month=counted.month, payee=payee, period=counted.period, component=ibis.literal(component),
            product_code=counted[component], n=counted.n,
        )
        parts.append(part.filter(part.product_code.notnull()))
    products = ibis.union(*parts)
    prices = ibis.memtable(price_list_table(book, periods))
    priced = products.left_join(prices, ["period", "component", "product_code"])
    grouped = priced.group_by(
        month=priced.month,
        clinic_id=priced.payee,
        component=priced.component,
        product_code=priced.product_code,
        unit_price_ore=priced.unit_price_ore,
        rule=priced.rule,
        reference=priced.reference,
        illustrative=priced.illustrative,
    ).aggregate(n=priced.n.sum())
    lines = grouped.select(
        "clinic_id",
        month="month",
        component="component",
        product_code="product_code",
        quantity=grouped.n.cast("decimal(38, 6)"),
        # Visit lines count contacts; the patients behind them are in the trace, not here.
        persons=ibis.null("int64"),
        snapshot=ibis.null("string"),
        unit_price_ore="unit_price_ore",
        unit=ibis.literal("SEK/visit"),
        divisor=ibis.literal(1, type="int64"),
        rule="rule",
        reference="reference",
        illustrative="illustrative",
        amount_ore=(grouped.n * grouped.unit_price_ore).cast("int64"),
    ).to_pyarrow()
    out = VisitPass(lines.select(ENGINE_PRICED.names).cast(ENGINE_PRICED))
    if with_areas:
        by_area = counted.group_by("month", "clinic_id", "listing_clinic", "patient_area", *codes).aggregate(n=counted.n.sum())
        out.areas = by_area.to_pyarrow()
    held = counted.filter(counted[HELD].notnull()).group_by("month").aggregate(n=counted.n.sum()).to_pyarrow()
    out.held = {m: 0 for m in months} | {m: int(n) for m, n in zip(held["month"].to_pylist(), held["n"].to_pylist())}
    if with_usage:
        usage = cap_usage(counted, codes, prices)
        out.usage = {m: usage.filter(pc.equal(usage["month"], m)).drop_columns(["month"]) for m in months}
    if care is not None:
        c = counted.filter(counted[CARE].notnull())
        agg = c.group_by("month", "clinic_id").aggregate(
            within=(c[CARE] == "within").ifelse(c.n, 0).sum(), counted=c.n.sum()).to_pyarrow()
        out.care_guarantee = {m: {} for m in months}
        for m, clinic, w, n in zip(*(agg[k].to_pylist() for k in ("month", "clinic_id", "within", "counted"))):
            out.care_guarantee[m][clinic] = (int(w), int(n))
    return out


CAP_CATEGORY = "_cap_category"
HELD = "_held"
CARE = "_care_guarantee"


def cap_usage(counted: ibis.Table, codes: dict, prices: ibis.Table) -> pa.Table:
    """Per (month, performing clinic, cap category): the month's visits counted by the yearly caps and
    the visit fees paid for them; the KVÅ reviews (category = their product) and their supplements.
    The same figures as `cap_reduction._used` on the month's contacts."""
    parts = []
    if CAP_CATEGORY in counted.columns and "visit_fee" in codes:
        v = counted.filter(counted[CAP_CATEGORY].notnull(), counted.visit_fee.notnull())
        parts.append(v.select(month=v.month, clinic_id=v.clinic_id, category=v[CAP_CATEGORY], component=ibis.literal("visit_fee"),
                              product=v.visit_fee, period=v.period, n=v.n))
    if "supplement_kva" in codes:
        k = counted.filter(counted.supplement_kva.notnull())
        parts.append(k.select(month=k.month, clinic_id=k.clinic_id, category=k.supplement_kva, component=ibis.literal("supplement_kva"),
                              product=k.supplement_kva, period=k.period, n=k.n))
    schema = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("category", pa.string()), ("visits", pa.int64()),
                        ("paid_ore", pa.int64())])
    if not parts:
        return schema.empty_table()
    rows = ibis.union(*parts)
    priced = rows.left_join(prices, [rows.period == prices.period, rows.component == prices.component, rows.product == prices.product_code])
    out = priced.group_by("month", "clinic_id", "category").aggregate(
        visits=priced.n.sum(), paid_ore=(priced.n * priced.unit_price_ore.fill_null(0)).sum())
    return out.to_pyarrow().select(schema.names).cast(schema)


#: Codes of held contacts (visit_fee.held gives them): what the clinic should do, in English and
#: Swedish (the web app shows the Swedish). A held contact is priced once its inputs are corrected.
HELD_CODES: dict[str, dict[str, str]] = {
    "no_residence_on_date": {
        "en": "The patient has no residence in the population register on the contact date (deceased, emigrated or "
              "not registered): the contact is held, not priced. Check the person number and the date in the PAS; "
              "if they are right, the region corrects the population data, and the contact is priced when the month "
              "is computed again (as an adjustment if the month is issued).",
        "sv": "Patienten saknar folkbokföring på kontaktdagen (avliden, utflyttad eller okänd): kontakten är vilande "
              "och ersätts inte. Kontrollera personnummer och datum i journalsystemet; stämmer de rättar regionen "
              "befolkningsuppgifterna, och kontakten ersätts när månaden räknas om (som en justering om månaden är "
              "utfärdad).",
    },
}

#: The facts a held contact is priced with to say what it would pay once corrected: resident in
#: the county on the date (its hold is the missing residence); the rest as the register reads it.
HELD_CORRECTED: dict[str, dict] = {"no_residence_on_date": {"resident": True, "out_of_county": False}}

HELD_SCHEMA = pa.schema([("month", pa.string()), ("clinic_id", pa.string()), ("kombika", pa.string()),
                         ("contact_id", pa.string()), ("code", pa.string())])


def held_code(f: ibis.Table, book: Rulebook, start: dt.date, end: dt.date) -> ibis.Value:
    """Each contact's hold code from `visit_fee.held` (null = not held)."""
    if "visit_fee.held" not in book:  # a stored rulebook from before holds: nothing is held
        return ibis.null("string")
    code = product_code(f, book["visit_fee.held"], start, end)
    return code if code is not None else ibis.null("string")


def held_contacts(engine: Engine, book: Rulebook, contacts: ibis.Table, month: str) -> pa.Table:
    """The month's contacts that no visit component prices until their inputs are corrected:
    (month, clinic_id owning the kombika, kombika, contact_id, code). No person number."""
    start, end = first_day(month), last_day(month)
    f = contact_facts(engine, book, contacts, start, end)
    h = f.select("clinic_id", "kombika", "contact_id", code=held_code(f, book, start, end))
    h = h.filter(h.code.notnull()).order_by(["clinic_id", "kombika", "contact_id"])
    out = h.select(month=ibis.literal(month), clinic_id=h.clinic_id, kombika=h.kombika, contact_id=h.contact_id, code=h.code)
    return out.to_pyarrow().select(HELD_SCHEMA.names).cast(HELD_SCHEMA)


def check_visit_prices(engine: Engine, book: Rulebook, contacts: ibis.Table, month: str, lines: pa.Table) -> None:
    """A visit product without a price in force is an error naming the product and the
    contacts (kombika:contact_id) it was given to: never a silent zero."""
    missing = lines.filter(pc.and_(pc.equal(lines["unit"], "SEK/visit"), pc.is_null(lines["unit_price_ore"])))
    if not len(missing):
        return
    codes = sorted(set(missing["product_code"].to_pylist()))
    # Only on this error path: the contact-level products, filtered in Arrow (DuckDB 2.0
    # fails to bind an IN pushed through this union).
    cp = contact_products(engine, book, contacts, month).to_pyarrow()
    hit = cp.filter(pc.is_in(cp["product_code"], value_set=pa.array(codes))).sort_by([("kombika", "ascending"), ("contact_id", "ascending")]).slice(0, 5)
    keys = ", ".join(f"{k}:{c}" for k, c in zip(hit["kombika"].to_pylist(), hit["contact_id"].to_pylist()))
    raise StatementError(f"no price in force for visit product(s) {', '.join(codes)} in {month}; contacts {keys}")
