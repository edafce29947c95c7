"""Yearly caps (ersättningstak, RULES.md §5; 003 Bilaga 2): the reconciliation in arrears.

Per clinic and calendar year: the visits its own listed patients made at the clinic, per
category, against the year's level × the average number listed per month; the pay for the
visits above the level is reduced (paid at 1 − reduction). The KVÅ supplement for in-depth
medication reviews is paid for at most level × the average number listed aged 75+. The
lines are posted on the statement of January of the next year (DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.lines import exact_lines
from ersattning.money import sek_text
from ersattning.products.facts import contact_facts
from ersattning.products.visits import CAP_CATEGORY, cap_usage, price_list_table, price_periods, product_code
from ersattning.rulebook.loader import Rulebook

#: Cap category (product of cap_reduction.categories) → its level parameter and the
#: listed population it is counted against (all listed, or listed from an age).
CATEGORIES = {
    "CAP_DOCTOR": ("cap_reduction.doctor_visits_per_listed", None),
    "CAP_NURSE": ("cap_reduction.nurse_visits_per_listed", None),
    "CAP_PSYCHOSOCIAL": ("cap_reduction.psychosocial_visits_per_listed", None),
    "CAP_HOME_CARE": ("cap_reduction.home_care_visits_per_listed_65", "cap_reduction.home_care_min_age"),
}
KVA_PRODUCT = "SUP_KVA_XV016"


def cap_rules_in_force(book: Rulebook, year: int) -> bool:
    """Whether any visit cap or the KVÅ cap holds in `year`."""
    rules = book.at(dt.date(year, 12, 31))
    visit_caps = rules.get("cap_reduction.reduction") is not None and any(rules.get(n) is not None for n, _ in CATEGORIES.values())
    return visit_caps or rules.get("cap_reduction.kva_medication_review_per_listed_75") is not None


def min_ages(book: Rulebook, year: int) -> dict[str, int]:
    """The ages from which listed persons count in the caps' denominators in `year`."""
    rules = book.at(dt.date(year, 12, 31))
    ages = {}
    for code, (name, age_param) in CATEGORIES.items():
        if age_param and rules.get(name) is not None:
            ages[code] = int(rules.value(age_param))
    if rules.get("cap_reduction.kva_medication_review_per_listed_75") is not None:
        ages["kva"] = int(rules.value("cap_reduction.kva_min_age"))
    return ages


def cap_lines(engine: Engine, book: Rulebook, year: int, contacts: ibis.Table | None, listed: pa.Table, month: str,
              used: pa.Table | None = None) -> pa.Table:
    """The `cap_reduction` lines for `year`, dated `month` (January of year + 1).

    `listed` is `listed_in_year(engine, year, min_ages(book, year))` as Arrow; `used`, when
    given, the year's visit counts and fees per clinic and category (`usage_of_months`),
    otherwise they are counted from the year's contacts.
    """
    end = dt.date(year, 12, 31)
    rules = book.at(end)
    reduction = rules.value("cap_reduction.reduction")
    levels = {code: (name, age) for code, (name, age) in CATEGORIES.items() if rules.get(name) is not None}
    kva_level = rules.get("cap_reduction.kva_medication_review_per_listed_75")
    if contacts is None or (not (levels and reduction) and kva_level is None):
        return exact_lines([])
    used = _used(engine, book, contacts, year) if used is None else used
    listed_by = {r["clinic_id"]: r for r in listed.to_pylist()}
    records = []
    for r in used.to_pylist():  # per (clinic, category): a few rows per clinic
        sums = listed_by.get(r["clinic_id"])
        if sums is None:
            continue
        code = r["category"]
        if code == KVA_PRODUCT:
            if kva_level is not None:
                records += _kva_record(r, sums["listed_kva"], kva_level, rules, month)
        elif code in levels and reduction:
            name, age_param = levels[code]
            denominator = sums[f"listed_{code}"] if age_param else sums["listed"]
            records += _cap_record(r, denominator, rules.get(name), name, reduction, rules, month)
    return exact_lines(records)


def _cap_record(r: dict, listed_sum: int, level, level_name: str, reduction: Decimal, rules, month: str) -> list[dict]:
    """Visits above level × average listed are paid at (1 − reduction).

    Reduction = reduction × (visits − level × S/12) / visits × (the year's fees for these
    visits), S the sum of the month-end listed counts; kept exact as basis / divisor with
    basis = reduction × (12 × visits − level × S) and divisor = 12 × visits.
    """
    visits, paid = r["visits"], r["paid_ore"]
    allowed12 = level.value * listed_sum  # 12 × the allowed number of visits
    excess12 = 12 * visits - allowed12
    if visits == 0 or excess12 <= 0:
        return []
    return [{
        "clinic_id": r["clinic_id"], "month": month, "component": "cap_reduction",
        "product_code": f"{r['category']}_{r['year']}",
        "quantity": reduction * excess12, "divisor": 12 * visits, "unit_price_ore": -paid,
        "unit": "share of the year's fees for these visits", "persons": None, "snapshot": str(r["year"]),
        "rule": f"{rules.ref(level_name)}+{rules.ref('cap_reduction.reduction')}+cap_reduction.categories",
        "reference": f"{level.reference}; {rules.get('cap_reduction.reduction').reference}",
        "illustrative": bool(level.illustrative),
        "detail": (
            f"{r['year']}: {visits} visits, average listed {_avg(listed_sum)}, level {level.value}/listed = "
            f"{_avg(allowed12)} visits, excess {_avg(excess12)} visits; fees for the visits {sek_text(paid)} SEK, "
            f"excess paid at {1 - reduction:.0%}"
        ),
    }]


def _kva_record(r: dict, listed75_sum: int, level, rules, month: str) -> list[dict]:
    """KVÅ reviews above level × average listed 75+ are not paid: −(excess / reviews) × the year's KVÅ pay."""
    reviews, paid = r["visits"], r["paid_ore"]
    allowed12 = level.value * listed75_sum
    excess12 = 12 * reviews - allowed12
    if reviews == 0 or excess12 <= 0:
        return []
    name = "cap_reduction.kva_medication_review_per_listed_75"
    return [{
        "clinic_id": r["clinic_id"], "month": month, "component": "cap_reduction",
        "product_code": f"CAP_KVA_{r['year']}",
        "quantity": Decimal(excess12), "divisor": 12 * reviews, "unit_price_ore": -paid,
        "unit": "share of the year's KVÅ supplements", "persons": None, "snapshot": str(r["year"]),
        "rule": f"{rules.ref(name)}+{rules.ref('cap_reduction.kva_min_age')}",
        "reference": level.reference, "illustrative": bool(level.illustrative),
        "detail": (
            f"{r['year']}: {reviews} reviews (XV016), average listed 75+ {_avg(listed75_sum)}, level {level.value}/listed 75+ = "
            f"{_avg(allowed12)}, excess {_avg(excess12)}; supplements paid {sek_text(paid)} SEK"
        ),
    }]


def _avg(twelfths) -> str:
    """A sum of 12 monthly figures as the monthly average, for the line's detail text."""
    return f"{Decimal(twelfths) / 12:.2f}"


def usage_of_months(months: list[pa.Table], year: int) -> pa.Table:
    """The year's caps usage from its months' (visits.cap_usage): summed per clinic and category."""
    allm = pa.concat_tables(months)
    agg = allm.group_by(["clinic_id", "category"]).aggregate([("visits", "sum"), ("paid_ore", "sum")])
    agg = agg.rename_columns(["clinic_id", "category", "visits", "paid_ore"])
    agg = agg.append_column("year", pa.array([year] * len(agg), pa.int32()))
    return agg.sort_by([("clinic_id", "ascending"), ("category", "ascending")])


def _used(engine: Engine, book: Rulebook, contacts: ibis.Table, year: int) -> pa.Table:
    """Per (clinic, category): the year's counted visits and the visit fees paid for them;
    and per clinic the KVÅ reviews (category SUP_KVA_XV016) and their supplements. Counted
    from the year's contacts with the same aggregation as a month's (`visits.cap_usage`)."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    f = contact_facts(engine, book, contacts, start, end)
    periods = price_periods(book, start, end)
    period = ibis.cases(*[((f.date >= a) & (f.date <= b), i) for i, (a, b) in enumerate(periods)], else_=-1)
    codes = {c: product_code(f, book[f"{c}.decision_table"], start, end) for c in ("visit_fee", "supplement_kva")}
    codes = {c: code for c, code in codes.items() if code is not None}
    category = product_code(f, book["cap_reduction.categories"], start, end)
    keys = {**codes, CAP_CATEGORY: category} if category is not None else codes
    counted = f.group_by(month=ibis.literal(str(year)), clinic_id=f.clinic_id, period=period, **keys).aggregate(n=f.count())
    usage = cap_usage(counted, codes, ibis.memtable(price_list_table(book, periods)))
    return usage_of_months([usage.drop_columns(["month"])], year)
