"""Capitation product rows for one month (RULES.md §2; seeds 000 and 003 Bilaga 2).

Persons listed on the month's last day, resident in Stockholm county on that day and
not on a reservnummer, pay by age band, ACG weight, CNI, on-call, sick-leave coordination
(16–68), and in 2015 born abroad and competence development; persons enrolled in basic
home care pay the home-care amount; the children's
mental-health supplement counts listed 6–17 at the half-year snapshot, for the provider
that holds the assignment (own and affiliated clinics' children).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pyarrow as pa

from ersattning.engine import Engine
from ersattning.period import first_day, half_year_snapshot, last_day, next_month
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
    the scan to those aged within the range on `date` (through their birth dates). With their
    area of residence (the analysis splits pay by it) and `born_abroad` (0 or 1: the 2015 item;
    absent or empty in the input counts 0, as does a database stored before the column existed).
    """
    p = engine["persons"]
    conditions = [_covers(p, date), county_resident(p)]
    if ages is not None:
        conditions.append(_born_in_ages(p.birth_date, date, ages))
    p = p.filter(*conditions)
    abroad = p.born_abroad.fill_null(0) if "born_abroad" in p.columns else ibis.literal(0)
    return p.select("person_id", "birth_date", "area_code", born_abroad=abroad.cast("int8"))


def listed_on(engine: Engine, date: dt.date, ages: tuple[int, int | None] | None = None, resident: ibis.Table | None = None) -> ibis.Table:
    """(person_id, clinic_id, age, born_abroad) of persons listed on `date` who may earn capitation."""
    li = engine["listings"]
    listed = li.filter(_covers(li, date)).select("person_id", "clinic_id")
    r = resident if resident is not None else residents(engine, date, ages)
    j = listed.join(r, "person_id")
    return j.select("person_id", "clinic_id", "born_abroad", age=age_on(j.birth_date, date))


#: A month number after any month (an open interval's end).
_NO_END = 10**7


def _month_number(month) -> ibis.Value:
    """'YYYY-MM' as year × 12 + month − 1."""
    return (month.substr(0, 4).cast("int64") * 12 + month.substr(5, 2).cast("int64") - 1)


def risk_timeline(engine: Engine, first_month: str, last_month: str) -> ibis.Table:
    """(person_id, acg_weight, cni, r0, r1): each person's risk values in force over the months
    first_month..last_month, as runs of month numbers (inclusive; RULES.md §2: the latest row at
    or before the month is in force). The row in force in the first month is one aggregate (no
    sort of the whole table); the few rows dated later each hold until the month before the
    person's next one; before a person's first row, a run with no values."""
    r = engine["risk"]
    upto = r.filter(r.month <= first_month)
    base = upto.group_by("person_id").aggregate(acg_weight=upto.acg_weight.argmax(upto.month), cni=upto.cni.argmax(upto.month))
    later = r.filter(r.month > first_month, r.month <= last_month)
    w = ibis.window(group_by=later.person_id, order_by=later.month)
    nxt = later.month.lead().over(w)
    later_runs = later.select("person_id", "acg_weight", "cni", r0=_month_number(later.month),
                              r1=ibis.ifelse(nxt.isnull(), _NO_END, _month_number(nxt) - 1))
    first = later.group_by(f_pid=later.person_id).aggregate(first=later.month.min())
    b = base.left_join(first, base.person_id == first.f_pid)
    base_runs = b.select(base.person_id, base.acg_weight, base.cni, r0=ibis.literal(0, type="int64"),
                         r1=ibis.ifelse(b.first.isnull(), _NO_END, _month_number(b.first) - 1))
    new = first.anti_join(base, first.f_pid == base.person_id)
    before = new.select(person_id=new.f_pid, acg_weight=ibis.null(r.acg_weight.type()), cni=ibis.null(r.cni.type()),
                        r0=ibis.literal(0, type="int64"), r1=_month_number(new.first) - 1)
    cols = ["person_id", "acg_weight", "cni", "r0", "r1"]
    return ibis.union(base_runs.select(cols), later_runs.select(cols), before.select(cols))


def _rows(t: ibis.Table, component: str, code, quantity, month: ibis.Value, snapshot: ibis.Value) -> ibis.Table:
    return t.select(
        clinic_id=t.clinic_id,
        month=month,
        component=ibis.literal(component),
        product_code=code if isinstance(code, ibis.Expr) else ibis.literal(code),
        quantity=quantity.cast(QUANTITY),
        persons=t.persons.cast("int64"),
        snapshot=snapshot,
    )


def _in_range(age, age_range):
    lo, hi = age_range
    return (age >= lo) if hi is None else ((age >= lo) & (age <= hi))


@dataclass(frozen=True)
class PerListed:
    """A capitation component counted per listed person: its product (`by_band`: the person's
    age band; else the one code its declaration gives), what each person adds to its basis (`contribution`: a column of
    `listed_units`, `persons` for one each) and the 0/1 column a person must have (`only`)."""

    by_band: bool
    contribution: str
    only: str | None = None
    #: the rulebook parameter whose value in force makes the component paid
    paid_if: str = ""

    def __post_init__(self):
        if self.only and self.contribution != "persons":  # the per-band sums hold no such restricted sum
            raise ValueError("a component counted on `only` persons adds one per person")


#: The per-listed components: the rows behind a line (`capitation_units`) and the line's
#: quantity (`capitation_rows`) are read from these, so the trace shows what paid.
PER_LISTED = {
    "capitation_age": PerListed(True, "persons", paid_if="capitation_age.amounts"),
    "capitation_acg": PerListed(False, "acg_weight", paid_if="capitation_acg.rate"),
    "capitation_cni": PerListed(False, "cni", paid_if="capitation_cni.rate"),
    "capitation_on_call": PerListed(False, "persons", paid_if="capitation_on_call.amount"),
    "capitation_sick_leave_coordination": PerListed(False, "persons", only="sick",
                                                    paid_if="capitation_sick_leave_coordination.amount"),
    # 2015 only (003 Bilaga 2): per listed person born abroad, and per listed person.
    "capitation_born_abroad": PerListed(False, "persons", only="born_abroad", paid_if="capitation_born_abroad.amount"),
    "capitation_competence_development": PerListed(False, "persons", paid_if="capitation_competence_development.amount"),
}


def _months(month: str | list[str]) -> list[str]:
    return [month] if isinstance(month, str) else list(month)


def month_ends(months: list[str]) -> ibis.Table:
    """(month, d, snapshot, m_index): each month with its last day, the day its capitation counts
    on, and its number (year × 12 + month − 1)."""
    days = [last_day(m) for m in months]
    return ibis.memtable(pa.table({"month": pa.array(months, pa.string()), "d": pa.array(days, pa.date32()),
                                   "snapshot": pa.array([d.isoformat() for d in days], pa.string()),
                                   "m_index": pa.array([d.year * 12 + d.month - 1 for d in days], pa.int64())}))


def _month_index(d) -> ibis.Value:
    """A date's month as year × 12 + month − 1 (`month_ends`' m_index)."""
    return d.year() * 12 + d.month() - 1


def _month_runs(spells: ibis.Table, months: list[str]) -> ibis.Table:
    """`spells` (with `start` and `end` dates, inclusive) with `_i0` and `_i1`: the first and last
    number (`month_ends`' m_index) of the month-ends of `months` (consecutive) they hold; only
    spells holding at least one. The first month-end at or after start is start's own month's;
    the last at or before end is end's month's when end is its month's last day, else the one before."""
    first, last = first_day(months[0]), last_day(months[-1])
    start = ibis.greatest(spells.start, ibis.literal(first))
    end = ibis.least(spells.end, ibis.literal(last))
    is_month_end = (end + ibis.interval(days=1)).day() == 1
    i0 = _month_index(start).cast("int64")
    i1 = (_month_index(end) - ibis.ifelse(is_month_end, 0, 1)).cast("int64")
    held = spells.mutate(_i0=i0, _i1=i1)
    return held.filter(held._i0 <= held._i1)


def _unnest_months(t: ibis.Table, lo: ibis.Value, hi: ibis.Value, months: list[str]) -> ibis.Table:
    """Each row of `t` once per month number lo..hi, joined with those months' `month_ends`."""
    ends = month_ends(months)
    rows = t.mutate(m_index=ibis.range(lo, hi + 1).unnest())
    return rows.join(ends, "m_index").drop("m_index")


def at_month_ends(spells: ibis.Table, months: list[str]) -> ibis.Table:
    """`spells` (with `start` and `end` dates, inclusive) × the last days of `months` (consecutive)
    they hold: each spell once per month-end within it, with month, d and snapshot (`month_ends`).

    The month-ends a spell holds are a run of month numbers, computed from its two dates and
    unnested, then joined with the months on that number (an equality join): the same rows as
    the interval join start <= d <= end, without a range join over the region's spells."""
    held = _month_runs(spells, months)
    return _unnest_months(held, held._i0, held._i1, months).drop("_i0", "_i1")


def _by_month(book: Rulebook, at: ibis.Table, names: tuple[str, ...], months: list[str], build) -> ibis.Value:
    """`build(values)` of the rule values in force at each month's end: one expression when they are
    the same in all `months`, else a case per run of months (a year in one pass reads each month's own)."""
    pieces = book.at_month_ends(names, first_day(months[0]), last_day(months[-1]))
    if len(pieces) == 1:
        return build(pieces[0][2])
    return ibis.cases(*[((at.d >= lo) & (at.d <= hi), build(values)) for lo, hi, values in pieces])


def listed_units(engine: Engine, book: Rulebook, month: str | list[str]) -> ibis.Table:
    """One row per month of `month` (one or several consecutive months) and person listed on the
    month's last day who earns capitation: month, snapshot (the day), person_id, clinic_id, age,
    band (the product code of the person's age band), sick (1 when in the sick-leave coordination
    ages), born_abroad (0 or 1), area_code, acg_weight and cni in force in the month.

    The listings and residences meeting the months are joined once into spells, and the spells
    with the months' last days (`at_month_ends`' equality join, whatever the number of months);
    the rules are those in force on each month's last day."""
    months = _months(month)
    lp = _listed_intervals(engine, last_day(months[0]), last_day(months[-1]), with_person=True)
    # Each spell meets the runs of its person's risk values it overlaps (a few rows per person),
    # and only then is unnested to its month-ends: no join of every person-month with the risk table.
    sp = _month_runs(lp, months)
    tl = risk_timeline(engine, months[0], months[-1])
    tl = tl.select(t_pid=tl.person_id, acg_weight=tl.acg_weight, cni=tl.cni, r0=tl.r0, r1=tl.r1)
    j = sp.left_join(tl, [sp.person_id == tl.t_pid, tl.r0 <= sp._i1, tl.r1 >= sp._i0])
    lo = ibis.greatest(j._i0, j.r0.fill_null(j._i0))
    hi = ibis.least(j._i1, j.r1.fill_null(j._i1))
    j = j.select("person_id", "clinic_id", "birth_date", "born_abroad", "area_code", "acg_weight", "cni", _lo=lo, _hi=hi)
    at = _unnest_months(j, j._lo, j._hi, months)
    at = at.select("person_id", "clinic_id", "born_abroad", "area_code", "acg_weight", "cni", "month", "snapshot", "d",
                   age=age_on(at.birth_date, at.d))
    band_code = book.component("capitation_age").band_code

    def band(values):
        (bands,) = values
        return ibis.cases(*[(_in_range(at.age, (lo, hi)), band_code(lo, hi)) for lo, hi, _ in bands]) if bands else ibis.literal("")

    def sick(values):
        (ages,) = values
        return (_in_range(at.age, ages) if ages else ibis.literal(False)).ifelse(1, 0)

    listed = at.mutate(band=_by_month(book, at, ("capitation_age.amounts",), months, band),
                       sick=_by_month(book, at, ("capitation_sick_leave_coordination.ages",), months, sick))
    return listed.select("month", "snapshot", "person_id", "clinic_id", "age", "band", "sick", "born_abroad", "area_code",
                         "acg_weight", "cni")


def capitation_components(book: Rulebook) -> tuple[str, ...]:
    """The components whose rows this module produces (their declarations say so)."""
    return book.components_by(__name__)


def paid_components(book: Rulebook, month: str) -> list[str]:
    """The capitation components paid in `month`: those whose amount is in force on its last day."""
    rules = book.at(last_day(month))
    return [c for c in capitation_components(book)
            if rules.get(PER_LISTED[c].paid_if if c in PER_LISTED else f"{c}.amount")]


def capitation_units(engine: Engine, book: Rulebook, month: str | list[str], component: str,
                     listed: ibis.Table | None = None) -> tuple[ibis.Table, str | None]:
    """The persons behind `component`'s lines in `month`, one row each with `clinic_id` (the clinic
    paid), `product_code` and `contribution` (what the person adds to the line's basis), and the
    snapshot date they are counted on. The same tables `capitation_rows` aggregates. `listed`:
    `listed_units` of the month, when the caller computed it once for several components."""
    d = last_day(_months(month)[0])
    if component in PER_LISTED:
        decl = PER_LISTED[component]
        u = listed if listed is not None else listed_units(engine, book, month)
        if decl.only:
            u = u.filter(u[decl.only] == 1)
        code = u.band if decl.by_band else ibis.literal(book.code(component))
        one = ibis.literal(1).cast(QUANTITY)
        contribution = one if decl.contribution == "persons" else u[decl.contribution].fill_null(0).cast(QUANTITY)
        return u.mutate(product_code=code, contribution=contribution), d.isoformat()
    if component == "capitation_home_care":
        u = home_care_units(engine, _months(month))
        return u.mutate(product_code=ibis.literal(book.code(component)), contribution=ibis.literal(1).cast(QUANTITY)), d.isoformat()
    if component == "capitation_child_mental_health":
        u = child_units(engine, book, _months(month))
        snap = child_snapshot(book, _months(month)[0])
        return u.mutate(product_code=ibis.literal(book.code(component)), contribution=ibis.literal(1).cast(QUANTITY)), snap.isoformat()
    raise KeyError(f"{component} is not a capitation component")


def capitation_rows(engine: Engine, book: Rulebook, month: str | list[str],
                    min_ages: dict[str, int] | None = None, by_area: bool = False,
                    paid: dict[str, list[str]] | None = None) -> tuple[ibis.Table, ibis.Table]:
    """All capitation product rows of `month` (one or several consecutive months) as one table
    (quantity = persons or weight sums), and the per-band table they are cut from.

    The per-listed components are summed from one pass over `listed_units`: per month, clinic and
    age band, the persons and their ACG, CNI and sick-leave sums, a small table each line is cut
    from (the sum of the persons' contributions, as `capitation_units` lists them). `min_ages`:
    also the persons aged at least each (`age_ge_<name>`), for `listed_in_months`. `by_area`: the
    per-band table is also cut by the persons' area of residence (`area_code`), the split the
    analysis weighs these lines by (`analysis.attribution.capitation_weights`); the lines are the same.
    `paid`: `paid_components` of each month, when the caller read them already.
    """
    months = _months(month)
    paid = paid if paid is not None else {m: paid_components(book, m) for m in months}
    parts: list[ibis.Table] = []
    u = listed_units(engine, book, months)
    aged = {f"age_ge_{name}": (u.age >= age).ifelse(1, 0).sum() for name, age in (min_ages or {}).items()}
    area = {"area_code": u.area_code} if by_area else {}
    per_band = engine.cache(
        u.group_by(month=u.month, snapshot=u.snapshot, clinic_id=u.clinic_id, product_code=u.band, **area).aggregate(
            persons=u.count(), acg_weight=u.acg_weight.sum(), cni=u.cni.sum(), sick=u.sick.sum(),
            born_abroad=u.born_abroad.cast("int64").sum(), **aged)
    )
    for component, decl in PER_LISTED.items():
        paid_in = [m for m in months if component in paid[m]]
        if not paid_in:
            continue
        rows = per_band if len(paid_in) == len(months) else per_band.filter(per_band.month.isin(paid_in))
        # The persons counted: all, or those with the `only` flag (its per-band sum); a person
        # counted once adds one, else their contribution's per-band sum.
        counted = rows[decl.only or "persons"]
        quantity = counted if decl.contribution == "persons" else rows[decl.contribution]
        keys = {"month": rows.month, "snapshot": rows.snapshot, "clinic_id": rows.clinic_id}
        if decl.by_band:
            keys["product_code"] = rows.product_code
        agg = rows.group_by(**keys).aggregate(quantity=quantity.sum(), persons=counted.sum())
        if decl.only:
            agg = agg.filter(agg.persons > 0)
        code = agg.product_code if decl.by_band else book.code(component)
        parts.append(_rows(agg, component, code, agg.quantity.fill_null(0), agg.month, agg.snapshot))
    # Enrolled persons and children: one each, counted from their units per month and clinic paid.
    for component in ("capitation_home_care", "capitation_child_mental_health"):
        paid_in = [m for m in months if component in paid[m]]
        for run in consecutive_runs(paid_in):
            units, _ = capitation_units(engine, book, run, component)
            agg = units.group_by("month", "snapshot", "clinic_id").aggregate(persons=units.count())
            parts.append(_rows(agg, component, book.code(component), agg.persons, agg.month, agg.snapshot))
    if not parts:
        return _empty(engine), per_band
    return ibis.union(*parts), per_band


def listed_in_months(per_band: ibis.Table, min_ages: dict[str, int]) -> pa.Table:
    """`listed_in_year`'s sums from `capitation_rows`' per-band table of the year's twelve months
    (the same persons: listed on each month's last day and earning capitation)."""
    sums = {"listed": per_band.persons.sum().cast("int64"),
            **{f"listed_{name}": per_band[f"age_ge_{name}"].sum().cast("int64") for name in min_ages}}
    return per_band.group_by("clinic_id").aggregate(**sums).to_pyarrow()


def consecutive_runs(months: list[str]) -> list[list[str]]:
    """`months` (in order) as runs of consecutive months."""
    runs: list[list[str]] = []
    for m in months:
        if runs and next_month(runs[-1][-1]) == m:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def spells(t: ibis.Table, lo: dt.date, hi: dt.date) -> ibis.Table:
    """Rows of `t` whose [valid_from, valid_to] (empty = open) meets lo..hi, with `start` and `end`."""
    t = t.filter(t.valid_from.isnull() | (t.valid_from <= hi), t.valid_to.isnull() | (t.valid_to >= lo))
    return t.mutate(start=t.valid_from.fill_null(dt.date(1, 1, 1)), end=t.valid_to.fill_null(dt.date(9999, 12, 31)))


def resident_on(engine: Engine, t: ibis.Table) -> ibis.Table:
    """Rows of `t` (with person_id and d) whose person may earn capitation on d (`residents`),
    with the area of residence `r_area`."""
    p = engine["persons"]
    p = p.filter(county_resident(p)).select(r_pid=p.person_id, r_from=p.valid_from, r_to=p.valid_to, r_area=p.area_code)
    j = t.join(p, [t.person_id == p.r_pid, p.r_from.isnull() | (p.r_from <= t.d), p.r_to.isnull() | (p.r_to >= t.d)])
    return j.drop("r_pid", "r_from", "r_to")


def home_care_units(engine: Engine, months: list[str]) -> ibis.Table:
    """Persons enrolled in basic home care on each month's last day who may earn capitation:
    month, snapshot, d (the last day), person_id, clinic_id, r_area (area of residence)."""
    hc = spells(engine["home_care"], last_day(months[0]), last_day(months[-1]))
    at = at_month_ends(hc.select("person_id", "clinic_id", "start", "end"), months)
    enrolled = at.select("month", "snapshot", "d", "person_id", "clinic_id").distinct()
    return resident_on(engine, enrolled)


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


def child_units(engine: Engine, book: Rulebook, months: list[str]) -> ibis.Table:
    """The children behind the children's mental-health supplement of each of `months`
    (consecutive): listed in the ages at the month's half-year snapshot (`child_snapshot`), one
    row each with month, snapshot (that date), d (the month's last day), `clinic_id` the provider
    paid for them (the listing clinic, or the provider it handed the assignment to), `listed_at`
    and `age`. Only providers holding the assignment in the paid month are paid. The children
    are counted once per snapshot, not once per month."""
    by_snapshot: dict[tuple, list[str]] = {}
    for m in months:
        ages = book.at(last_day(m)).value("capitation_child_mental_health.ages")
        by_snapshot.setdefault((child_snapshot(book, m), tuple(ages) if ages is not None else None), []).append(m)
    parts = []
    for (snap, ages), ms in by_snapshot.items():
        kids = listed_on(engine, snap, ages=ages)
        paid = ibis.memtable(pa.table({"month": ms, "snapshot": [snap.isoformat()] * len(ms),
                                       "d": pa.array([last_day(m) for m in ms], pa.date32())}))
        parts.append(kids.cross_join(paid).select("month", "snapshot", "d", "person_id", "clinic_id", "age"))
    kids = ibis.union(*parts) if len(parts) > 1 else parts[0]

    # Who holds the assignment in the paid month: a clinic with its own 320 kombika; a
    # clinic that handed the assignment over (affiliation) is paid to its provider.
    lo, hi = last_day(months[0]), last_day(months[-1])
    k = spells(engine["kombika"], lo, hi)
    k = k.filter(k.assignment == CHILD_MH_ASSIGNMENT).select(provider_id=k.clinic_id, start=k.start, end=k.end)
    providers = at_month_ends(k, months).select(p_month="month", provider_id="provider_id").distinct()
    a = spells(engine["affiliations"], lo, hi)
    a = a.filter(a.assignment == CHILD_MH_ASSIGNMENT).select(from_clinic=a.clinic_id, provider=a.provider_clinic_id,
                                                              start=a.start, end=a.end)
    handed = at_month_ends(a, months).select(h_month="month", from_clinic="from_clinic", provider="provider").distinct()
    routed = kids.join(handed, [kids.month == handed.h_month, kids.clinic_id == handed.from_clinic], how="left")
    routed = routed.select("month", "snapshot", "d", person_id=routed.person_id,
                           clinic_id=ibis.coalesce(routed.provider, routed.clinic_id), listed_at=routed.clinic_id,
                           age=routed.age).view()  # a new relation: the semi-join below is not part of the join chain above
    providers = providers.select(month="p_month", clinic_id="provider_id")
    return routed.semi_join(providers, ["month", "clinic_id"])


def _empty(engine: Engine) -> ibis.Table:
    c = engine["clinics"]
    return _rows(
        c.select("clinic_id", persons=ibis.literal(0)).limit(0),
        "capitation_age",
        "none",
        ibis.literal(0),
        ibis.literal("0000-00"),
        ibis.literal("1970-01-01"),
    )


def _listed_intervals(engine: Engine, lo: dt.date, hi: dt.date, clinics: ibis.Table | None = None,
                      with_person: bool = False) -> ibis.Table:
    """(clinic_id, birth_date, start, end): the spells within which a person listed at a clinic
    earns capitation (listed and resident in the county, as `listed_on`), for listings and
    residences meeting lo..hi (and at `clinics`' clinic_id, when given); `with_person`: with
    person_id, born_abroad (0 or 1, as `residents`) and area_code of the residence too."""
    li = engine["listings"]
    li = li.filter(li.valid_from.isnull() | (li.valid_from <= hi), li.valid_to.isnull() | (li.valid_to >= lo))
    if clinics is not None:  # a few clinics (new ones): their ids as constants, filtered before any join
        ids = clinics.select("clinic_id").distinct().to_pyarrow()["clinic_id"].to_pylist()
        li = li.filter(li.clinic_id.isin(ids))
    p = engine["persons"]
    p = p.filter(county_resident(p), p.valid_from.isnull() | (p.valid_from <= hi), p.valid_to.isnull() | (p.valid_to >= lo))
    extra = {}
    if with_person:
        abroad = p.born_abroad.fill_null(0) if "born_abroad" in p.columns else ibis.literal(0)
        extra = {"r_abroad": abroad.cast("int8"), "r_area": p.area_code}
    p = p.select(r_pid=p.person_id, r_from=p.valid_from, r_to=p.valid_to, birth_date=p.birth_date, **extra)
    person = {"person_id": li.person_id, "born_abroad": p.r_abroad, "area_code": p.r_area} if with_person else {}
    lp = li.join(p, li.person_id == p.r_pid).select(
        "clinic_id", "birth_date", **person,
        start=ibis.greatest(li.valid_from.fill_null(dt.date(1, 1, 1)), p.r_from.fill_null(dt.date(1, 1, 1))),
        end=ibis.least(li.valid_to.fill_null(dt.date(9999, 12, 31)), p.r_to.fill_null(dt.date(9999, 12, 31))),
    )
    return lp.view()  # a new relation: a month-end join on it is not part of the join chain above


def listed_at_month_ends(engine: Engine, at: ibis.Table, lo: dt.date, hi: dt.date) -> ibis.Table:
    """(clinic_id, d, listed) for each (clinic_id, d) of `at` (dates d within lo..hi): the persons
    listed at the clinic who earn capitation on d (as `listed_on` counts them; 0 when none).
    One interval join, not a pass per date."""
    lp = _listed_intervals(engine, lo, hi, at)
    hit = lp.join(at, [lp.clinic_id == at.clinic_id, lp.start <= at.d, lp.end >= at.d])
    n = hit.group_by(k_clinic=hit.clinic_id, k_d=hit.d).aggregate(listed=hit.count())
    j = at.left_join(n, [at.clinic_id == n.k_clinic, at.d == n.k_d])
    return j.select(at.clinic_id, at.d, listed=j.listed.fill_null(0).cast("int64"))


def listed_in_year(engine: Engine, year: int, min_ages: dict[str, int] | None = None) -> ibis.Table:
    """Per clinic, the sum over the year's 12 month ends of the persons listed who earn
    capitation (`listed`), and of those aged at least each of `min_ages` (`listed_<name>`).

    Divided by 12 this is the average number listed per month, the denominator of the
    yearly caps and of the per-listed goal items (003 Bilaga 2). One interval join of the
    listings and residences with the 12 month ends (the same rule as `listed_on`), not
    twelve passes over the listings.
    """
    from ersattning.period import months_of

    lp = _listed_intervals(engine, dt.date(year, 1, 31), dt.date(year, 12, 31))
    at = at_month_ends(lp, months_of(year))
    at = at.select("clinic_id", age=age_on(at.birth_date, at.d))
    sums = {"listed": at.count()}
    for name, age in (min_ages or {}).items():
        sums[f"listed_{name}"] = (at.age >= age).ifelse(1, 0).sum()
    return at.group_by("clinic_id").aggregate(**sums)
