"""Goal-based pay (målrelaterad ersättning, RULES.md §4; 000, 002, 003 Bilaga 2).

Monthly: the care-guarantee bonus (per listed person when the month's share of patients
assessed within 3 days meets the threshold: computed from the month's first contacts when the
contacts carry first_contact and requested_on, overridden by a share in goals.csv) and, 2015–2017, the penalty for
clinics in the named areas that run no out-of-hours clinic (närakut). Yearly, on January's
statement of the next year: the quality bonus (each met area pays its share of the year's
maximum per listed person) and the quality penalty (each failed area costs its share).
"per listed" is the month's listed count, or the average listed per month for a year.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.engine import Engine
from ersattning.lines import exact_lines
from ersattning.money import to_ore
from ersattning.period import last_day
from ersattning.rulebook.loader import Rulebook

#: goals.csv goal that exempts a clinic from the no-out-of-hours penalty for a year (1 = runs one).
OUT_OF_HOURS_GOAL = "out_of_hours_clinic"


def goals_table(engine: Engine) -> pa.Table:
    """goals.csv as Arrow (empty when the input has none)."""
    if "goals" not in engine.tables:
        return pa.table({"clinic_id": pa.array([], pa.string()), "period": pa.array([], pa.string()),
                         "goal": pa.array([], pa.string()), "value": pa.array([], pa.decimal128(18, 6))})
    g = engine["goals"]
    return g.select("clinic_id", "period", "goal", "value").to_pyarrow()


def _values(goals: pa.Table, period: str, goal: str) -> dict[str, Decimal]:
    rows = goals.filter(pc.and_(pc.equal(goals["period"], period), pc.equal(goals["goal"], goal)))
    return dict(zip(rows["clinic_id"].to_pylist(), rows["value"].to_pylist()))


def care_guarantee_key(book: Rulebook, f: ibis.Table, start: dt.date, end: dt.date) -> ibis.Value | None:
    """Each contact's part in the care guarantee (RULES.md §4), on the contact facts of start..end:
    "within" or "late" for a first contact the guarantee counts, null for any other; None when
    the contacts carry no first_contact and requested_on, or no month of the period has the rule.

    A contact counts when it is marked as a first contact (first_contact = 1), is with licensed
    staff (goal_care_guarantee.licensed_professions), reports at least one diagnosis or KVÅ code,
    and its patient is resident in Stockholm county on the date (not a reservnummer); the clinic
    is the one owning the kombika on the date. Within = date − requested_on ≤
    goal_care_guarantee.assessment_days. The rules are those at the end of the contact's month.
    The counts per clinic and month come with the visit lines' one pass (`visits.visit_pass`)."""
    if not {"first_contact", "requested_on"} <= set(f.columns):
        return None
    names = ("goal_care_guarantee.assessment_days", "goal_care_guarantee.licensed_professions")
    counted = (f.first_contact.fill_null(False) & f.requested_on.notnull() & (f.diagnoses.notnull() | f.actions.notnull())
               & f.resident & ~f.out_of_county & ~f.reservnummer)
    cases = []
    for lo, hi, (days, licensed) in book.at_month_ends(names, start, end):
        if days is None or not licensed:
            continue
        hit = (f.date >= lo) & (f.date <= hi) & counted & f.profession.isin(list(licensed))
        within = f.requested_on >= f.date - ibis.interval(days=int(days))
        cases.append((hit, ibis.ifelse(within, "within", "late")))
    return ibis.cases(*cases, else_=ibis.null("string")) if cases else None


def care_guarantee_shares(book: Rulebook, month: str, goals: pa.Table,
                          counts: dict[str, tuple[int, int]]) -> dict[str, tuple[Decimal, str]]:
    """clinic → (share, where it comes from) for `month`: goals.csv's share (an administrator's
    decision) overrides the share computed from the contacts (`counts`: clinic → (within,
    counted), as `care_guarantee_key` counts them in the visit pass)."""
    days = book.at(last_day(month)).value("goal_care_guarantee.assessment_days")
    out = {}
    for clinic, (within, counted) in counts.items():
        if counted:
            # The exact share decides; the detail shows it to four decimals.
            shown = (Decimal(within) / Decimal(counted)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            detail = (f"care-guarantee share {shown.normalize()} from the contacts {month}: {within} assessed within "
                      f"{days} days of {counted} first contacts")
            out[clinic] = (Decimal(within) / Decimal(counted), detail)
    for clinic, share in _values(goals, month, "care_guarantee_share").items():
        if share is None:
            continue
        computed = f"; the contacts give {counts[clinic][0]} within {days} days of {counts[clinic][1]}" if counts.get(clinic) else ""
        out[clinic] = (share, f"care-guarantee share {share.normalize()} (goals.csv {month}, an administrator's decision{computed})")
    return out


def monthly_goal_lines(book: Rulebook, month: str, listed: dict[str, int], clinics: pa.Table, goals: pa.Table,
                       care_counts: dict[str, tuple[int, int]]) -> pa.Table:
    """goal_care_guarantee and penalty_no_out_of_hours lines of `month`.

    `listed`: clinic → persons listed on the month's last day (those earning capitation);
    `clinics`: clinic_id, area_code of the clinics open in the month; `care_counts`: the care
    guarantee's counts from the month's contacts (`care_guarantee_shares`).
    """
    rules = book.at(last_day(month))
    records = []
    amount, threshold = rules.get("goal_care_guarantee.amount"), rules.get("goal_care_guarantee.threshold")
    if amount is not None and threshold is not None:
        for clinic, (share, source) in sorted(care_guarantee_shares(book, month, goals, care_counts).items()):
            if share < threshold.value or not listed.get(clinic):
                continue
            records.append({
                "clinic_id": clinic, "month": month, "component": "goal_care_guarantee", "product_code": book.code("goal_care_guarantee"),
                "quantity": Decimal(listed[clinic]), "divisor": 1, "unit_price_ore": to_ore(amount.value),
                "unit": "SEK/listed/month", "persons": listed[clinic],
                "rule": f"{rules.ref('goal_care_guarantee.amount')}+{rules.ref('goal_care_guarantee.threshold')}",
                "reference": amount.reference, "illustrative": bool(amount.illustrative),
                "detail": f"{source} ≥ {threshold.value}",
            })
    penalty, areas = rules.get("penalty_no_out_of_hours.amount"), rules.value("penalty_no_out_of_hours.areas")
    if penalty is not None and areas:
        exempt = _values(goals, month[:4], OUT_OF_HOURS_GOAL)
        in_areas = set(areas)
        for clinic, area in sorted(zip(clinics["clinic_id"].to_pylist(), clinics["area_code"].to_pylist())):
            if area not in in_areas or not listed.get(clinic) or (exempt.get(clinic) or 0) >= 1:
                continue
            records.append({
                "clinic_id": clinic, "month": month, "component": "penalty_no_out_of_hours", "product_code": book.code("penalty_no_out_of_hours"),
                "quantity": Decimal(listed[clinic]), "divisor": 1, "unit_price_ore": -to_ore(penalty.value),
                "unit": "SEK/listed/month", "persons": listed[clinic],
                "rule": f"{rules.ref('penalty_no_out_of_hours.amount')}+{rules.ref('penalty_no_out_of_hours.areas')}",
                "reference": penalty.reference, "illustrative": bool(penalty.illustrative),
                "detail": f"clinic in area {area} runs no out-of-hours clinic (no {OUT_OF_HOURS_GOAL} = 1 in goals.csv for {month[:4]})",
            })
    return exact_lines(records)


def yearly_goal_lines(book: Rulebook, year: int, listed: pa.Table, goals: pa.Table, month: str) -> pa.Table:
    """goal_quality and penalty_quality lines for `year`, dated `month` (January of year + 1).

    Amount = max per listed × (areas met ÷ areas) × average listed per month; kept exact
    as basis = S × areas met, divisor = 12 × areas, unit price = the maximum (S = the sum
    of the 12 month-end listed counts).
    """
    rules = book.at(dt.date(year, 12, 31))
    sums = dict(zip(listed["clinic_id"].to_pylist(), listed["listed"].to_pylist()))
    records = []
    for component, goal, sign in (("goal_quality", "quality_areas_met", 1), ("penalty_quality", "penalty_areas_failed", -1)):
        maximum, areas = rules.get(f"{component}.max_per_listed"), rules.get(f"{component}.areas")
        if maximum is None or areas is None:
            continue
        n_areas = int(areas.value)
        for clinic, count in sorted(_values(goals, str(year), goal).items()):
            s = sums.get(clinic)
            if count is None or not s or count == 0:
                continue
            counted = min(int(count), n_areas)
            records.append({
                "clinic_id": clinic, "month": month, "component": component,
                "product_code": book.code(component, year=year),
                "quantity": Decimal(s * counted), "divisor": 12 * n_areas, "unit_price_ore": sign * to_ore(maximum.value),
                "unit": "SEK/listed/year at all areas", "snapshot": str(year),
                "rule": f"{rules.ref(f'{component}.max_per_listed')}+{rules.ref(f'{component}.areas')}",
                "reference": f"{maximum.reference}; {areas.reference}", "illustrative": bool(maximum.illustrative),
                "detail": (
                    f"{year}: {counted} of {n_areas} areas {'met' if sign > 0 else 'failed'} (goals.csv); average listed "
                    f"{Decimal(s) / 12:.2f}; max {maximum.value} SEK/listed"
                ),
            })
    return exact_lines(records)
