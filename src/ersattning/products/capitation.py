"""Capitation product rows for one month (RULES.md §2; seeds 000 and 003 Bilaga 2).

Persons listed on the month's last day, resident in Stockholm county on that day and
not on a reservnummer, pay by age band, ACG weight, CNI, on-call, sick-leave coordination
(16–68); persons enrolled in basic home care pay the home-care amount; the children's
mental-health supplement counts listed 6–17 at the half-year snapshot, for the provider
that holds the assignment (own and affiliated clinics' children).
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.period import first_day, half_year_snapshot, last_day
from ersattning.region import county_resident
from ersattning.rulebook.loader import Rulebook

QUANTITY = "decimal(38, 6)"
CHILD_MH_ASSIGNMENT = "psy_child_320"


def _covers(t: ibis.Table, date: dt.date):
    """Rows whose [valid_from, valid_to] interval (empty = open) holds `date`."""
    return (t.valid_from.isnull() | (t.valid_from <= date)) & (t.valid_to.isnull() | (t.valid_to >= date))


def age_on(birth_date, date: dt.date | ibis.Value):
    """Whole years completed on `date`, a fixed date or a date column (a birthday on the date itself counts)."""
    on = ibis.literal(date) if isinstance(date, dt.date) else date
    not_yet = (birth_date.month() * 100 + birth_date.day()) > (on.month() * 100 + on.day())
    return (on.year() - birth_date.year() - ibis.ifelse(not_yet, 1, 0)).cast("int32")


def _born_in_ages(birth_date, date: dt.date, ages: tuple[int, int | None]):
    """Birth dates of persons whose age on `date` is within `ages` (a bound, not a filter on age)."""
    lo, hi = ages
    cond = birth_date <= _years_before(date, lo)
    if hi is not None:
        cond &= birth_date > _years_before(date, hi + 1)
    return cond


def _years_before(date: dt.date, years: int) -> dt.date:
    try:
        return date.replace(year=date.year - years)
    except ValueError:  # 29 February in a year that has none: the birthday falls on 1 March
        return date.replace(year=date.year - years, month=3, day=1) - dt.timedelta(days=1)


def residents(engine: Engine, date: dt.date, ages: tuple[int, int | None] | None = None) -> ibis.Table:
    """Persons who may earn capitation on `date`: resident in the county, not on a reservnummer.

    Out-of-county persons get no capitation even if they list (seed 000); a reservnummer
    is not a personnummer and its holder's county is unknown (RULES.md §8). `ages` narrows
    the scan to those aged within the range on `date` (through their birth dates).
    """
    p = engine["persons"]
    conditions = [_covers(p, date), county_resident(p)]
    if ages is not None:
        conditions.append(_born_in_ages(p.birth_date, date, ages))
    return p.filter(*conditions).select("person_id", "birth_date")


def listed_on(engine: Engine, date: dt.date, ages: tuple[int, int | None] | None = None, resident: ibis.Table | None = None) -> ibis.Table:
    """(person_id, clinic_id, age) of persons listed on `date` who may earn capitation."""
    li = engine["listings"]
    listed = li.filter(_covers(li, date)).select("person_id", "clinic_id")
    r = resident if resident is not None else residents(engine, date, ages)
    j = listed.join(r, "person_id")
    return j.select("person_id", "clinic_id", age=age_on(j.birth_date, date))


def risk_intervals(engine: Engine) -> ibis.Table:
    """The risk table as intervals: each row holds from its month until the person's next row."""
    r = engine["risk"]
    w = ibis.window(group_by=r.person_id, order_by=r.month)
    return r.select("person_id", "acg_weight", "cni", month_from=r.month, month_to=r.month.lead().over(w))


def risk_as_of(engine: Engine, month: str) -> ibis.Table:
    """Each person's ACG weight and CNI in force in `month`: their latest risk row at or before it.

    Within a year's run (`statements.compute_year`) the risk table is shared as intervals and a
    month is a filter on them, the same rows as the arg-max below.
    """
    iv = engine.shared.get("risk_intervals")
    if iv is not None:
        hit = iv.filter(iv.month_from <= month, iv.month_to.isnull() | (iv.month_to > month))
        return hit.select("person_id", "acg_weight", "cni")
    r = engine["risk"]
    upto = r.filter(r.month <= month)
    # One pass: the values on each person's latest row (arg_max by month; months are unique per person).
    return upto.group_by("person_id").aggregate(acg_weight=upto.acg_weight.argmax(upto.month), cni=upto.cni.argmax(upto.month))


def _rows(t: ibis.Table, component: str, code, quantity, month: str, snapshot: dt.date) -> ibis.Table:
    return t.select(
        clinic_id=t.clinic_id,
        month=ibis.literal(month),
        component=ibis.literal(component),
        product_code=code if isinstance(code, ibis.Expr) else ibis.literal(code),
        quantity=quantity.cast(QUANTITY),
        persons=t.persons.cast("int64"),
        snapshot=ibis.literal(snapshot.isoformat()),
    )


def _in_range(age, age_range):
    lo, hi = age_range
    return (age >= lo) if hi is None else ((age >= lo) & (age <= hi))


def capitation_rows(engine: Engine, book: Rulebook, month: str) -> ibis.Table:
    """All capitation product rows of `month` as one table (quantity = persons or weight sums)."""
    d = last_day(month)
    rules = book.at(d)
    parts: list[ibis.Table] = []

    # One pass over the listed persons: per clinic and age band, the persons, their ACG and
    # CNI sums and the sick-leave ages; every per-listed item is cut from this small table.
    listed = listed_on(engine, d)
    bands = rules.value("capitation_age.amounts")
    band = ibis.cases(*[(_in_range(listed.age, (lo, hi)), book.component("capitation_age").band_code(lo, hi)) for lo, hi, _ in bands]) if bands else ibis.literal("")
    sick_ages = rules.value("capitation_sick_leave_coordination.ages")
    sick = _in_range(listed.age, sick_ages) if sick_ages else ibis.literal(False)
    listed = listed.mutate(band=band, sick=sick.ifelse(1, 0))
    with_risk = listed.left_join(risk_as_of(engine, month), "person_id")
    per_band = engine.cache(
        with_risk.group_by(clinic_id=with_risk.clinic_id, product_code=with_risk.band).aggregate(
            persons=with_risk.count(),
            acg=with_risk.acg_weight.sum(),
            cni=with_risk.cni.sum(),
            sick=with_risk.sick.sum(),
        )
    )
    if bands:
        parts.append(_rows(per_band, "capitation_age", per_band.product_code, per_band.persons, month, d))
    per_clinic = per_band.group_by("clinic_id").aggregate(
        persons=per_band.persons.sum(), acg=per_band.acg.sum(), cni=per_band.cni.sum(), sick=per_band.sick.sum()
    )
    if rules.get("capitation_acg.rate"):
        parts.append(_rows(per_clinic, "capitation_acg", book.code("capitation_acg"), per_clinic.acg.fill_null(0), month, d))
    if rules.get("capitation_cni.rate"):
        parts.append(_rows(per_clinic, "capitation_cni", book.code("capitation_cni"), per_clinic.cni.fill_null(0), month, d))
    if rules.get("capitation_on_call.amount"):
        parts.append(_rows(per_clinic, "capitation_on_call", book.code("capitation_on_call"), per_clinic.persons, month, d))
    if rules.get("capitation_sick_leave_coordination.amount"):
        sick = per_clinic.filter(per_clinic.sick > 0).mutate(persons=per_clinic.sick)
        parts.append(_rows(sick, "capitation_sick_leave_coordination", book.code("capitation_sick_leave_coordination"), sick.sick, month, d))

    if rules.get("capitation_home_care.amount"):
        hc = engine["home_care"]
        enrolled = hc.filter(_covers(hc, d)).select("person_id", "clinic_id").distinct()
        enrolled = enrolled.join(residents(engine, d), "person_id")
        agg = enrolled.group_by("clinic_id").aggregate(persons=enrolled.count())
        parts.append(_rows(agg, "capitation_home_care", book.code("capitation_home_care"), agg.persons, month, d))

    child = rules.get("capitation_child_mental_health.amount")
    if child:
        parts.append(_child_mental_health(engine, book, month, d))

    if not parts:
        return _empty(engine)
    return ibis.union(*parts)


def child_snapshot(book: Rulebook, month: str) -> dt.date:
    """The listing snapshot behind `month`'s children's mental-health supplement.

    30 Nov pays Jan–Jun, 31 May pays Jul–Dec (seed 000). A snapshot from before the
    assignment started is replaced by the day before its start: the first snapshot
    (2021-11-30) also pays December 2021 (RULES.md §2 reading).
    """
    snap = half_year_snapshot(month)
    start = book["capitation_child_mental_health.amount"].values[0].start
    if snap < start <= first_day(month):
        snap = start - dt.timedelta(days=1)
    return snap


def _child_mental_health(engine: Engine, book: Rulebook, month: str, d: dt.date) -> ibis.Table:
    snap = child_snapshot(book, month)
    ages = book.at(d).value("capitation_child_mental_health.ages")
    kids = listed_on(engine, snap, ages=ages)
    per_clinic = kids.group_by("clinic_id").aggregate(persons=kids.count())

    # Who holds the assignment in the paid month: a clinic with its own 320 kombika; a
    # clinic that handed the assignment over (affiliation) is paid to its provider.
    k = engine["kombika"]
    providers = k.filter(_covers(k, d), k.assignment == CHILD_MH_ASSIGNMENT).select(provider_id=k.clinic_id).distinct()
    a = engine["affiliations"]
    handed = a.filter(_covers(a, d), a.assignment == CHILD_MH_ASSIGNMENT).select(
        from_clinic=a.clinic_id, provider=a.provider_clinic_id
    ).distinct()
    routed = per_clinic.join(handed, per_clinic.clinic_id == handed.from_clinic, how="left")
    routed = routed.select(payee=ibis.coalesce(routed.provider, routed.clinic_id), persons=routed.persons)
    paid = routed.filter(routed.payee.isin(providers.provider_id))
    agg = paid.group_by(clinic_id=paid.payee).aggregate(persons=paid.persons.sum())
    return _rows(agg, "capitation_child_mental_health", book.code("capitation_child_mental_health"), agg.persons, month, snap)


def _empty(engine: Engine) -> ibis.Table:
    c = engine["clinics"]
    return _rows(
        c.select("clinic_id", persons=ibis.literal(0)).limit(0),
        "capitation_age",
        "none",
        ibis.literal(0),
        "0000-00",
        dt.date(1970, 1, 1),
    )


def listed_in_year(engine: Engine, year: int, min_ages: dict[str, int] | None = None) -> ibis.Table:
    """Per clinic, the sum over the year's 12 month ends of the persons listed who earn
    capitation (`listed`), and of those aged at least each of `min_ages` (`listed_<name>`).

    Divided by 12 this is the average number listed per month, the denominator of the
    yearly caps and of the per-listed goal items (003 Bilaga 2). One interval join of the
    listings and residences with the 12 month ends (the same rule as `listed_on`), not
    twelve passes over the listings.
    """
    from ersattning.period import months_of

    ends = ibis.memtable(pa.table({"d": pa.array([last_day(m) for m in months_of(year)], pa.date32())}))
    li = engine["listings"]
    li = li.filter(li.valid_from.isnull() | (li.valid_from <= dt.date(year, 12, 31)), li.valid_to.isnull() | (li.valid_to >= dt.date(year, 1, 31)))
    p = engine["persons"]
    p = p.filter(county_resident(p)).select(
        r_pid=p.person_id, r_from=p.valid_from, r_to=p.valid_to, birth_date=p.birth_date)
    lp = li.join(p, li.person_id == p.r_pid).select(
        "clinic_id", "birth_date",
        start=ibis.greatest(li.valid_from.fill_null(dt.date(1, 1, 1)), p.r_from.fill_null(dt.date(1, 1, 1))),
        end=ibis.least(li.valid_to.fill_null(dt.date(9999, 12, 31)), p.r_to.fill_null(dt.date(9999, 12, 31))),
    ).view()  # a new relation: the month-end join below is not part of the join chain above
    at = lp.join(ends, [lp.start <= ends.d, lp.end >= ends.d])
    at = at.select("clinic_id", age=age_on(at.birth_date, at.d))
    sums = {"listed": at.count()}
    for name, age in (min_ages or {}).items():
        sums[f"listed_{name}"] = (at.age >= age).ifelse(1, 0).sum()
    return at.group_by("clinic_id").aggregate(**sums)
