"""GVR's append-only event log in the DuckDB file: intake of a contact file as one transaction,
and the current view of the contacts as of any moment (an Ibis expression the pricing joins)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ersattning.engine import Engine
from ersattning.errors import InputError
from ersattning.inputs.schema import CONTRACTS
from ersattning.inputs.parse import mask_np
from ersattning.register.read import read_contact_file
from ersattning.register.schema import (
    CONTACTS, CONTACTS_SCHEMA, CURRENT_DDL, ERRORS_SCHEMA, LOG_DDL, LOG_MIGRATIONS, REJECTED_ROWS_DDL, REPORT,
)
from ersattning.register.validate import CONTENT_HASH_SQL, Checked, arrow, check_contacts, drop_checked, run

VIEW_COLUMNS = ("kombika", "contact_id", "person_id", "date", "contact_type", "profession", "diagnoses",
                "actions", "reported_at", "received_at", "event_id", "first_contact", "requested_on")
_EVENT_COLUMNS = ("event_id, batch_id, received_at, source, line, kombika, contact_id, record_type, person_id, "
                  '"date", contact_type, profession, diagnoses, actions, reported_at, content_hash, first_contact, requested_on')


class UnreadableContactFile(InputError):
    """The contact file cannot be parsed at all: nothing in it was taken in. `errors` holds
    the `unreadable` row(s) for contact_errors.csv."""


@dataclass
class IntakeResult:
    """What one intake did: counts (rows = accepted + rejected + unchanged) and the error rows."""

    batch_id: int
    source: str
    received_at: dt.datetime
    rows: int
    accepted: int
    rejected: int
    unchanged: int
    errors: pa.Table = field(repr=False)
    #: Per input row, in order: "accepted" (logged), "rejected" or "unchanged" (set by intake_table).
    row_status: np.ndarray | None = field(default=None, repr=False)


# --- connections ----------------------------------------------------------------------------

def _duckdb(target) -> duckdb.DuckDBPyConnection:
    """The raw DuckDB connection of an Engine, an Ibis DuckDB backend or a DuckDB connection."""
    if isinstance(target, Engine):
        target = target.con
    if isinstance(target, duckdb.DuckDBPyConnection):
        return target
    raw = getattr(target, "con", None)
    if isinstance(raw, duckdb.DuckDBPyConnection):
        return raw
    if isinstance(target, (str, Path)):
        return duckdb.connect(str(target))
    raise TypeError(f"expected an Engine, an Ibis DuckDB backend, a DuckDB connection or a database path, not {type(target).__name__}")


def _ibis(target) -> ibis.BaseBackend:
    if isinstance(target, Engine):
        return target.con
    if isinstance(target, duckdb.DuckDBPyConnection):
        return ibis.duckdb.from_connection(target)
    if isinstance(target, (str, Path)):
        return ibis.duckdb.connect(str(target))
    return target


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create the log tables when the database has none yet, and add the columns added to the
    contract since (LOG_MIGRATIONS) to an older log (a read-only file that has them is fine)."""
    tables = _tables(con)
    if not {"contact_batches", "contact_events", "contact_errors"} <= tables:
        con.sql(LOG_DDL)
    if "contact_rejected_rows" not in tables:
        con.sql(REJECTED_ROWS_DDL)
    have = {(t, c) for t, c in run(con, "SELECT table_name, column_name FROM information_schema.columns "
                                        "WHERE table_name IN ('contact_events', 'contact_current')")}
    kept_exists = any(t == "contact_current" for t, _ in have)
    for table, column, kind in LOG_MIGRATIONS:
        # The kept current view has the log's columns: a column added to the log is added there too.
        targets = [table] + (["contact_current"] if table == "contact_events" and kept_exists else [])
        for t in targets:
            if (t, column) not in have:
                run(con, f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {column} {kind}")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in run(con, "SELECT table_name FROM information_schema.tables")}


# --- intake ---------------------------------------------------------------------------------

def intake(engine_or_con, path: Path | str, received_at: dt.datetime | None = None) -> IntakeResult:
    """Take in one contact file (CSV, JSON Lines or Parquet) as one batch, in one transaction.

    Rows with any problem are rejected (their errors are returned and logged); the good rows
    are appended to the event log unless they change nothing (counted `unchanged`). Raises
    UnreadableContactFile (nothing taken in, nothing logged) when the file cannot be parsed,
    InputError when the database holds no master data (`ersattning load` first).
    """
    path = Path(path)
    raw, read_errors = read_contact_file(path)
    if raw is None:
        raise UnreadableContactFile(f"{path.name}: {read_errors['message'][0].as_py()}; nothing was taken in",
                                    errors=read_errors)
    return intake_table(engine_or_con, raw, path.name, received_at)


def intake_table(engine_or_con, raw: pa.Table, source: str, received_at: dt.datetime | None = None,
                 sender_clinic: str | None = None, before_commit=None) -> IntakeResult:
    """Take in one batch already read as text (the contract's columns and `source_line`), with
    exactly the checks and idempotency of a file's intake: the HTTP API's path. The result's
    `row_status` says, per row, what became of it.

    `sender_clinic`: the clinic whose token sent the batch. Its rows may be on its own kombika
    only (another clinic's is `other_clinic_kombika`, stored with the other rejections); None
    (the region's file intake, an administrator) checks no ownership. `before_commit(con,
    batch_id)` writes what belongs to the batch in the same transaction (the API's record of
    who sent it: without it a crash could leave rejections that nobody may see)."""
    con = _duckdb(engine_or_con)
    received_at = _local_naive(received_at or dt.datetime.now())
    _require_master_data(con)
    ensure_log(con)
    run(con, "BEGIN TRANSACTION")
    try:
        checked = check_contacts(con, raw, source, received_at.date(), log="contact_events", received_at=received_at,
                                 sender_clinic=sender_clinic)
        log_state = _log_state(con)
        try:
            (batch_id,), = run(con, "SELECT coalesce(max(batch_id), 0) + 1 FROM contact_batches")
            accepted, inserted = _insert_events(con, checked, batch_id, received_at, source)
            _insert_errors(con, checked.errors, batch_id, received_at)
            _insert_rejected_rows(con, checked, batch_id)
            unchanged = checked.rows - checked.rejected - accepted
            _insert_batch(con, batch_id, received_at, source, checked.rows, accepted, checked.rejected, unchanged)
            _keep_current(con, before=log_state)
            if before_commit is not None:
                before_commit(con, int(batch_id))
        finally:
            drop_checked(con, checked)
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise
    status = np.full(checked.rows, "unchanged", dtype=object)
    status[inserted] = "accepted"
    if checked.errors.num_rows:
        # Error rows name the input line; map lines back to row positions.
        lines = raw.column("source_line").to_numpy(zero_copy_only=False).astype(np.int64)
        bad = np.isin(lines, checked.errors["line"].to_numpy(zero_copy_only=False).astype(np.int64))
        status[bad] = "rejected"
    return IntakeResult(int(batch_id), source, received_at, checked.rows, accepted, checked.rejected, unchanged,
                        checked.errors, status)


def _require_master_data(con: duckdb.DuckDBPyConnection) -> None:
    missing = [t for t in ("clinics", "kombika") if t not in _tables(con)]
    if not missing and run(con, "SELECT count(*) FROM kombika")[0][0] == 0:
        missing = ["kombika"]
    if missing:
        raise InputError(f"the database has no {' or '.join(missing)} (no master data loaded): "
                         "run `ersattning load DIR --db PATH` first")


# Which kept rows change nothing, against the events already stored for their keys (only
# rows whose key is in the log are hashed here):
# - with reported_at: an event with the same content at the same or a later time is stored
#   (it outranks this row for good, whatever arrives later: skipping it keeps the view
#   independent of the arrival order);
# - without (its time is its arrival): the contact's current version has the same content
#   (a re-sent report, or a cancel of a withdrawn contact).
_UNCHANGED = """
    WITH stored AS (
        SELECT e.kombika, e.contact_id, e.content_hash, coalesce(e.reported_at, e.received_at) AS eff
        FROM contact_events e SEMI JOIN (SELECT kombika, contact_id FROM {batch} WHERE _keep) b
             USING (kombika, contact_id)),
    cand AS (
        SELECT _row, kombika, contact_id, reported_at, {hash} AS content_hash
        FROM {batch} SEMI JOIN (SELECT DISTINCT kombika, contact_id FROM stored) s USING (kombika, contact_id)
        WHERE _keep),
    latest_same AS (SELECT kombika, contact_id, content_hash, max(eff) AS eff FROM stored GROUP BY ALL),
    cur AS (
        SELECT kombika, contact_id, content_hash FROM stored
        QUALIFY row_number() OVER (PARTITION BY kombika, contact_id ORDER BY eff DESC, content_hash DESC) = 1)
    SELECT c._row FROM cand c
    LEFT JOIN latest_same s ON c.reported_at IS NOT NULL AND s.kombika = c.kombika
         AND s.contact_id = c.contact_id AND s.content_hash = c.content_hash
    LEFT JOIN cur ON c.reported_at IS NULL AND cur.kombika = c.kombika AND cur.contact_id = c.contact_id
    WHERE coalesce(s.eff >= c.reported_at, false) OR coalesce(cur.content_hash = c.content_hash, false)
"""


def _insert_events(con, checked: Checked, batch_id: int, received_at: dt.datetime, source: str) -> tuple[int, np.ndarray]:
    """Append the kept rows that change something; event ids follow the file's line order.
    Returns the count and the mask of rows inserted."""
    (first,), = run(con, "SELECT coalesce(max(event_id), 0) FROM contact_events")
    unchanged = arrow(con, _UNCHANGED.format(batch=checked.view, hash=CONTENT_HASH_SQL))["_row"].to_numpy()
    insert = checked.keep.copy()
    insert[unchanged] = False
    if not insert.any():
        return 0, insert
    checked.replace(con, _insert=pa.array(insert), _event_id=pa.array(int(first) + np.cumsum(insert)))
    run(con, f"""
        INSERT INTO contact_events ({_EVENT_COLUMNS})
        SELECT _event_id, {int(batch_id)}, ?::TIMESTAMP, ?, line, kombika, contact_id, record_type, person_id,
               "date", contact_type, profession, diagnoses, actions, reported_at, {CONTENT_HASH_SQL},
               first_contact, requested_on
        FROM {checked.view} WHERE _insert""", [received_at, source])
    return int(insert.sum()), insert


def _insert_errors(con, errors: pa.Table, batch_id: int, received_at: dt.datetime) -> None:
    if not errors.num_rows:
        return
    name = f"_gvr_errors_{uuid.uuid4().hex[:12]}"
    con.register(name, errors)
    try:
        run(con, f"""
            INSERT INTO contact_errors (batch_id, received_at, source, line, kombika, contact_id, code, field, message)
            SELECT {int(batch_id)}, ?::TIMESTAMP, source, line, kombika, contact_id, code, field, message FROM {name}""",
                    [received_at])
    finally:
        con.unregister(name)


def _insert_rejected_rows(con, checked: Checked, batch_id: int) -> None:
    """The rejected rows' values as read (the rows named by the batch's errors), in one statement."""
    if not checked.errors.num_rows:
        return
    name = f"_gvr_rejected_{uuid.uuid4().hex[:12]}"
    con.register(name, pa.table({"line": checked.errors["line"]}))
    try:
        run(con, f"""
            INSERT INTO contact_rejected_rows (batch_id, line, kombika, contact_id, record_type, person_id, "date",
                                               contact_type, profession, diagnoses, actions)
            SELECT {int(batch_id)}, line, kombika, contact_id, record_type, person_id, "date", contact_type, profession,
                   diagnoses, actions
            FROM {checked.view} WHERE line IN (SELECT line FROM {name})""")
    finally:
        con.unregister(name)


def _insert_batch(con, batch_id: int, received_at: dt.datetime, source: str, rows: int, accepted: int,
                  rejected: int, unchanged: int) -> None:
    run(con, 'INSERT INTO contact_batches (batch_id, received_at, source, "rows", accepted, rejected, unchanged) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [batch_id, received_at, source, rows, accepted, rejected, unchanged])


def _local_naive(t: dt.datetime | dt.date) -> dt.datetime:
    """Timestamps are stored as local wall-clock time without zone, like a PAS's reported_at."""
    if not isinstance(t, dt.datetime):
        t = dt.datetime.combine(t, dt.time())
    return t.astimezone().replace(tzinfo=None) if t.tzinfo else t


def records_table(records: list[dict], lines: list[int] | None = None) -> pa.Table:
    """Contact records (dicts of text, as a PAS posts them) as the text table `intake_table`
    takes: every contract column, `source_line` = the record's 1-based position (or `lines`). A value that
    is not text becomes its JSON text (which then fails its own check), as in JSON Lines."""
    import json

    def text(v):
        return None if v is None else v if isinstance(v, str) else json.dumps(v)

    cols = {c: pa.array([text(r.get(c)) for r in records], pa.string()) for c in CONTACTS.column_names}
    cols["source_line"] = pa.array(np.arange(1, len(records) + 1, dtype=np.int64) if lines is None else lines, pa.int64())
    return pa.table(cols)


# --- the current view ------------------------------------------------------------------------

def _ranked(e: ibis.Table) -> ibis.Table:
    """Events ranked within their key, the winner `_version == 0`: the latest reported_at
    (received_at when missing), ties broken by content_hash, then by the first event (an exact
    tie is the same content: the ranking is deterministic either way). The one definition of
    the winner, for the window over the log and for the kept table."""
    eff = e.reported_at.fill_null(e.received_at)
    window = ibis.window(group_by=[e.kombika, e.contact_id], order_by=[eff.desc(), e.content_hash.desc(), e.event_id])
    return e.mutate(_version=ibis.row_number().over(window))


def _log_state(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Which log the kept current view must match: its event count and last event id."""
    (n, last), = run(con, "SELECT count(*), coalesce(max(event_id), 0) FROM contact_events")
    return int(n), int(last)


def _kept_state(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    if not {"contact_current", "contact_current_state"} <= _tables(con):
        return None
    rows = run(con, "SELECT events, last_event_id FROM contact_current_state")
    return (int(rows[0][0]), int(rows[0][1])) if len(rows) == 1 else None


def _keep_current(con: duckdb.DuckDBPyConnection, before: tuple[int, int]) -> None:
    """Bring the kept current view up to the log, inside the intake's transaction (a killed
    intake leaves both as they were). When the table was the view of the log before this
    batch, only the batch's keys are ranked again (the winner of a key is the best of its old
    winner and its new events); otherwise (an older database, a log written some other way)
    the whole table is rebuilt from the log."""
    if not {"contact_current", "contact_current_state"} <= _tables(con):
        con.sql(CURRENT_DDL)
    after = _log_state(con)
    kept = _kept_state(con)
    if kept == after:
        return
    backend = ibis.duckdb.from_connection(con)
    columns = [c for c in backend.table("contact_events").columns]
    if kept == before:
        first_new = before[1]
        run(con, f"""CREATE OR REPLACE TEMP TABLE _current_keys AS
                     SELECT DISTINCT kombika, contact_id FROM contact_events WHERE event_id > {first_new}""")
        new = backend.table("contact_events").filter(lambda e: e.event_id > first_new)
        old = backend.table("contact_current").semi_join(backend.table("_current_keys"), ["kombika", "contact_id"])
        ranked = _ranked(old.select(*columns).union(new.select(*columns)))
        winners = ranked.filter(ranked._version == 0).select(*columns)
        # The new winners are computed before the old ones go (they are among the candidates).
        run(con, f"CREATE OR REPLACE TEMP TABLE _current_winners AS {ibis.to_sql(winners, dialect='duckdb')}")
        run(con, "DELETE FROM contact_current c USING _current_keys k "
                 "WHERE c.kombika = k.kombika AND c.contact_id = k.contact_id")
        run(con, "INSERT INTO contact_current BY NAME SELECT * FROM _current_winners")
        run(con, "DROP TABLE _current_winners")
        run(con, "DROP TABLE _current_keys")
    else:
        ranked = _ranked(backend.table("contact_events"))
        winners = ranked.filter(ranked._version == 0).select(*columns)
        run(con, "DELETE FROM contact_current")
        run(con, f"INSERT INTO contact_current BY NAME {ibis.to_sql(winners, dialect='duckdb')}")
    run(con, "DELETE FROM contact_current_state")
    run(con, "INSERT INTO contact_current_state VALUES (?, ?)", list(after))


def _kept_current_usable(con: duckdb.DuckDBPyConnection, as_of) -> bool:
    """The kept table is the view asked for when it matches the log and the moment asked for
    is not before any event's arrival (a replay as of an earlier moment ranks the log itself)."""
    if _kept_state(con) != _log_state(con):
        return False
    if as_of is None:
        return True
    (latest,), = run(con, "SELECT max(received_at) FROM contact_events")
    return latest is None or latest <= _as_of(as_of)


def current_contacts(con, as_of: dt.datetime | dt.date | str | None = None,
                     dated_between: tuple[dt.date, dt.date] | None = None, kept: bool = True) -> ibis.Table:
    """The live contacts as an Ibis expression: per (kombika, contact_id), among the events
    received at or before `as_of` (a date = the end of that day), the version with the
    latest reported_at (received_at when missing), ties broken by content_hash; a key whose
    winning version is a cancel is left out.

    `dated_between=(first, last)` gives only the live contacts dated in that period, ranking
    only the events of keys with some version dated there (a live version is one of its
    key's events, so no live contact of the period is missed, even when a correction moved
    its date): a month's pricing does not sort the whole log.

    The view is read from the table each intake keeps (`contact_current`) when that table
    matches the log and `as_of` is not before the latest arrival; `kept=False` always ranks
    the log (the tests compare the two)."""
    backend = _ibis(con)
    ensure_log(_duckdb(backend))
    if kept and _kept_current_usable(_duckdb(backend), as_of):
        # The winners are kept per intake: no ranking of the log (the window was 2.5–3 s of
        # each quarter's pricing at 2.4 M persons).
        c = backend.table("contact_current")
        live = c.filter(c.record_type == REPORT)
        if dated_between is not None:
            live = live.filter((live.date >= dated_between[0]) & (live.date <= dated_between[1]))
        return live.select(*VIEW_COLUMNS)
    e = backend.table("contact_events")
    if as_of is not None:
        e = e.filter(e.received_at <= _as_of(as_of))
    if dated_between is not None:
        first, last = dated_between
        keys = e.filter((e.date >= first) & (e.date <= last)).select("kombika", "contact_id").distinct()
        e = e.semi_join(keys, ["kombika", "contact_id"])
    ranked = _ranked(e)
    live = ranked.filter((ranked._version == 0) & (ranked.record_type == REPORT))
    if dated_between is not None:
        live = live.filter((live.date >= dated_between[0]) & (live.date <= dated_between[1]))
    return live.select(*VIEW_COLUMNS)


def current_contacts_arrow(con, as_of: dt.datetime | dt.date | str | None = None) -> pa.Table:
    """`current_contacts` computed, as an Arrow table sorted by kombika and contact_id."""
    return current_contacts(con, as_of).order_by(["kombika", "contact_id"]).to_pyarrow()


def _as_of(as_of) -> dt.datetime:
    if isinstance(as_of, str):
        as_of = dt.datetime.fromisoformat(as_of) if "T" in as_of or " " in as_of else dt.date.fromisoformat(as_of)
    if isinstance(as_of, dt.datetime):
        return _local_naive(as_of)
    return dt.datetime.combine(as_of, dt.time.max)


# --- stateless reading (the `statements` command) ---------------------------------------------

def read_contacts(path: Path | str, master: dict[str, pa.Table], today: dt.date) -> tuple[pa.Table, pa.Table]:
    """Read and check a contact file against master data, without a database.

    Returns (contacts, errors): the live version of each contact (per key the latest
    reported_at, ties by content; cancels applied), typed as CONTACTS_SCHEMA, and one error
    row per problem. An unreadable file gives no contacts and its `unreadable` error row.
    """
    path = Path(path)
    raw, errors = read_contact_file(path)
    if raw is None:
        return CONTACTS_SCHEMA.empty_table(), errors
    con = duckdb.connect()
    try:
        run(con, "SET threads TO 2")
        for name in ("kombika", "clinics"):
            table = master.get(name)
            con.register(name, table if table is not None else CONTRACTS[name].empty_table())
        checked = check_contacts(con, raw, path.name, today, log=None)
        live = checked.keep.copy()
        if checked.repeated.num_rows:
            # Keys given more than once: the latest reported_at wins, ties by content; rows
            # without reported_at count as reported at the end of `today`.
            con.register("_gvr_repeated", checked.repeated)
            older = arrow(con, """
                SELECT _row FROM _gvr_repeated
                QUALIFY row_number() OVER (PARTITION BY kombika, contact_id
                        ORDER BY coalesce(reported_at, ?::TIMESTAMP) DESC, content_hash DESC) > 1""",
                          [dt.datetime.combine(today, dt.time.max)])["_row"].to_numpy()
            live[older] = False
        drop_checked(con, checked)
    finally:
        con.close()
    live &= mask_np(pc.equal(checked.work["record_type"], REPORT))
    contacts = checked.work.filter(pa.array(live)).rename_columns(
        {"line": "source_line"}).select(CONTACTS_SCHEMA.names)
    return contacts.cast(CONTACTS_SCHEMA), checked.errors


def write_contact_errors(errors: pa.Table, path: Path | str) -> Path:
    """contact_errors.csv: source, line, kombika, contact_id, code, field, message."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = errors.select(ERRORS_SCHEMA.names).cast(ERRORS_SCHEMA)
    pacsv.write_csv(table, str(path))
    return path
