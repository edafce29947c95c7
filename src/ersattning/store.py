"""The embedded database (DuckDB file): stored inputs, computed months, issued statements.

`load` stores validated input tables; `run` computes a month into draft lines and
statements; `issue` freezes a month (an issued month is never recomputed or changed; later
changes to it are paid as adjustment lines on the next statement); manual lines are the
administrator's claimed items, audited and never deleted.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import getpass
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from ersattning import rulebook as rulebook_mod
from ersattning.engine import INPUT_TABLES, Engine
from ersattning.errors import StatementError
from ersattning.lines import LINE, STATEMENT, duckdb_ddl
from ersattning.money import sek_text
from ersattning.period import first_day, last_day, next_month
from ersattning.pricing import exact_lines
from ersattning.statements import (
    MANUAL_COMPONENTS,
    NEGATIVE_COMPONENTS,
    MonthResult,
    compute_month,
    totals,
)

DEFAULT_DB = "ersattning.duckdb"

# The lines and statements tables come from their one declaration (ersattning.lines).
_SCHEMA = duckdb_ddl("statement_lines", LINE) + duckdb_ddl("statements", STATEMENT) + """
CREATE TABLE IF NOT EXISTS months (
    month VARCHAR PRIMARY KEY, status VARCHAR, computed_at TIMESTAMP, issued_at TIMESTAMP,
    issued_by VARCHAR, content_hash VARCHAR, rules VARCHAR
);
-- What the month's lines were computed from, when they were last paid in full (issued, or
-- corrected by adjustment lines on an issued statement): unchanged inputs need no recomputation.
ALTER TABLE months ADD COLUMN IF NOT EXISTS fingerprint VARCHAR;
-- The rulebook a month was computed with (its snapshot in `rulebooks`) and the options that
-- chose it (reform file, rules as of a date, sample size): trace and export read exactly these.
ALTER TABLE months ADD COLUMN IF NOT EXISTS rulebook_hash VARCHAR;
ALTER TABLE months ADD COLUMN IF NOT EXISTS options VARCHAR;
CREATE TABLE IF NOT EXISTS rulebooks (rulebook_hash VARCHAR PRIMARY KEY, origin VARCHAR, content VARCHAR NOT NULL);
CREATE SEQUENCE IF NOT EXISTS manual_line_seq START 1;
-- Facts about the stored region, e.g. sample_persons for a synthetic sample of the region.
CREATE TABLE IF NOT EXISTS settings (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS manual_lines (
    manual_id VARCHAR PRIMARY KEY, clinic_id VARCHAR NOT NULL, month VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    amount_ore BIGINT NOT NULL, reason VARCHAR NOT NULL, reference VARCHAR, created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- The month's contacts no visit component priced until their inputs are corrected, with the
-- code the clinic owning the kombika sees (products.visits.held_contacts; no person number).
CREATE TABLE IF NOT EXISTS held_contacts (
    month VARCHAR NOT NULL, clinic_id VARCHAR, kombika VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, code VARCHAR NOT NULL
);
"""


def open_engine(db: str | Path) -> Engine:
    engine = Engine.duckdb(db)
    engine.con.raw_sql(_SCHEMA)
    return engine


@contextlib.contextmanager
def transaction(con, commit: bool = True):
    """One DuckDB transaction: committed when the block ends (rolled back instead when not
    `commit`: a dry run), rolled back on any exception. A kill before COMMIT leaves it undone."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if commit else "ROLLBACK")


#: `sample=KEEP`: a load leaves the stored sample setting as it is.
KEEP = object()


def store_inputs(engine: Engine, tables: dict[str, pa.Table], sample=KEEP) -> None:
    """Replace the stored input tables `tables` (already validated) and, unless KEEP, the
    sample setting (`set_sample`): one transaction, so a crash leaves all of them old or all new."""
    with transaction(engine.con.con) as con:
        engine.persist(tables)
        if sample is not KEEP:
            _set_sample(con, sample)
    engine.attach(tables)


def set_sample(engine: Engine, persons: int | None) -> None:
    """Record that the stored region is a sample of `persons` (None: the whole region)."""
    with transaction(engine.con.con) as con:
        _set_sample(con, persons)


def _set_sample(con, persons: int | None) -> None:
    con.execute("DELETE FROM settings WHERE key = 'sample_persons'")
    if persons:
        con.execute("INSERT INTO settings VALUES ('sample_persons', ?)", [str(int(persons))])


# --- loading input files ---------------------------------------------------------------------

@dataclass
class LoadResult:
    """What a load did (or, for a dry run or refused inputs, would do).

    `replaced`: table -> (rows before or None when there was no table, rows after);
    `kept`: table -> rows (no file given: the stored table stays); `errors`: the problems
    found (nothing was written when there are any); `adjustments`: the adjustment lines the
    issued months would get from the stored inputs after the load (see `pending_adjustments`).
    """

    replaced: dict[str, tuple[int | None, int]]
    kept: dict[str, int]
    errors: pa.Table
    adjustments: pa.Table
    written: bool


def stored_tables(engine: Engine, names) -> dict[str, pa.Table]:
    """The stored input tables among `names` (those the database has), as Arrow tables."""
    existing = engine.table_names()
    con = engine.con.con
    return {n: con.sql(f'SELECT * FROM "{n}"').to_arrow_table() for n in names if n in INPUT_TABLES and n in existing}


def load_folder(engine: Engine, folder: str | Path, book=None, sample=KEEP, dry_run: bool = False) -> LoadResult:
    """Validate the input files in `folder` and store them, all or nothing.

    A file that is absent leaves its stored table as it is (a table the database does not
    have yet is created empty); the files given are checked together with the stored tables
    they leave in place, so the checks between files see what the database will hold. To
    empty a table, give its file with the header only. Every table replaced and the sample
    setting (`sample`, KEEP to leave it) are written in one transaction. Before it commits,
    the adjustment lines the new inputs would cause on issued months are worked out on the
    new tables (`LoadResult.adjustments`); `dry_run` then rolls everything back. `book`: the
    chosen rulebook before sample scaling (`core.Core.chosen`), for issued months that
    predate stored rulebooks (the others are recomputed under their own).
    """
    from ersattning.inputs import CONTRACTS, read_inputs

    before = {n: _row_count(engine, n) for n in INPUT_TABLES}
    inputs = read_inputs(folder, stored=lambda names: stored_tables(engine, names), book=book)
    given = [n for n in INPUT_TABLES if n in inputs.given or before[n] is None]
    replaced = {n: (before[n], inputs.tables[n].num_rows) for n in given}
    kept = {n: before[n] for n in INPUT_TABLES if n not in given}
    if inputs.errors.num_rows:
        return LoadResult(replaced, kept, inputs.errors, _empty_adjustments(), False)
    try:
        with transaction(engine.con.con, commit=not dry_run) as con:
            engine.persist({n: inputs.tables[n] if n in inputs.tables else CONTRACTS[n].empty_table() for n in given})
            if sample is not KEEP:
                _set_sample(con, sample)
            # The sample setting may have changed in this transaction: scale the rules to it now.
            adjustments = pending_adjustments(engine, book_for(engine, book or rulebook_mod.load()))
    finally:
        # The engine's tables as stored now (a rolled-back load may have named new ones).
        engine.tables.clear()
        engine.attach([n for n in INPUT_TABLES if n in engine.table_names()])
    return LoadResult(replaced, kept, inputs.errors, adjustments, not dry_run)


def _row_count(engine: Engine, name: str) -> int | None:
    if name not in engine.table_names():
        return None
    return engine.con.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]


def sample_size(engine: Engine) -> int | None:
    """The persons of the region the stored data is a sample of (None: the whole region)."""
    rows = engine.con.con.execute("SELECT value FROM settings WHERE key = 'sample_persons'").fetchall()
    return int(rows[0][0]) if rows else None


def book_for(engine: Engine, book):
    """The rulebook as it applies to the stored region: a sample shares the region-wide pots
    in proportion to its size (Rulebook.for_sample)."""
    persons = sample_size(engine)
    return book.for_sample(persons) if persons else book


def month_status(engine: Engine, month: str) -> str | None:
    rows = engine.con.con.execute("SELECT status FROM months WHERE month = ?", [month]).fetchall()
    return rows[0][0] if rows else None


def content_hash(lines: pa.Table, statements: pa.Table) -> str:
    """SHA-256 over the month's lines and totals, ordered by key: what was issued, exactly.

    Independent of how the tables happen to be chunked, so a later recomputation of the
    same content gives the same hash.
    """
    h = hashlib.sha256()
    for table, key in ((lines, "line_id"), (statements, "clinic_id")):
        ordered = table.sort_by(key).combine_chunks()
        for col in ordered.column_names:
            h.update(col.encode())
            h.update(repr(ordered[col].to_pylist()).encode())
    return h.hexdigest()


def month_lines(engine: Engine, book, month: str) -> MonthResult:
    """The month as computed now from the stored inputs and the register: the engine's lines
    plus the administrator's manual lines for the month."""
    return with_manual_lines(engine, compute_month(engine, book, month), book)


def with_manual_lines(engine: Engine, result: MonthResult, book) -> MonthResult:
    """The engine's month plus the administrator's manual lines for it, re-totalled."""
    month = result.month
    manual = _manual_statement_lines(engine, month)
    if len(manual):
        lines = pa.concat_tables([result.lines, manual])
        result = MonthResult(month, lines, totals(lines, result.statements.select(["clinic_id"]), month, book=book), held=result.held)
    return result


# --- the rulebook each month was computed with -------------------------------------------------

def _snapshot(book) -> tuple[str, str]:
    """(hash, JSON text) of the rulebook's snapshot."""
    from ersattning.rulebook.snapshot import rulebook_hash, to_json

    text = to_json(book)
    return rulebook_hash(text), text


def rulebook_id(book) -> str:
    """The hash a rulebook is stored under (of its snapshot's JSON text)."""
    return _snapshot(book)[0]


def store_rulebook(con, book) -> str:
    """Store the rulebook's snapshot (once per content) and return its hash."""
    book_id, text = _snapshot(book)
    con.execute("INSERT INTO rulebooks SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM rulebooks WHERE rulebook_hash = ?)",
                [book_id, book.origin, text, book_id])
    return book_id


_SNAPSHOTS: dict[str, object] = {}


def month_rulebook(engine: Engine, month: str):
    """The rulebook `month` was computed with (None: not computed, or computed before months
    stored their rulebook). Snapshots are immutable, so each is parsed once per process."""
    return stored_rulebook(engine.con.con, month)


def stored_rulebook(con, month: str):
    """`month_rulebook` on a DuckDB connection (exports read the database without an engine)."""
    if not con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'months' "
                       "AND column_name = 'rulebook_hash'").fetchall()[0][0]:
        return None
    rows = con.execute("SELECT rulebook_hash FROM months WHERE month = ?", [month]).fetchall()
    if not rows or rows[0][0] is None:
        return None
    book_id = rows[0][0]
    if book_id not in _SNAPSHOTS:
        from ersattning.rulebook.snapshot import from_json

        text = con.execute("SELECT content FROM rulebooks WHERE rulebook_hash = ?", [book_id]).fetchall()[0][0]
        _SNAPSHOTS[book_id] = from_json(text)
    return _SNAPSHOTS[book_id]


def run_month(engine: Engine, month: str, book, issue: bool = False, user: str | None = None,
              dry_run: bool = False, options: dict | None = None,
              computed: MonthResult | None = None) -> tuple[str, MonthResult | None]:
    """Compute `month` into the database as a draft (or issue it); an issued month is left as it is.

    Refused (StatementError) for a month after the current month or before the rulebook's
    first date (`check_month`): issuing is irreversible, and neither has a statement.

    The statement also carries `adjustment` lines for the issued months whose inputs changed
    since they were paid (late contacts, corrections, cancellations, new listings or risk):
    the month recomputed now minus what was paid for it so far, line by line. They go on the
    next month computed after the corrected month: an issued month E is corrected on the
    earliest month after E that is not issued (`adjustment_month`), and only there. So running
    a later month while that one is still open takes none of E's corrections (they would be
    paid far from where they belong, or twice: once on the draft of the open month, once on
    the later one); running a month before E or on a gap between issued months takes only
    the corrections of the issued months right before it. Once the open month is issued,
    E's corrections are paid and later changes go on the month after it.

    `book` is the rulebook that applies (decided once, by `core.Core`: base, reform, as of a
    date, scaled to a sample); it is stored with the month (`rulebooks`, `months.rulebook_hash`)
    with `options`, the choices that made it. `computed`: the month's engine lines already
    computed (a year's run, `statements.compute_year`); the manual and adjustment lines are
    added here. `dry_run`: compute and return the result, write nothing.
    """
    check_month(book, month)
    status = month_status(engine, month)
    if status == "issued":
        return "issued", None
    engine.attach_stored()
    attach_contacts(engine)
    result = with_manual_lines(engine, computed, book) if computed is not None else month_lines(engine, book, month)
    # Hashing the master tables is done once per run, and only when a fingerprint is needed.
    master = functools.cache(lambda: master_digest(engine))
    adjustments, checked = _adjustments(engine, book, month, master)
    if adjustments is not None:
        lines = pa.concat_tables([result.lines, adjustments])
        result = MonthResult(month, lines, totals(lines, result.statements.select(["clinic_id"]), month, book=book), held=result.held)
    if dry_run:
        return ("issued" if issue else "draft"), result
    con = engine.con.con
    fingerprint = month_fingerprint(engine, book, month, master()) if issue else None
    held = _held(engine, book, month, result.held)
    con.register("_new_lines", result.lines)
    con.register("_new_statements", result.statements)
    con.register("_new_held", held)
    try:
        with transaction(con):
            con.execute("DELETE FROM statement_lines WHERE month = ?", [month])
            con.execute("DELETE FROM statements WHERE month = ?", [month])
            con.execute("INSERT INTO statement_lines BY NAME SELECT * FROM _new_lines")
            con.execute("INSERT INTO statements BY NAME SELECT * FROM _new_statements")
            con.execute("DELETE FROM held_contacts WHERE month = ?", [month])
            con.execute("INSERT INTO held_contacts BY NAME SELECT * FROM _new_held")
            now = _now()
            book_id = store_rulebook(con, book)
            con.execute("DELETE FROM months WHERE month = ?", [month])
            columns = "(month, status, computed_at, issued_at, issued_by, content_hash, rules, fingerprint, rulebook_hash, options)"
            stored_options = json.dumps(options or {}, sort_keys=True)
            if issue:
                con.execute(
                    f"INSERT INTO months {columns} VALUES (?, 'issued', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [month, now, now, user or login_name(), content_hash(result.lines, result.statements), book.origin, fingerprint,
                     book_id, stored_options],
                )
                # The corrected months are now paid in full as of these inputs.
                for earlier, fp in checked.items():
                    con.execute("UPDATE months SET fingerprint = ? WHERE month = ?", [fp, earlier])
            else:
                con.execute(f"INSERT INTO months {columns} VALUES (?, 'draft', ?, NULL, NULL, NULL, ?, NULL, ?, ?)",
                            [month, now, book.origin, book_id, stored_options])
    finally:
        con.unregister("_new_lines")
        con.unregister("_new_statements")
        con.unregister("_new_held")
    return ("issued" if issue else "draft"), result


def _held(engine: Engine, book, month: str, counted: int | None = None) -> pa.Table:
    """The month's held contacts (priced by nobody until corrected), as of the inputs now.
    `counted`: how many the month's computation found (0: none to list, no second pass)."""
    from ersattning.products.visits import HELD_SCHEMA, held_contacts

    contacts = engine.contacts(first_day(month), last_day(month)) if counted != 0 else None
    if contacts is None:
        return HELD_SCHEMA.empty_table()
    return held_contacts(engine, book, contacts, month)


# --- adjustments of issued months --------------------------------------------------------------

def master_digest(engine: Engine) -> str:
    """A digest of the stored master data (every input table), the same for every month."""
    con = engine.con.con
    names = engine.table_names()
    h = hashlib.sha256()
    for name in INPUT_TABLES:
        if name in names:
            h.update(repr((name, con.execute(f'SELECT count(*), sum(hash("{name}")) FROM "{name}"').fetchall()[0])).encode())
    return h.hexdigest()


def month_fingerprint(engine: Engine, book, month: str, master: str | None = None) -> str:
    """A digest of everything a month's lines are computed from: the stored master data
    (`master`, computed here when not given), the register's events for contacts dated in the
    month (in January also the previous year, for the yearly items), the manual lines and the rulebook."""
    con = engine.con.con
    h = hashlib.sha256(book.origin.encode())
    h.update((master or master_digest(engine)).encode())
    if "contact_events" in engine.table_names():
        first = first_day(month) if not month.endswith("-01") else first_day(f"{int(month[:4]) - 1}-01")
        row = con.execute(
            """WITH keys AS (SELECT DISTINCT kombika, contact_id FROM contact_events WHERE date BETWEEN ? AND ?)
               SELECT count(*), sum(hash(e.content_hash, e.received_at, e.record_type, e.date))
               FROM contact_events e JOIN keys USING (kombika, contact_id)""",
            [first, last_day(month)],
        ).fetchall()[0]
        h.update(repr(("contacts", row)).encode())
    h.update(repr(con.execute("SELECT count(*), sum(hash(manual_lines)) FROM manual_lines WHERE month = ?", [month]).fetchall()[0]).encode())
    return h.hexdigest()


def adjustment_month(issued: set[str], earlier: str) -> str:
    """The month that carries the corrections of the issued month `earlier`: the earliest
    month after it that is not issued."""
    month = next_month(earlier)
    while month in issued:
        month = next_month(month)
    return month


def _issued_months(engine: Engine) -> list[tuple[str, str | None]]:
    return engine.con.con.execute("SELECT month, fingerprint FROM months WHERE status = 'issued' ORDER BY month").fetchall()


def _adjustments(engine: Engine, book, month: str, master) -> tuple[pa.Table | None, dict[str, str]]:
    """Adjustment lines on `month` for the issued months it corrects (those whose
    `adjustment_month` it is) whose inputs changed (None when there are none).

    Returns the lines and, per issued month checked, its fingerprint now (recorded when
    `month` is issued, as that month is then paid in full as of these inputs). `master()`
    gives the master-data digest.
    """
    issued = _issued_months(engine)
    months = {m for m, _ in issued}
    corrected = [(e, fp) for e, fp in issued if e < month and adjustment_month(months, e) == month]
    return _corrections(engine, book, corrected, master, lambda earlier: month)


def _corrections(engine: Engine, book, issued, master, target) -> tuple[pa.Table | None, dict[str, str]]:
    """Adjustment lines for the issued months `issued` ((month, stored fingerprint) pairs)
    whose inputs changed, each on the month `target(month)`."""
    con = engine.con.con
    parts, checked = [], {}
    for earlier, stored_fp in issued:
        # An issued month is recomputed under the rulebook it was paid with: only changed
        # inputs make adjustments, never the choice of rules for a later month.
        paid_book = month_rulebook(engine, earlier) or book
        fp = month_fingerprint(engine, paid_book, earlier, master())
        if fp == stored_fp:
            continue
        checked[earlier] = fp
        now = month_lines(engine, paid_book, earlier).lines
        paid = con.sql(
            """SELECT coalesce(corrects_line_id, line_id) AS line_id, any_value(clinic_id) AS clinic_id,
                      sum(amount_ore) AS paid_ore,
                      sum(CASE WHEN corrects_month IS NULL THEN quantity END) AS paid_quantity
               FROM statement_lines l JOIN months m ON m.month = l.month AND m.status = 'issued'
               WHERE (l.month = ? AND l.corrects_month IS NULL) OR l.corrects_month = ?
               GROUP BY 1""",
            params=[earlier, earlier],
        ).to_arrow_table()
        parts.append(_differences(now, paid, earlier, target(earlier)))
    return (pa.concat_tables(parts) if parts else None), checked


def pending_adjustments(engine: Engine, book) -> pa.Table:
    """The adjustment lines every issued month would get now from the stored inputs, each on
    the month that will carry it (`adjustment_month`): what a load or late reports have
    changed in months already paid. Empty when nothing changed."""
    issued = _issued_months(engine)
    if not issued:
        return _empty_adjustments()
    months = {m for m, _ in issued}
    engine.attach_stored()
    attach_contacts(engine)
    master = functools.cache(lambda: master_digest(engine))
    lines, _ = _corrections(engine, book, issued, master, lambda earlier: adjustment_month(months, earlier))
    return _empty_adjustments() if lines is None else lines


def _empty_adjustments() -> pa.Table:
    return _with_ids(exact_lines([]), [], [])


def adjustment_summary(lines: pa.Table) -> list[dict]:
    """Per corrected month, the adjustment lines among `lines`: the month that carries them,
    the clinics affected with their sums, the number of lines and their total in öre (exact)."""
    import pyarrow.compute as pc

    adj = lines.filter(pc.equal(lines["component"], "adjustment")) if len(lines) else lines
    out: dict[str, dict] = {}
    # One row per changed line of a month: a handful per clinic, never per person or contact.
    for corrected, carried, clinic, amount in zip(adj["corrects_month"].to_pylist(), adj["month"].to_pylist(),
                                                  adj["clinic_id"].to_pylist(), adj["amount_ore"].to_pylist()):
        row = out.setdefault(corrected, {"corrects_month": corrected, "month": carried, "clinics": {}, "lines": 0, "total_ore": 0})
        row["clinics"][clinic] = row["clinics"].get(clinic, 0) + amount
        row["lines"] += 1
        row["total_ore"] += amount
    return [{**r, "clinics": dict(sorted(r["clinics"].items()))} for _, r in sorted(out.items())]


# --- which months may be computed --------------------------------------------------------------

def first_rule_month(book) -> str:
    """The month of the rulebook's earliest value date: no statement can be computed before it."""
    first = min(v.start for p in book.parameters.values() for v in p.values)
    return f"{first.year}-{first.month:02d}"


def _today() -> dt.date:
    return dt.date.today()


def delete_draft_month(engine: Engine, month: str) -> dict:
    """Remove a draft month's lines, totals and held contacts (a typo'd or premature run);
    refused (StatementError) for a month not computed and for an issued month, which is paid
    and never removed. Manual lines stay (audited, never deleted): a new run adds them again."""
    status = month_status(engine, month)
    if status is None:
        raise StatementError(f"{month} has not been computed: there is nothing to delete")
    if status == "issued":
        raise StatementError(f"{month} is issued: an issued month is never deleted (corrections go on a later month)")
    con = engine.con.con
    with transaction(con):
        lines = con.execute("SELECT count(*) FROM statement_lines WHERE month = ?", [month]).fetchall()[0][0]
        for table in ("statement_lines", "statements", "held_contacts", "months"):
            con.execute(f"DELETE FROM {table} WHERE month = ?", [month])
    return {"month": month, "deleted_lines": int(lines)}


def check_month(book, month: str) -> None:
    """Refuse (StatementError) a month after the current month or before the rulebook's first
    date: a future month has no contacts or listings to pay yet (and issuing is irreversible),
    and before the rulebook there are no prices."""
    from ersattning.period import parse_month

    try:
        parse_month(month)
    except ValueError as exc:
        raise StatementError(str(exc)) from None
    today = _today()
    current = f"{today.year}-{today.month:02d}"
    if month > current:
        raise StatementError(f"{month} is after the current month ({current}): a month can be computed or issued from its first day")
    first = first_rule_month(book)
    if month < first:
        raise StatementError(f"{month} is before the rulebook's first date ({first}): there are no rules to compute it with")


def _differences(now: pa.Table, paid: pa.Table, earlier: str, month: str) -> pa.Table:
    """One adjustment line per line of `earlier` whose amount now differs from what was paid."""
    import duckdb

    con = duckdb.connect()
    con.register("now_lines", now)
    con.register("paid", paid)
    diff = con.sql(
        """SELECT coalesce(n.line_id, p.line_id) AS corrects_line_id, coalesce(n.clinic_id, p.clinic_id) AS clinic_id,
                  n.product_code, n.rule, n.reference, coalesce(n.illustrative, false) AS illustrative,
                  coalesce(n.amount_ore, 0) AS now_ore, coalesce(p.paid_ore, 0) AS paid_ore,
                  n.quantity AS now_quantity, p.paid_quantity,
                  coalesce(n.amount_ore, 0) - coalesce(p.paid_ore, 0) AS diff_ore
           FROM now_lines n FULL OUTER JOIN paid p ON n.line_id = p.line_id
           WHERE coalesce(n.amount_ore, 0) <> coalesce(p.paid_ore, 0)
           ORDER BY 2, 1"""
    ).to_arrow_table()
    con.close()
    records = []
    for r in diff.to_pylist():  # one row per changed line of a month: a handful, never per contact
        product = r["product_code"] or r["corrects_line_id"].split(":")[2]
        records.append({
            "clinic_id": r["clinic_id"], "month": month, "component": "adjustment", "product_code": product,
            "quantity": Decimal(1), "divisor": 1, "unit_price_ore": r["diff_ore"], "unit": "SEK (correction)",
            "rule": r["rule"] or "withdrawn", "reference": r["reference"] or "",
            "illustrative": r["illustrative"],
            "detail": (
                f"{earlier} {product}: paid {sek_text(r['paid_ore'])} SEK (quantity {_q(r['paid_quantity'])}), "
                f"now {sek_text(r['now_ore'])} SEK (quantity {_q(r['now_quantity'])})"
            ),
        })
    lines = exact_lines(records)
    if not len(lines):
        return _with_ids(lines, [], [])
    ids = [f"{c}:{month}:ADJ:{line}" for c, line in zip(lines["clinic_id"].to_pylist(), diff["corrects_line_id"].to_pylist())]
    return _with_ids(lines, ids, diff["corrects_line_id"].to_pylist(), earlier)


def _q(value) -> str:
    return "0" if value is None else f"{Decimal(value).normalize():f}"


def _with_ids(lines: pa.Table, ids: list[str], corrects: list[str], earlier: str | None = None) -> pa.Table:
    """Exact lines → full statement lines (lines.LINE) with the given ids and corrected line;
    the quantity shown is the basis (these lines' divisor is 1)."""
    n = len(lines)
    numbered = {
        "line_id": pa.array(ids, pa.string()), "basis": lines["quantity"],
        "corrects_month": pa.array([earlier] * n, pa.string()), "corrects_line_id": pa.array(corrects, pa.string()),
    }
    return pa.table({f.name: numbered[f.name] if f.name in numbered else lines[f.name] for f in LINE}, schema=LINE)


# --- manual lines (claimed items, VF's manual supplementary invoicing) -------------------------

#: The largest amount of one manual line, in öre (±100 000 000 000 SEK, the API's bound): far
#: above any claimed item, far below what could make a statement's int64 total overflow.
MAX_MANUAL_ORE = 10**13


def add_manual_line(engine: Engine, *, clinic_id: str, month: str, kind: str, amount_ore: int, reason: str,
                    reference: str = "", user: str) -> dict:
    """Add a claimed item (collaboration, geographic coordination, extended opening hours) or a
    decided penalty (deficient reporting, environment) to a clinic's statement for `month`:
    audited (who, when), never deleted or changed — a reversal is a new line with the opposite
    amount whose reference names the reversed line.

    Refused (StatementError) for an issued month, an unknown clinic or kind, a zero or
    non-integer amount or one beyond ±MAX_MANUAL_ORE, or an empty reason; for a penalty (a kind
    declared `sign: negative`) a positive amount unless it reverses (reference = its manual_id)
    an earlier, not yet reversed line of the same clinic and kind with the opposite amount.
    On a draft month the line shows at once; otherwise when the month is run.
    """
    from ersattning.period import parse_month

    try:
        parse_month(month)
    except ValueError as exc:
        raise StatementError(str(exc)) from None
    if kind not in MANUAL_COMPONENTS:
        raise StatementError(f"kind must be one of {', '.join(MANUAL_COMPONENTS)}, got {kind!r}")
    if isinstance(amount_ore, bool) or not isinstance(amount_ore, int) or amount_ore == 0:
        raise StatementError(f"amount_ore must be a non-zero whole number of öre, got {amount_ore!r}")
    if abs(amount_ore) > MAX_MANUAL_ORE:
        raise StatementError(f"amount_ore must be at most ±{MAX_MANUAL_ORE} öre (±{sek_text(MAX_MANUAL_ORE)} SEK) per line, "
                             f"got {sek_text(amount_ore)} SEK")
    if not (reason or "").strip():
        raise StatementError("reason is required: say what the claimed item is for")
    if not (user or "").strip():
        raise StatementError("user is required: every manual line says who added it")
    con = engine.con.con
    if "clinics" not in engine.table_names() or not con.execute("SELECT count(*) FROM clinics WHERE clinic_id = ?", [clinic_id]).fetchall()[0][0]:
        raise StatementError(f"no clinic {clinic_id!r} in the database")
    if kind in NEGATIVE_COMPONENTS and amount_ore > 0:
        _check_penalty_reversal(con, clinic_id, kind, amount_ore, (reference or "").strip())
    status = month_status(engine, month)
    if status == "issued":
        raise StatementError(f"{month} is issued and never changes: add the line to the next open month")
    with transaction(con):
        seq = con.execute("SELECT nextval('manual_line_seq')").fetchall()[0][0]
        manual_id = f"M{seq:06d}"
        now = _now()
        con.execute(
            "INSERT INTO manual_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [manual_id, clinic_id, month, kind, amount_ore, reason.strip(), (reference or "").strip(), user, now],
        )
        if status == "draft":
            _post_manual_on_draft(engine, month, clinic_id, manual_id)
    return manual_lines(engine, manual_id=manual_id).to_pylist()[0]


def _check_penalty_reversal(con, clinic_id: str, kind: str, amount_ore: int, reference: str) -> None:
    """A positive line of a penalty kind is only the reversal of an earlier penalty line: its
    reference names that line's manual_id (e.g. "reverses M000012"), of the same clinic and kind,
    with the opposite amount, not reversed before."""
    named = re.findall(r"\bM\d{6}\b", reference)
    earlier = con.execute("SELECT manual_id FROM manual_lines WHERE manual_id = ? AND clinic_id = ? AND kind = ? AND amount_ore = ?",
                          [named[0], clinic_id, kind, -amount_ore]).fetchall() if len(named) == 1 else []
    if not earlier:
        raise StatementError(
            f"amount_ore must be negative for {kind} (a penalty, declared sign: negative), got {sek_text(amount_ore)} SEK; "
            f"a positive amount only reverses an earlier {kind} line of {clinic_id}: name its manual_id in the reference "
            "and give the opposite amount")
    reversals = con.execute("SELECT reference FROM manual_lines WHERE clinic_id = ? AND kind = ? AND amount_ore > 0",
                            [clinic_id, kind]).fetchall()
    if any(named[0] in re.findall(r"\bM\d{6}\b", r or "") for (r,) in reversals):
        raise StatementError(f"{named[0]} is already reversed: a penalty line is reversed once")


def manual_lines(engine: Engine, clinic_id: str | None = None, month: str | None = None, manual_id: str | None = None) -> pa.Table:
    """The manual lines, oldest first, optionally for one clinic, month or id."""
    where, args = [], []
    for col, value in (("clinic_id", clinic_id), ("month", month), ("manual_id", manual_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = "SELECT * FROM manual_lines" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY manual_id"
    return engine.con.con.sql(sql, params=args).to_arrow_table()


def _manual_statement_lines(engine: Engine, month: str, manual_id: str | None = None) -> pa.Table:
    m = manual_lines(engine, month=month, manual_id=manual_id)
    records = [{
        "clinic_id": r["clinic_id"], "month": month, "component": r["kind"], "product_code": f"MANUAL_{r['kind'].upper()}",
        "quantity": Decimal(1), "divisor": 1, "unit_price_ore": r["amount_ore"], "unit": "SEK (claimed item)",
        "rule": f"manual:{r['manual_id']}", "reference": r["reference"] or "",
        "detail": f"{r['reason']} (added by {r['created_by']} {r['created_at']:%Y-%m-%d %H:%M})",
    } for r in m.to_pylist()]
    lines = exact_lines(records)
    ids = [f"{c}:{month}:MANUAL:{mid}" for c, mid in zip(m["clinic_id"].to_pylist(), m["manual_id"].to_pylist())]
    return _with_ids(lines, ids, [None] * len(ids))


def _post_manual_on_draft(engine: Engine, month: str, clinic_id: str, manual_id: str) -> None:
    """Put a new manual line on the month's draft statement and re-total that clinic."""
    con = engine.con.con
    line = _manual_statement_lines(engine, month, manual_id)
    con.register("_manual_line", line)
    try:
        con.execute("INSERT INTO statement_lines BY NAME SELECT * FROM _manual_line")
    finally:
        con.unregister("_manual_line")
    lines = con.sql("SELECT clinic_id, component, amount_ore FROM statement_lines WHERE month = ? AND clinic_id = ?", params=[month, clinic_id]).to_arrow_table()
    # Grouped by the components of the rulebook the draft was computed with (it may declare more).
    row = totals(lines, pa.table({"clinic_id": [clinic_id]}), month, book=month_rulebook(engine, month))
    con.execute("DELETE FROM statements WHERE month = ? AND clinic_id = ?", [month, clinic_id])
    con.register("_manual_total", row)
    try:
        con.execute("INSERT INTO statements BY NAME SELECT * FROM _manual_total")
    finally:
        con.unregister("_manual_total")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def attach_contacts(engine: Engine, as_of=None) -> None:
    """Price the register's live contacts (GVR's current view) when any were reported."""
    if "contact_events" in engine.table_names():
        from ersattning.register import current_contacts

        engine.contacts_between = lambda first, last: current_contacts(engine.con, as_of=as_of, dated_between=(first, last))


#: The login name of the client whose command a running server executes (ersattning.remote).
client_login: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_login", default=None)


def login_name() -> str:
    """Who runs the command: the OS login name (the client's, for a command the server runs for it)."""
    if client_login.get():
        return client_login.get()
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
