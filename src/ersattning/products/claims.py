"""Claims from master data: the clinic's share of the medical service it ordered (003 Bilaga 1;
000) and the requisition drugs it invoices (000), as lines per clinic, month and category or drug.

Each order or requisition is priced by the rule values in force on its own date (`date`);
orders are summed exactly per clinic, month, category and rule version, and the share (or the
unit price) is applied once to the sum, rounded once, half away from zero (`exact_lines`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.errors import StatementError
from ersattning.lines import exact_lines
from ersattning.money import to_ore
from ersattning.period import first_day, last_day
from ersattning.rulebook.loader import Rulebook

#: The medical-service categories (003 Bilaga 1) and their product codes (rules/medical_service).
CATEGORIES = {"region_pays": "MEDICAL_SERVICE_REGION", "shared": "MEDICAL_SERVICE_SHARED", "clinic_pays": "MEDICAL_SERVICE_CLINIC"}
#: Each category's code list and the clinic's share of its cost (parameters of rules/medical_service).
_PARAMETERS = {
    "region_pays": ("medical_service.region_pays_codes", "medical_service.region_pays_clinic_share"),
    "shared": ("medical_service.shared_codes", "medical_service.shared_clinic_share"),
    "clinic_pays": ("medical_service.clinic_pays_codes", "medical_service.clinic_pays_clinic_share"),
}
_END = dt.date(9999, 12, 31)


def _intervals(params) -> list[tuple[dt.date, dt.date]]:
    """The intervals over which none of `params` changes: (first day, last day)."""
    starts = sorted({v.start for p in params for v in p.values})
    ends = [s - dt.timedelta(days=1) for s in starts[1:]] + [_END]
    return list(zip(starts, ends))


def _rule(*values) -> tuple[str, str, bool]:
    """(rule, reference, illustrative) of (parameter name, Value) pairs."""
    return ("+".join(f"{n}@{v.start.isoformat()}" for n, v in values),
            "; ".join(dict.fromkeys(v.reference for _, v in values)),
            any(v.illustrative for _, v in values))


def medical_service_rules(book: Rulebook) -> pa.Table:
    """service_code → category, the clinic's share in öre per SEK of cost and the rule behind it,
    per interval over which the lists and shares hold (valid_from, valid_to)."""
    params = [book[name] for names in _PARAMETERS.values() for name in names]
    rows = []
    for start, end in _intervals(params):
        for category in CATEGORIES:
            codes_name, share_name = _PARAMETERS[category]
            codes, share = book[codes_name].at(start), book[share_name].at(start)
            if codes is None or codes.value is None or share is None or share.value is None:
                continue
            per_sek = Decimal(share.value) * 100  # öre the clinic bears per SEK of cost
            if per_sek != per_sek.to_integral_value() or not 0 <= share.value <= 1:
                raise StatementError(f"{share_name}@{share.start}: a share between 0 and 1 in whole percent, got {share.value}")
            rule, reference, illustrative = _rule((share_name, share), (codes_name, codes))
            rows += [{"service_code": code, "category": category, "valid_from": start, "valid_to": end,
                      "price_ore": -int(per_sek), "rule": rule, "reference": reference, "illustrative": illustrative}
                     for code in codes.value]
    seen: dict = {}
    for r in rows:  # a code in two categories at once would be borne twice
        other = seen.setdefault((r["service_code"], r["valid_from"]), r["category"])
        if other != r["category"]:
            raise StatementError(f"service code {r['service_code']} is in both medical_service.{other}_codes and "
                                 f"medical_service.{r['category']}_codes on {r['valid_from']}: keep it in one")
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("service_code", pa.string()), ("category", pa.string()), ("valid_from", pa.date32()), ("valid_to", pa.date32()),
        ("price_ore", pa.int64()), ("rule", pa.string()), ("reference", pa.string()), ("illustrative", pa.bool_())]))


def drug_rules(book: Rulebook) -> pa.Table:
    """drug_code → price per unit in öre and the rule behind it, per interval of the drug list."""
    name = "requisition_drugs.prices"
    param = book[name]
    rows = []
    for start, end in _intervals([param]):
        v = param.at(start)
        if v is None or v.value is None:
            continue
        rule, reference, illustrative = _rule((name, v))
        rows += [{"drug_code": code, "valid_from": start, "valid_to": end, "price_ore": to_ore(price),
                  "rule": rule, "reference": reference, "illustrative": illustrative} for code, price in v.value.items()]
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("drug_code", pa.string()), ("valid_from", pa.date32()), ("valid_to", pa.date32()), ("price_ore", pa.int64()),
        ("rule", pa.string()), ("reference", pa.string()), ("illustrative", pa.bool_())]))


def _priced_rows(engine: Engine, table: str, code: str, rules: pa.Table, month: str | list[str]) -> ibis.Table | None:
    """The rows of `table` dated in `month` (or consecutive months), each joined to the rule
    values in force on its date, with the `month` it is dated in."""
    if table not in engine.tables:
        return None
    months = [month] if isinstance(month, str) else list(month)
    rows = engine[table]
    start, end = first_day(months[0]), last_day(months[-1])
    rows = rows.filter(rows.date >= start, rows.date <= end)
    rows = rows.mutate(month=rows.date.strftime("%Y-%m") if len(months) > 1 else ibis.literal(months[0]))
    r = ibis.memtable(rules)
    return rows.join(r, [rows[code] == r[code], rows.date >= r.valid_from, rows.date <= r.valid_to])


def orders_behind(engine: Engine, book: Rulebook, month: str | list[str]) -> ibis.Table | None:
    """medical_service rows of `month` with their category, share and rule (the trace reads these)."""
    return _priced_rows(engine, "medical_service", "service_code", medical_service_rules(book), month)


def requisitions_behind(engine: Engine, book: Rulebook, month: str | list[str]) -> ibis.Table | None:
    """requisitions rows of `month` with their unit price and rule (the trace reads these)."""
    return _priced_rows(engine, "requisitions", "drug_code", drug_rules(book), month)


def medical_service_lines(engine: Engine, book: Rulebook, month: str | list[str]) -> pa.Table:
    """medical_service lines of `month` (or consecutive months, one query): per month, clinic, category and rule version, the orders' cost in SEK
    (exact sum) × the clinic's share (öre per SEK, negative: a cost the clinic bears), rounded
    once. A category whose clinic share is 0 (the region bears all) gives no line."""
    joined = orders_behind(engine, book, month)
    if joined is None:
        return exact_lines([])
    borne = joined.filter(joined.price_ore != 0)
    agg = (borne.group_by(["month", "clinic_id", "category", "price_ore", "rule", "reference", "illustrative"])
           .aggregate(cost=borne.cost_sek.sum(), orders=borne.count())).to_pyarrow()
    records = [{
        "clinic_id": r["clinic_id"], "month": r["month"], "component": "medical_service",
        "product_code": CATEGORIES[r["category"]], "quantity": r["cost"], "divisor": 1,
        "unit_price_ore": r["price_ore"], "unit": "SEK/SEK cost", "rule": r["rule"], "reference": r["reference"],
        "illustrative": r["illustrative"],
        "detail": f"{r['orders']} order{'s' if r['orders'] != 1 else ''} ({r['category']}): the clinic bears "
                  f"{-r['price_ore']} % of their cost",
    } for r in agg.to_pylist()]
    return exact_lines(records)


def requisition_lines(engine: Engine, book: Rulebook, month: str | list[str]) -> pa.Table:
    """requisition_drugs lines of `month` (or consecutive months, one query): per month, clinic, drug and rule version, the units requisitioned
    (exact sum) × the price per unit, rounded once; paid to the clinic (000: it invoices them)."""
    joined = requisitions_behind(engine, book, month)
    if joined is None:
        return exact_lines([])
    agg = (joined.group_by(["month", "clinic_id", "drug_code", "price_ore", "rule", "reference", "illustrative"])
           .aggregate(units=joined.quantity.sum(), rows=joined.count())).to_pyarrow()
    component = book.component("requisition_drugs")
    records = [{
        "clinic_id": r["clinic_id"], "month": r["month"], "component": "requisition_drugs",
        "product_code": component.code(drug_code=r["drug_code"]), "quantity": r["units"], "divisor": 1,
        "unit_price_ore": r["price_ore"], "unit": "SEK/unit", "rule": r["rule"], "reference": r["reference"],
        "illustrative": r["illustrative"],
        "detail": f"{r['rows']} requisition row{'s' if r['rows'] != 1 else ''} of {r['drug_code']}",
    } for r in agg.to_pylist()]
    return exact_lines(records)
