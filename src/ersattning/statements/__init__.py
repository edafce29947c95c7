"""VF: a clinic-month statement — priced lines grouped by component, totals, CSV output.

`compute_month` runs the chain for one month (products → pricing) and returns the
statement lines and the per-clinic totals as Arrow tables (the DESIGN.md contracts).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ersattning.engine import Engine
from ersattning.errors import StatementError
from ersattning.money import format_sek, round_half_away, sek_text
from ersattning.period import first_day, last_day
from ersattning.lines import ENGINE_PRICED, GROUPS, LINE, PRICED, STATEMENT
from ersattning.pricing import capitation_prices, check_priced, price_rows, price_table
from ersattning.products.cap_reduction import cap_lines, cap_rules_in_force, min_ages, usage_of_months
from ersattning.products.capitation import capitation_rows, listed_in_months, listed_in_year, paid_components
from ersattning.products.claims import medical_service_lines, requisition_lines
from ersattning.products.goals import goals_table, monthly_goal_lines, yearly_goal_lines
from ersattning.products.health_promotion import health_promotion_lines
from ersattning.products.new_clinic import new_clinic_lines
from ersattning.products.visits import VisitPass, check_visit_prices, visit_pass
from ersattning.statements.memo import PassMemo
from ersattning.rulebook.components import Component, packaged_components
from ersattning.rulebook.loader import Rulebook

def _declared(book: Rulebook | None) -> dict[str, Component]:
    return book.components if book is not None else packaged_components()


def component_groups(book: Rulebook | None = None) -> dict[str, str]:
    """Statement component → the column of statements.csv it adds to (its declared `group`)."""
    return {name: c.group for name, c in _declared(book).items()}


def component_labels(book: Rulebook | None = None) -> dict[str, str]:
    """Statement component → its Swedish label (`label_sv`), for the web app and the workbook (their
    users are Swedish administrators and clinics); identifiers stay English everywhere else."""
    return {name: c.label_sv for name, c in _declared(book).items()}


def manual_components(book: Rulebook | None = None) -> tuple[str, ...]:
    """Components whose lines are claimed items an administrator adds (declared `manual: true`;
    manual supplementary invoicing in VF, seed 004; 003 Bilaga 1)."""
    return tuple(name for name, c in _declared(book).items() if c.manual)


def negative_components(book: Rulebook | None = None) -> tuple[str, ...]:
    """Manual components whose lines are penalties (declared `sign: negative`): entered negative."""
    return tuple(name for name, c in _declared(book).items() if c.manual and c.sign == "negative")


# The packaged rulebook's declarations as names, for callers without a rulebook at hand (the
# API's request model needs the manual kinds when it is defined); with a rulebook, call the functions.
COMPONENT_GROUP = component_groups()
COMPONENT_LABELS_SV = component_labels()
MANUAL_COMPONENTS = manual_components()
NEGATIVE_COMPONENTS = negative_components()


@dataclass
class MonthResult:
    """One month's statement lines and statements (amounts in öre) for every clinic."""

    month: str
    lines: pa.Table
    statements: pa.Table
    #: how many of the month's contacts are held (visits.held_contacts lists them); None = not counted
    held: int | None = None


def month_prices(book: Rulebook, month: str) -> pa.Table:
    return price_table(capitation_prices(book.at(last_day(month))), month)


def compute_month(engine: Engine, book: Rulebook, month: str) -> MonthResult:
    """Run products → pricing → statements for `month`; the result is a draft statement.

    Besides capitation and visits: the month's goal items, health-promotion pots and new-clinic
    amount; in January also the previous year's caps and quality bonus and penalty (DESIGN.md:
    yearly items are posted on January's statement; they appear when the input holds that
    year's contacts and goals).
    """
    return compute_months(engine, book, [month]).results[0]


#: Rows of the persons table (residence spells) times months one visit pass may price: a pass over
#: 3 months of the full region (2.7 M rows for 2.4 M persons, about 2.5 M contacts) fits in DuckDB's
#: 3 GB memory cap (1.8 GB peak for the year), a whole year does not (the joins with residences and
#: listings do not spill). Measured at full size: 2-month passes 50 s for the year, 3-month 42 s,
#: 6-month 42 s at 2.5 GB. A smaller region prices its year in one pass.
PASS_PERSON_MONTHS = 9_000_000


def months_per_pass(engine: Engine) -> int:
    """How many months of contacts one visit pass takes (ERSATTNING_VISIT_PASS_MONTHS overrides)."""
    if os.environ.get("ERSATTNING_VISIT_PASS_MONTHS"):
        return max(1, int(os.environ["ERSATTNING_VISIT_PASS_MONTHS"]))
    persons = engine["persons"].count().to_pyarrow().as_py()
    return max(1, min(12, PASS_PERSON_MONTHS // max(1, persons)))


@dataclass
class MonthsPass:
    """`compute_months`' results and, for a year's reconciliation, what its pass counted."""

    results: list[MonthResult]
    #: month -> the visits as the yearly caps count them (with_usage)
    usage: dict[str, pa.Table]
    #: listed_in_year's sums over the months' ends (with min_ages)
    listed: pa.Table | None = None
    #: with_areas: the visit pass's contacts per patient area (`visits.VisitPass.areas`)
    areas: pa.Table | None = None
    #: with_areas: the listed persons' sums per month, clinic, age band and area of residence
    #: (`capitation.capitation_rows`' per-band table cut by area), the capitation lines' split
    listed_areas: pa.Table | None = None


def compute_months(engine: Engine, book: Rulebook, months: list[str], with_usage: bool = False,
                   min_ages: dict[str, int] | None = None, posted: dict[str, list[pa.Table]] | None = None,
                   with_areas: bool = False, memo: PassMemo | None = None) -> MonthsPass:
    """`compute_month` for consecutive `months` at once: the capitation of all their month-ends is
    one query, their visits one pass over their contacts (each month's
    rules as in force in that month), then each month's statement is cut from the few thousand
    lines. The same lines as one `compute_month` per month (tests/statements/test_compute_year.py).
    `with_usage`: also each month's visits as the yearly caps count them (`visits.cap_usage`);
    `min_ages`: also the listed sums of `listed_in_year` over the months' ends; `posted`: a
    January's reconciliation of the year before, when the caller computed it already (the same
    `reconcile_year` lines, not counted again); `with_areas`: also the contacts per patient area
    the analysis splits visit lines by, and the listed persons' sums per area its capitation
    lines are split by. `memo`: visit passes, capitation counts and the year before's
    reconciliation computed before on the same inputs and rule values are taken from it (`statements.memo.PassMemo`: an analysis's scenario after its base)."""
    months = list(months)
    prices = ibis.memtable(pa.concat_tables([month_prices(book, m) for m in months]))
    try:
        rows, listed, listed_areas = _capitation_counts(engine, book, months, min_ages, with_areas, memo)
        capitation = price_rows(ibis.memtable(rows), prices).select(*ENGINE_PRICED.names).to_pyarrow()
        parts = [capitation.cast(ENGINE_PRICED)]
        contacts = engine.contacts(first_day(months[0]), last_day(months[-1]))
        visits = None
        if contacts is not None:
            # A few months' contacts per pass: a whole year's facts at the full region's size
            # exceed DuckDB's memory cap (the joins with residences and listings do not spill).
            step = months_per_pass(engine) if len(months) > 1 else 1
            for i in range(0, len(months), step):
                chunk = months[i:i + step]
                part = _visit_pass(engine, book, chunk, with_usage, with_areas, memo)
                visits = part if visits is None else visits.merge(part)
                engine.release_cached()
            parts.append(visits.lines)
        engine_lines = _typed(pa.concat_tables(parts))
        if contacts is not None:  # an unpriced visit product names its contacts (the month's)
            for month in months:
                check_visit_prices(engine, book, contacts, month, engine_lines.filter(pc.equal(engine_lines["month"], month)))
        check_priced(engine_lines)
        goals = goals_table(engine)
        # The claims of master data and the open clinics of all the months: one query each.
        claims = pa.concat_tables([medical_service_lines(engine, book, months), requisition_lines(engine, book, months)])
        open_in = open_clinics(engine, months)
        results = []
        for month in months:
            lines = engine_lines.filter(pc.equal(engine_lines["month"], month))
            clinics = open_in.filter(pc.equal(open_in["month"], month)).drop_columns(["month"])
            care = visits.care_guarantee.get(month, {}) if visits is not None else {}
            items = _other_items(engine, book, month, lines, clinics, goals, care, (posted or {}).get(month), memo)
            items.append(claims.filter(pc.equal(claims["month"], month)))
            lines = _finish_lines(pa.concat_tables([lines, *items]))
            # The visit pass counted the held contacts; none without contacts (None: not counted).
            held = visits.held.get(month) if visits is not None else 0
            results.append(MonthResult(month, lines, totals(lines, clinics, month, book), held=held))
    finally:
        engine.release_cached()
    return MonthsPass(results, visits.usage if visits is not None else {}, listed,
                      visits.areas if visits is not None else None, listed_areas)


def _capitation_counts(engine: Engine, book: Rulebook, months: list[str], min_ages: dict[str, int] | None, with_areas: bool,
                       memo: PassMemo | None) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """The months' capitation rows before pricing (`capitation.capitation_rows`), the listed sums of
    `listed_in_year` (with `min_ages`) and the per-band sums by area (`with_areas`), computed (or
    given again by `memo`: a scenario that changed no band, age or paid component counts the same)."""
    # Which components are paid is read here, not inside: a rate's value does not change the
    # counts, only whether the component is paid does (so a reform of a rate counts nothing again).
    paid = {m: paid_components(book, m) for m in months}

    def compute(b: Rulebook):
        rows, per_band = capitation_rows(engine, b, months, min_ages, by_area=with_areas, paid=paid)
        try:
            return (rows.to_pyarrow(), listed_in_months(per_band, min_ages) if min_ages is not None else None,
                    per_band.to_pyarrow() if with_areas else None)
        finally:
            engine.release_cached()

    if memo is None:
        return compute(book)
    key = ("capitation", tuple(months), tuple(sorted((min_ages or {}).items())) if min_ages is not None else None, with_areas,
           tuple((m, tuple(paid[m])) for m in months))
    return memo.call(key, engine, book, compute)


def _visit_pass(engine: Engine, book: Rulebook, months: list[str], with_usage: bool, with_areas: bool,
                memo: PassMemo | None) -> VisitPass:
    """`visits.visit_pass` over the engine's contacts of `months` (given again by `memo` when the same)."""
    def compute(b: Rulebook) -> VisitPass:
        return visit_pass(engine, b, engine.contacts(first_day(months[0]), last_day(months[-1])), months, with_usage, with_areas)

    if memo is None:
        return compute(book)
    return memo.call(("visit_pass", tuple(months), with_usage, with_areas), engine, book, compute)


def _typed(raw: pa.Table) -> pa.Table:
    """Engine lines in the one line schema (no detail text: their basis says it all)."""
    raw = raw.append_column("detail", pa.nulls(len(raw), pa.string()))
    return raw.select(PRICED.names).cast(PRICED)


def listed_by_clinic(lines: pa.Table) -> dict[str, int]:
    """Persons listed on the month's last day who earn capitation, per clinic (from the age lines)."""
    age = lines.filter(pc.equal(lines["component"], "capitation_age"))
    agg = age.group_by("clinic_id").aggregate([("persons", "sum")])
    return dict(zip(agg["clinic_id"].to_pylist(), agg["persons_sum"].to_pylist()))


def _other_items(engine: Engine, book: Rulebook, month: str, lines: pa.Table, clinics: pa.Table, goals: pa.Table,
                 care: dict[str, tuple[int, int]], reconciled: list[pa.Table] | None = None,
                 memo: PassMemo | None = None) -> list[pa.Table]:
    """Items priced per clinic rather than per person or contact: goals (`care`: the care
    guarantee's counts from the month's contacts), pots, the new-clinic amount and, in January,
    the previous year's caps and quality goals. (The claims of master data, medical service and
    requisition drugs, are priced for all the run's months at once in `compute_months`.)"""
    listed = listed_by_clinic(lines)
    items = [
        monthly_goal_lines(book, month, listed, clinics, goals, care),
        health_promotion_lines(book, month, listed),
        new_clinic_lines(book, month, clinics),
    ]
    if month.endswith("-01") and reconciled is not None:
        items += reconciled
    elif month.endswith("-01"):  # the year before's, computed here (given again by `memo` when the same)
        year = int(month[:4]) - 1
        def compute(b: Rulebook) -> list[pa.Table]:
            return reconcile_year(engine, b, year, month, goals)

        items += compute(book) if memo is None else memo.call(("reconcile_year", year, month), engine, book, compute)
    return items


def _finish_lines(raw: pa.Table) -> pa.Table:
    """Order lines, give each a stable id and the quantity shown (basis ÷ divisor, 6 decimals).

    The amount was rounded once in the engine from the exact basis; the shown quantity
    is for reading (e.g. ACG weight sum ÷ 12) and is rounded half away from zero.
    """
    raw = raw.sort_by([("clinic_id", "ascending"), ("component", "ascending"), ("product_code", "ascending")])
    basis = raw["quantity"].cast(LINE.field("basis").type)
    # One value per statement line (a few thousand a month), not per person: exact Decimal.
    shown = [
        round_half_away(b / d, 6) for b, d in zip(basis.to_pylist(), raw["divisor"].to_pylist())
    ]
    line_id = _unique_ids(pc.binary_join_element_wise(raw["clinic_id"], raw["month"], raw["product_code"], ":"), raw["rule"])
    n = len(raw)
    numbered = {
        "line_id": line_id,
        "quantity": pa.array(shown, LINE.field("quantity").type),
        "basis": basis,
        "corrects_month": pa.nulls(n, pa.string()),
        "corrects_line_id": pa.nulls(n, pa.string()),
    }
    return pa.table({f.name: numbered[f.name] if f.name in numbered else raw[f.name] for f in LINE}, schema=LINE)


def _unique_ids(ids: pa.Array, rules: pa.Array) -> pa.Array:
    """clinic:month:product, with the rule version appended where a price changed mid-month."""
    counts = pc.value_counts(ids)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return ids
    clash = pc.is_in(ids, value_set=repeated)
    return pc.if_else(clash, pc.binary_join_element_wise(ids, rules, "@"), ids)


def compute_year(engine: Engine, book: Rulebook, year: int,
                 previous: list[pa.Table] | None = None) -> tuple[list[MonthResult], list[pa.Table]]:
    """`year_pass`'s months and reconciliation."""
    done = year_pass(engine, book, year, previous)
    return done.results, done.reconciled


@dataclass
class YearPass:
    """A year's twelve months, its reconciliation (posted on January of year + 1) and, when asked
    for, the visit pass's contacts per patient area."""

    results: list[MonthResult]
    reconciled: list[pa.Table]
    areas: pa.Table | None = None
    #: with_areas: `MonthsPass.listed_areas`
    listed_areas: pa.Table | None = None


def year_pass(engine: Engine, book: Rulebook, year: int, previous: list[pa.Table] | None = None,
              with_areas: bool = False, memo: PassMemo | None = None) -> YearPass:
    """The twelve months of `year` and the year's reconciliation (caps, quality goals; posted on
    January of year + 1) in one pass (`compute_months`): the capitation of the twelve month-ends
    is one query, the year's contacts are read once, and the caps' visit counts come with the
    months' visit lines. Same lines as twelve `compute_month` calls and `reconcile_year`
    (tests/statements/test_compute_year.py). `previous`: the year before's reconciliation, as
    `compute_year(year - 1)` returned it on the same inputs and rulebook, posted on January
    rather than computed again (a run or an analysis of consecutive years)."""
    from ersattning.period import months_of

    done = compute_months(engine, book, months_of(year), with_usage=True, min_ages=min_ages(book, year),
                          posted={f"{year}-01": previous} if previous is not None else None, with_areas=with_areas,
                          memo=memo)
    # The caps' visit counts came with the months' visit lines (all twelve, or count anew), the
    # average listed with their capitation.
    used = usage_of_months([done.usage[m] for m in months_of(year)], year) if len(done.usage) == 12 else None
    return YearPass(done.results, reconcile_year(engine, book, year, used=used, listed=done.listed), done.areas,
                    done.listed_areas)


def reconcile_year(engine: Engine, book: Rulebook, year: int, month: str | None = None, goals: pa.Table | None = None,
                   used: pa.Table | None = None, listed: pa.Table | None = None) -> list[pa.Table]:
    """The yearly items for `year`, posted on `month` (January of year + 1): the caps'
    reconciliation and the quality bonus and penalty. Empty when the input holds neither
    contacts nor goals for the year."""
    month = month or f"{year + 1}-01"
    goals = goals_table(engine) if goals is None else goals
    has_goals = len(goals.filter(pc.equal(goals["period"], str(year)))) > 0
    contacts = engine.contacts(dt.date(year, 1, 1), dt.date(year, 12, 31))
    caps_apply = contacts is not None and cap_rules_in_force(book, year)
    if not (has_goals or caps_apply):
        return []
    # The average listed per month (12 month ends) is the denominator of both.
    in_year = listed if listed is not None else listed_in_year(engine, year, min_ages(book, year)).to_pyarrow()
    items = [yearly_goal_lines(book, year, in_year, goals, month)]
    if caps_apply:
        items.append(cap_lines(engine, book, year, contacts, in_year, month, used=used))
    return items


def open_clinics(engine: Engine, month: str | list[str]) -> pa.Table:
    """Clinics open at some time in `month` (clinic_id, area_code, opened): each gets a statement,
    even with no lines. For several months, one query and a `month` column."""
    if isinstance(month, str):
        return open_clinics(engine, [month]).drop_columns(["month"])
    c = engine["clinics"]
    spans = ibis.memtable(pa.table({"month": month, "m_start": [first_day(m) for m in month], "m_end": [last_day(m) for m in month]}))
    j = c.cross_join(spans)
    open_ = j.filter(j.opened <= j.m_end, j.closed.isnull() | (j.closed >= j.m_start))
    return open_.select("clinic_id", "area_code", "opened", "month").order_by(["month", "clinic_id"]).to_pyarrow()


#: The largest amount a total may hold: statements store öre as BIGINT (int64).
INT64_MAX = 2**63 - 1


def totals(lines: pa.Table, clinics: pa.Table, month: str, book: Rulebook | None = None) -> pa.Table:
    """statements: per clinic, the sum of its lines by group (fixed, variable, goal, adjustment):
    each component's declared `group` in `book` (default: the packaged rulebook).

    Summed exactly (int64 sums wrap around silently in Arrow and numpy): StatementError
    when a total would not fit in the int64 öre a statement stores.
    """
    from decimal import Decimal

    ids = sorted(set(clinics["clinic_id"].to_pylist()) | set(lines["clinic_id"].to_pylist()))
    index = {c: i for i, c in enumerate(ids)}
    sums = {g: [0] * len(ids) for g in GROUPS}
    group = component_groups(book)
    if len(lines):
        # decimal128(38, 0) holds any sum of int64 amounts; the grouped sums are a few per clinic.
        exact = lines.select(["clinic_id", "component"]).append_column("amount", lines["amount_ore"].cast(pa.decimal128(38, 0)))
        agg = exact.group_by(["clinic_id", "component"]).aggregate([("amount", "sum")])
        undeclared = sorted(set(agg["component"].to_pylist()) - set(group))
        if undeclared:
            raise StatementError(f"{month}: lines of component(s) {', '.join(undeclared)} that the rulebook does not declare "
                                 f"(rules/COMPONENT/component.yaml gives each its statement group)")
        for clinic, component, amount in zip(agg["clinic_id"].to_pylist(), agg["component"].to_pylist(), agg["amount_sum"].to_pylist()):
            sums[group[component]][index[clinic]] += int(amount or Decimal(0))
    total = [sum(sums[g][i] for g in GROUPS) for i in range(len(ids))]
    for name, values in (*((f"{g}_ore", sums[g]) for g in GROUPS), ("total_ore", total)):
        for clinic, value in zip(ids, values):
            if not -INT64_MAX - 1 <= value <= INT64_MAX:
                raise StatementError(
                    f"{clinic} {month}: the {name[:-4]} total {sek_text(value)} SEK is beyond what a statement can hold "
                    f"(±{sek_text(INT64_MAX)} SEK): check the lines' amounts (a manual line of a wrong size?)")
    return pa.table(
        {
            "clinic_id": pa.array(ids, pa.string()),
            "month": pa.array([month] * len(ids), pa.string()),
            **{f"{g}_ore": pa.array(sums[g], pa.int64()) for g in GROUPS},
            "total_ore": pa.array(total, pa.int64()),
        },
        schema=STATEMENT,
    )


#: statement_lines.csv: DESIGN.md's contract columns first, then the rest of the line; money
#: columns in SEK (`*_ore` shown as `*_sek`). Every column of the line, in the file's order.
CSV_LINE_COLUMNS = (
    "clinic_id", "month", "component", "product_code", "quantity", "unit_price_ore", "amount_ore", "rule",
    "line_id", "basis", "divisor", "unit", "persons", "snapshot", "reference", "illustrative", "detail",
    "corrects_month", "corrects_line_id",
)


def lines_csv_table(lines: pa.Table) -> pa.Table:
    """statement_lines.csv (DESIGN.md contract, then extra columns): SEK with two decimals."""
    return pa.table({
        (name[:-4] + "_sek" if name.endswith("_ore") else name): (format_sek(lines[name]) if name.endswith("_ore") else lines[name])
        for name in CSV_LINE_COLUMNS
    })


def statements_csv_table(statements: pa.Table) -> pa.Table:
    """statements.csv (DESIGN.md contract): clinic_id, month, fixed/variable/goal/adjustment/total in SEK."""
    out = {"clinic_id": statements["clinic_id"], "month": statements["month"]}
    for g in (*GROUPS, "total"):
        out[f"{g}_sek"] = format_sek(statements[f"{g}_ore"])
    return pa.table(out)


def write_csv(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
