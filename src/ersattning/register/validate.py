"""Checks a batch of contact rows on whole columns (pyarrow.compute, numpy; DuckDB SQL over the
Arrow batch for kombika, clinic dates, repeated keys and cancels): one error row per problem.
The values checked are the values stored: ids are refused, never repaired, and the sender's
right to a kombika is checked here, on the same value."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.inputs.schema import SOURCE_LINE
from ersattning.ids import classify
from ersattning.inputs.parse import (
    INVISIBLE, dictionary_parse, hide_person_numbers, mask_np, parse_dates, person_id_problems, plain_ascii, shown,
)
from ersattning.register.schema import (
    CANCEL, CONTACT_TYPES, CONTACTS, CONTENT, CONTENT_ADDED, ERRORS_SCHEMA, KEY, PROFESSIONS, RECORD_TYPES, REPORT, REQUIRED_ON_REPORT,
)

_NULL = pa.scalar(None, pa.string())
_ECHO = 40  # long values are cut in messages: enough to recognise, not a dump
_ICD10 = r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,5})?"
_KVA = r"([A-Z]{2}[0-9]{3}|[A-Z]{3}[0-9]{2})"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?)?$"
_FIELD_ORDER = {name: i for i, name in enumerate(CONTACTS.column_names)}
# The key: stored as given, so refused unless it is printable ASCII without any space (a
# repaired key could be another clinic's, or a look-alike of one).
_ID_FIELDS = ("kombika", "contact_id")
_PRINTABLE_ASCII = r"^[\x21-\x7E]+$"
# What a reader would not see in a kombika: any Unicode space, control or format character.
_UNSEEN = r"[\p{Z}\p{Cc}\p{Cf}\s]+"
FUTURE_SLACK = dt.timedelta(minutes=5)  # a PAS clock a little ahead of ours is not an error
# requested_on further before the contact than this is refused: a first contact follows the
# request within days or weeks (the care guarantee's 3 days); a year is surely a wrong date.
MAX_REQUEST_AGE = dt.timedelta(days=365)
FIRST_CONTACT_VALUES = ("0", "1")

# The content of a contact, hashed: equal content = equal hash, on every run and every version
# (md5 is stable; DuckDB's hash() is not). Empty is null after cleaning, so '' marks null
# unambiguously, and contact_id (the only free text) carries its length.
# The fields added later (CONTENT_ADDED) are one more part only when the contact carries any of
# them: concat_ws skips a NULL part, so a contact without them hashes exactly as before.
CONTENT_HASH_SQL = "md5(concat_ws(chr(31), length(contact_id)::VARCHAR, {}, {}))".format(", ".join(
    f'coalesce(CAST("{c}" AS VARCHAR), \'\')' for c in CONTENT),
    "CASE WHEN {} THEN NULL ELSE concat_ws(chr(30), {}) END".format(
        " AND ".join(f'"{c}" IS NULL' for c in CONTENT_ADDED),
        ", ".join(f'coalesce(CAST("{c}" AS VARCHAR), \'\')' for c in CONTENT_ADDED)))


@dataclass
class Checked:
    """One validated batch, registered in DuckDB as the Arrow view `view` (columns _row, line,
    kombika, contact_id, record_type, person_id, date, contact_type, profession, diagnoses,
    actions, reported_at, _keep). `_keep` marks the rows that passed every check, one per
    distinct event (identical repeats in the batch are kept once). `repeated` holds the kept
    rows of keys given more than once, with their content_hash (the only rows for which the
    batch itself must choose a version)."""

    view: str
    work: pa.Table
    keep: np.ndarray
    repeated: pa.Table
    rows: int
    rejected: int
    errors: pa.Table

    @property
    def passed(self) -> int:
        return int(self.keep.sum())

    @property
    def repeats(self) -> int:
        return self.rows - self.rejected - self.passed

    def replace(self, con: duckdb.DuckDBPyConnection, **columns: pa.Array) -> None:
        """Set (or add) columns of the view."""
        for name, values in columns.items():
            i = self.work.schema.get_field_index(name)
            self.work = self.work.set_column(i, name, values) if i >= 0 else self.work.append_column(name, values)
        con.unregister(self.view)
        con.register(self.view, self.work)


def check_contacts(con: duckdb.DuckDBPyConnection, raw: pa.Table, source: str, today: dt.date,
                   log: str | None = None, received_at: dt.datetime | None = None,
                   sender_clinic: str | None = None) -> Checked:
    """Check `raw` (text columns of the contract and `source_line`) against the master data in
    `con` (tables or views `kombika` and `clinics`) and, for cancels, the event table `log`.

    `received_at` (default: the end of `today`) bounds reported_at. `sender_clinic` is the
    clinic whose token sent the batch (None: the region's own file intake): a row on a kombika
    of another clinic, or on anything that reads as one, is `other_clinic_kombika` and gets no
    check that would tell the sender about that clinic's contacts.

    Only the few rows that share a key or cancel a contact go through row-to-row SQL; the
    bulk of a batch is checked column by column. The caller unregisters the view when done
    (`drop_checked`).
    """
    n = raw.num_rows
    given = {c: _text(raw.column(c).combine_chunks() if c in raw.column_names else pa.nulls(n, pa.string()))
             for c in CONTACTS.column_names}
    cols = {c: _clean(v) for c, v in given.items()}
    lines = raw.column(SOURCE_LINE).combine_chunks().cast(pa.int64())
    problems = _Problems(n)
    received_at = received_at or dt.datetime.combine(today, dt.time.max)
    cols = _check_codes(given, cols, problems)
    foreign = _other_clinics_kombika(con, given["kombika"], sender_clinic) if sender_clinic is not None else np.zeros(n, bool)
    problems.add(foreign, "kombika", "other_clinic_kombika",
                 "the kombika belongs to another clinic (it is not repeated here): report on your own clinic's "
                 "kombika (a subcontractor on its own)")
    if foreign.any():  # no kombika check on it: unknown, inactive or closed would describe the other clinic
        cols["kombika"] = pc.if_else(pa.array(foreign), _NULL, cols["kombika"])
        refused = cols.get("_kombika_refused")
        cols["_kombika_refused"] = pa.array(foreign | (mask_np(refused) if refused is not None else False))
    typed = _check_values(cols, today, received_at, problems)
    work = pa.table({"_row": pa.array(np.arange(n, dtype=np.int64)), "line": lines, **typed,
                     "_keep": pa.array(np.ones(n, bool))})
    checked = Checked(f"_gvr_batch_{uuid.uuid4().hex[:12]}", work, np.ones(n, bool),
                      _REPEATED_SCHEMA.empty_table(), n, 0, ERRORS_SCHEMA.empty_table())
    con.register(checked.view, work)
    try:
        problems.add_rows(arrow(con, _KOMBIKA_CHECK.format(batch=checked.view)))
        checked.replace(con, _keep=pa.array(~problems.bad))
        repeated = arrow(con, _REPEATED.format(batch=checked.view, hash=CONTENT_HASH_SQL))
        repeat = np.zeros(n, bool)
        if repeated.num_rows:
            con.register(f"{checked.view}_r", repeated)
            try:
                flags = arrow(con, _DUPLICATES.format(repeated=f"{checked.view}_r"))
            finally:
                con.unregister(f"{checked.view}_r")
            problems.add_rows(flags.filter(flags["code"].is_valid()))
            repeat[flags.filter(pc.and_(flags["_repeat"], flags["code"].is_null()))["_row"].to_numpy()] = True
        ok = ~problems.bad
        if (ok & mask_np(pc.equal(work["record_type"], CANCEL))).any():
            checked.replace(con, _keep=pa.array(ok))
            known = f"SELECT kombika, contact_id FROM {log} WHERE record_type = '{REPORT}'" if log else None
            problems.add_rows(arrow(con, _CANCELS.format(batch=checked.view, known=known or _NO_KEYS)))
        keep = ~problems.bad & ~repeat
        checked.replace(con, _keep=pa.array(keep))
    except BaseException:
        con.unregister(checked.view)
        raise
    checked.keep = keep
    rows_kept = pc.is_in(repeated["_row"], value_set=pa.array(np.flatnonzero(keep), pa.int64()))
    checked.repeated = repeated.filter(rows_kept)
    checked.rejected = int(problems.bad.sum())
    # The echo of the sender's key; none for a row on another clinic's kombika, so the error
    # row names nothing of that clinic (its lists, traces and `fixed` marks never match it).
    echoed = pc.if_else(pa.array(foreign), _NULL, given["kombika"]) if foreign.any() else given["kombika"]
    checked.errors = problems.table(source, lines, echoed, given["contact_id"])
    return checked


def drop_checked(con: duckdb.DuckDBPyConnection, checked: Checked) -> None:
    con.unregister(checked.view)


def run(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> list[tuple]:
    """Run a statement to its end (DuckDB 2.0 refuses new work while a result is unread)."""
    return con.execute(query, params or []).fetchall()


def arrow(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> pa.Table:
    return con.sql(query, params=params).to_arrow_table()


# --- values, on whole columns ----------------------------------------------------------------

def _text(values: pa.Array) -> pa.Array:
    return values if values.type == pa.string() else values.cast(pa.string())


def _clean(values: pa.Array) -> pa.Array:
    """Surrounding whitespace dropped; empty (or whitespace only) = missing. Only the
    tolerant fields keep the trimmed value: the key's values are refused when it changes them."""
    values = pc.utf8_trim_whitespace(values)
    empty = pc.equal(pc.binary_length(values), 0)
    return pc.if_else(empty, _NULL, values) if pc.any(empty).as_py() else values


_CODE_RULE = "a code is printable ASCII (letters A-Z, digits and signs) without spaces"
_CODE_REASONS = pa.array([
    " contains a control or invisible character (such as NUL, a zero-width space, a direction mark or a "
    "byte-order mark)",
    " has spaces before, after or inside it: " + _CODE_RULE,
    " has a character that is not ASCII (such as a letter from another alphabet or a full-width digit): " + _CODE_RULE,
], pa.string())


def _check_codes(given: dict[str, pa.Array], cols: dict[str, pa.Array], problems: "_Problems") -> dict[str, pa.Array]:
    """`bad_code` for a key value (kombika, contact_id) that is not printable ASCII exactly as
    given, and for a control or invisible character in any other value (after trimming its
    surrounding whitespace). The refused values are left out of the later checks of their field
    (a row whose value is missing still gets `missing_value`, below)."""
    out = dict(cols)
    for name in CONTACTS.column_names:
        present = mask_np(cols[name].is_valid())
        if not present.any():
            continue
        if name in _ID_FIELDS:
            v = given[name]
            if plain_ascii(v, 0x21):  # every byte printable ASCII: no value of the column can be refused
                continue
            bad = present & ~mask_np(pc.match_substring_regex(v, _PRINTABLE_ASCII))
        else:
            v = cols[name]
            if plain_ascii(v, 0x20):
                continue
            bad = present & mask_np(pc.match_substring_regex(v, INVISIBLE))
        if not bad.any():
            continue
        problems.add(bad, name, "bad_code", _code_reason(name, v))
        out[name] = pc.if_else(pa.array(bad), _NULL, cols[name])
        out[f"_{name}_refused"] = pa.array(bad)
    return out


def _code_reason(name: str, values: pa.Array):
    def build(idx: np.ndarray) -> pa.Array:
        sub = values.take(pa.array(idx, pa.int64()))
        invisible = mask_np(pc.match_substring_regex(sub, INVISIBLE))
        spaced = mask_np(pc.match_substring_regex(sub, r"[\s\p{Z}]"))
        reason = np.where(invisible, 0, np.where(spaced, 1, 2))
        return pc.binary_join_element_wise(name, _CODE_REASONS.take(pa.array(reason)), "")
    return build


def _canonical(values: pa.Array) -> pa.Array:
    """What a kombika reads as: compatibility forms folded (full-width digits), every space,
    control and format character removed, upper case."""
    return pc.utf8_upper(pc.replace_substring_regex(pc.utf8_normalize(values, "NFKC"), _UNSEEN, ""))


def _other_clinics_kombika(con: duckdb.DuckDBPyConnection, kombika: pa.Array, sender: str) -> np.ndarray:
    """The rows whose kombika, as given, is not one of the sender's but reads as (or is) a
    kombika of another clinic in the kombika table (any validity row)."""
    present = mask_np(kombika.is_valid())
    if not present.any():
        return present
    owners = arrow(con, "SELECT DISTINCT kombika, clinic_id FROM kombika")
    mine = mask_np(pc.equal(owners["clinic_id"], sender))
    others = owners["kombika"].filter(pa.array(~mine)).combine_chunks()
    own = owners["kombika"].filter(pa.array(mine)).combine_chunks()
    if not len(others):
        return np.zeros(len(kombika), bool)
    encoded = pc.dictionary_encode(kombika)  # a batch has few distinct kombika: fold each once
    distinct = encoded.dictionary
    foreign = pc.and_(pc.is_in(_canonical(distinct), value_set=_canonical(others)),
                      pc.invert(pc.is_in(distinct, value_set=own)))
    return present & mask_np(foreign.take(encoded.indices))


def _check_values(cols: dict[str, pa.Array], today: dt.date, received_at: dt.datetime,
                  problems: "_Problems") -> dict[str, pa.Array]:
    """Value checks; returns the typed columns (content of cancels left empty: a cancel
    carries only its key)."""
    rt = cols["record_type"]
    rt_norm = pc.utf8_lower(rt)
    bad_rt = mask_np(rt.is_valid()) & ~mask_np(pc.is_in(rt_norm, value_set=pa.array(RECORD_TYPES)))
    problems.add(bad_rt, "record_type", "bad_record_type", _echo(rt, " is not a record type: report, cancel or empty (= report)"))
    cancel = mask_np(pc.equal(rt_norm, CANCEL))
    report = ~cancel  # a row of unknown record type is checked as a report, to say all that is wrong

    for name in REQUIRED_ON_REPORT:
        needed = np.ones_like(cancel) if name in KEY else report
        missing = needed & ~mask_np(cols[name].is_valid())
        if f"_{name}_refused" in cols:  # given, but refused as bad_code: not missing
            missing &= ~mask_np(cols[f"_{name}_refused"])
        what = f"{name} is required" + ("" if name in KEY else " on a report (it may be empty only on a cancel)")
        problems.add(missing, name, "missing_value", what)

    date, wrong, _, _ = dictionary_parse(cols["date"], parse_dates)
    problems.add(wrong & report, "date", "bad_date", _echo(cols["date"], " is not a calendar date in the form YYYY-MM-DD"))
    future = report & mask_np(pc.greater(date, pa.scalar(today, pa.date32())))
    problems.add(future, "date", "future_date", _echo(cols["date"], f" is after the day the file was received ({today.isoformat()})"))

    pid = cols["person_id"]
    invalid = report & mask_np(pid.is_valid()) & ~mask_np(classify(pid).is_valid())
    problems.add(invalid, "person_id", "bad_person_id", _person_id_reason(pid))

    for name, allowed, code in (("contact_type", CONTACT_TYPES, "bad_contact_type"), ("profession", PROFESSIONS, "bad_profession")):
        v = cols[name]
        wrong = report & mask_np(v.is_valid()) & ~mask_np(pc.is_in(v, value_set=pa.array(allowed)))
        problems.add(wrong, name, code, _echo(v, f" is not a {name.replace('_', ' ')} of the contract"))

    codes = {}
    for name, pattern, code, what in (("diagnoses", _ICD10, "bad_diagnosis", "an ICD-10-SE code (like J06.9, I10, F32.1)"),
                                      ("actions", _KVA, "bad_action", "a KVÅ code (like UX007, XV016)")):
        normal, wrong, _, _ = dictionary_parse(cols[name], _code_list(pattern))
        codes[name] = normal
        problems.add(wrong & report, name, code, _first_bad_code(normal, pattern, what))

    ra = cols["reported_at"]
    reported_at, wrong = _parse_timestamps(ra)
    problems.add(wrong, "reported_at", "bad_reported_at", _echo(ra, " is not a timestamp YYYY-MM-DDTHH:MM:SS that exists"))
    # A version dated in the future would outrank every correction and cancel until then.
    limit = received_at + FUTURE_SLACK
    ahead = mask_np(pc.greater(reported_at, pa.scalar(limit, pa.timestamp("us"))))
    problems.add(ahead, "reported_at", "bad_reported_at", _echo(
        ra, f" is in the future: more than {FUTURE_SLACK.seconds // 60} minutes after the batch was received "
            f"({received_at.replace(microsecond=0).isoformat()})"))
    if ahead.any():
        reported_at = pc.if_else(pa.array(ahead), pa.scalar(None, reported_at.type), reported_at)

    first_contact, requested_on = _check_first_contact(cols, date, today, report, problems)

    keep = pa.array(report)

    def content(v: pa.Array) -> pa.Array:  # a cancel carries no content
        return v if report.all() else pc.if_else(keep, v, pa.scalar(None, v.type))

    return {
        "kombika": cols["kombika"], "contact_id": cols["contact_id"],
        "record_type": pa.array(np.where(cancel, CANCEL, REPORT)),
        "person_id": content(pid), "date": content(date),
        "contact_type": content(cols["contact_type"]), "profession": content(cols["profession"]),
        "diagnoses": content(codes["diagnoses"]), "actions": content(codes["actions"]),
        "reported_at": reported_at,
        "first_contact": content(first_contact), "requested_on": content(requested_on),
    }


def _check_first_contact(cols: dict[str, pa.Array], date: pa.Array, today: dt.date, report: np.ndarray,
                         problems: _Problems) -> tuple[pa.Array, pa.Array]:
    """first_contact (0/1/empty, surrounding spaces dropped as in every non-key value) and
    requested_on (an ISO date not after the contact date nor the day received, at most
    MAX_REQUEST_AGE before the contact); a first contact needs its requested_on. Typed:
    (boolean, date32)."""
    fc = cols["first_contact"]
    bad = report & mask_np(fc.is_valid()) & ~mask_np(pc.is_in(fc, value_set=pa.array(FIRST_CONTACT_VALUES)))
    problems.add(bad, "first_contact", "bad_first_contact", _echo(fc, " is not 1, 0 or empty"))
    first = pc.equal(fc, "1")
    first = pc.if_else(pa.array(bad), pa.scalar(None, pa.bool_()), first) if bad.any() else first
    ro = cols["requested_on"]
    requested, wrong, _, _ = dictionary_parse(ro, parse_dates)
    problems.add(wrong & report, "requested_on", "bad_requested_on", _echo(ro, " is not a calendar date in the form YYYY-MM-DD"))
    future = report & mask_np(pc.greater(requested, pa.scalar(today, pa.date32())))
    problems.add(future, "requested_on", "bad_requested_on",
                 _echo(ro, f" is after the day the file was received ({today.isoformat()})"))
    after = report & ~future & mask_np(pc.greater(requested, date))
    problems.add(after, "requested_on", "requested_after_contact", _echo(ro, " is after the contact's date"))
    oldest = pc.subtract(date.cast(pa.timestamp("s")), pa.scalar(MAX_REQUEST_AGE)).cast(pa.date32())
    early = report & mask_np(pc.less(requested, oldest))
    problems.add(early, "requested_on", "requested_too_early",
                 _echo(ro, f" is more than {MAX_REQUEST_AGE.days} days before the contact's date"))
    without = report & mask_np(first) & ~mask_np(ro.is_valid())
    problems.add(without, "requested_on", "missing_requested_on",
                 "requested_on is required when first_contact is 1 (the day the patient first sought care)")
    return first, requested


def _person_id_reason(ids: pa.Array):
    """Messages for the invalid identifiers: which check failed, never the number itself."""
    def build(idx: np.ndarray) -> pa.Array:
        sub = ids.take(pa.array(idx, pa.int64()))
        _, (reason, reasons) = person_id_problems(sub)
        return pc.binary_join_element_wise("person_id", reasons.take(pa.array(reason)), "")
    return build


def _code_list(pattern: str):
    """A `_dictionary_parse` parser for `;`-separated codes: upper-case, spaces and empty
    elements dropped; valid when every element has the code's shape (empty = none given)."""
    full = f"^{pattern}(;{pattern})*$"

    def parse(unique: pa.Array):
        norm = pc.utf8_upper(unique)
        norm = pc.replace_substring_regex(norm, r"\s+", "")
        norm = pc.replace_substring_regex(norm, r";;+", ";")
        norm = pc.utf8_trim(norm, ";")
        norm = pc.if_else(pc.equal(pc.binary_length(norm), 0), _NULL, norm)
        ok = ~mask_np(norm.is_valid()) | mask_np(pc.match_substring_regex(norm, full))
        return norm, ok, None
    return parse


def _first_bad_code(normal: pa.Array, pattern: str, what: str):
    """Message naming the first element of each row that is not a code."""
    def build(idx: np.ndarray) -> pa.Array:
        lists = pc.split_pattern(normal.take(pa.array(idx, pa.int64())), ";")
        flat = pc.list_flatten(lists)
        parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~mask_np(pc.match_substring_regex(flat, f"^{pattern}$")))
        _, first = np.unique(parent[bad], return_index=True)  # parents ascend: first bad of each row
        echo = shown(flat.take(pa.array(bad[first], pa.int64())), _ECHO)
        return pc.binary_join_element_wise("'", echo, f"' is not {what}", "")
    return build


def _parse_timestamps(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """timestamp[us] (null where missing or bad) and the mask of present values that are bad.
    `YYYY-MM-DDTHH:MM:SS` (a space for T, fractions of a second and a bare date are accepted:
    a Parquet timestamp read as text looks like that); the date must exist."""
    present = mask_np(values.is_valid())
    shaped = mask_np(pc.match_substring_regex(values, _TIMESTAMP))
    _, bad_day, _, _ = dictionary_parse(pc.utf8_slice_codeunits(values, 0, 10), parse_dates)
    ok = shaped & ~bad_day
    good = values if ok.all() else pc.if_else(pa.array(ok), values, _NULL)
    return good.cast(pa.timestamp("us")), present & ~ok


def _echo(values: pa.Array, tail: str):
    """Message "'value' tail" for the rows in error (built only for them)."""
    def build(idx: np.ndarray) -> pa.Array:
        echo = shown(values.take(pa.array(idx, pa.int64())), _ECHO)
        return pc.binary_join_element_wise("'", echo, "'" + tail, "")
    return build


# --- rules between rows and against the master data (DuckDB SQL) ---------------------------

# Rows with a kombika problem: unknown; not valid on the contact date; the clinic behind the
# kombika row valid that day not open that day. Kombika validity does not overlap (checked
# at load), so the join gives at most one row per contact.
_KOMBIKA_CHECK = """
    WITH known AS (SELECT DISTINCT kombika FROM kombika),
    b AS (SELECT _row, kombika, "date", record_type FROM {batch} WHERE kombika IS NOT NULL),
    j AS (
        SELECT b._row, b.kombika, b."date", b.record_type, kn.kombika IS NULL AS unknown,
               k.kombika IS NOT NULL AS active, c.opened, c.closed
        FROM b LEFT JOIN known kn ON kn.kombika = b.kombika
        LEFT JOIN kombika k ON k.kombika = b.kombika AND b."date" IS NOT NULL
             AND b."date" >= k.valid_from AND b."date" <= coalesce(k.valid_to, DATE '9999-12-31')
        LEFT JOIN clinics c ON c.clinic_id = k.clinic_id)
    SELECT _row, 'kombika' AS field, 'unknown_kombika' AS code,
           'the kombika is not a reporting unit of the region' AS message
    FROM j WHERE unknown
    UNION ALL
    SELECT _row, 'kombika', 'inactive_kombika',
           'kombika ' || kombika || ' is not valid on ' || "date"
    FROM j WHERE NOT unknown AND record_type = 'report' AND "date" IS NOT NULL AND NOT active
    UNION ALL
    SELECT _row, 'date', 'before_clinic_opened',
           CASE WHEN "date" < opened THEN "date" || ' is before the clinic of kombika ' || kombika || ' opened (' || opened || ')'
                ELSE "date" || ' is after the clinic of kombika ' || kombika || ' closed (' || closed || ')' END
    FROM j WHERE active AND ("date" < opened OR "date" > closed)
"""

_REPEATED_SCHEMA = pa.schema([
    pa.field("_row", pa.int64()), pa.field("line", pa.int64()), pa.field("kombika", pa.string()),
    pa.field("contact_id", pa.string()), pa.field("record_type", pa.string()),
    pa.field("reported_at", pa.timestamp("us")), pa.field("content_hash", pa.string()),
])
_NO_KEYS = "SELECT NULL::VARCHAR AS kombika, NULL::VARCHAR AS contact_id WHERE false"

# The good rows whose key is given more than once in the batch (usually none), hashed.
_REPEATED = """
    WITH twice AS (SELECT kombika, contact_id FROM {batch} WHERE _keep GROUP BY ALL HAVING count(*) > 1)
    SELECT _row, line, kombika, contact_id, record_type, reported_at, {hash} AS content_hash
    FROM {batch} SEMI JOIN twice USING (kombika, contact_id) WHERE _keep
"""

# Among those: conflicting_duplicate when the same key has different content at the same
# reported_at (or none): the batch does not say which is right, so every row of that key is
# rejected. A repeat (same key, content and reported_at as an earlier line) is kept once.
_DUPLICATES = """
    WITH flagged AS (
        SELECT *, min(content_hash) OVER k <> max(content_hash) OVER k AS conflict,
               row_number() OVER (PARTITION BY kombika, contact_id, reported_at, content_hash ORDER BY line) > 1 AS _repeat
        FROM {repeated} WINDOW k AS (PARTITION BY kombika, contact_id, reported_at)),
    conflicted AS (
        SELECT kombika, contact_id, string_agg(line::VARCHAR, ', ' ORDER BY line) AS all_lines
        FROM flagged GROUP BY kombika, contact_id HAVING bool_or(conflict))
    SELECT f._row, f._repeat, 'contact_id' AS field,
           CASE WHEN c.all_lines IS NOT NULL THEN 'conflicting_duplicate' END AS code,
           'this contact is on lines ' || c.all_lines || ' of the file, with different content for the same '
           || 'reported_at; every row of it was rejected' AS message
    FROM flagged f LEFT JOIN conflicted c USING (kombika, contact_id)
"""

# cancel_unknown: a good cancel of a key that has no good report in the batch nor in the log.
_CANCELS = """
    SELECT c._row, 'contact_id' AS field, 'cancel_unknown' AS code,
           'nothing to cancel: this contact (kombika, contact_id) was never reported' AS message
    FROM {batch} c
    WHERE c._keep AND c.record_type = 'cancel'
      AND NOT EXISTS (SELECT 1 FROM {batch} r WHERE r._keep AND r.record_type = 'report'
                      AND r.kombika = c.kombika AND r.contact_id = c.contact_id)
      AND NOT EXISTS (SELECT 1 FROM ({known}) e WHERE e.kombika = c.kombika AND e.contact_id = c.contact_id)
"""


# --- the error collector ---------------------------------------------------------------------

class _Problems:
    """Error rows gathered per check as (row index, field, code, message) tables; `bad` marks
    every row with at least one problem."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, bool)
        self.parts: list[pa.Table] = []

    def add(self, mask: np.ndarray, field: str, code: str, message) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.bad[idx] = True
        k = len(idx)
        msg = pa.repeat(pa.scalar(message), k) if isinstance(message, str) else message(idx)
        self.parts.append(pa.table({
            "_row": pa.array(idx, pa.int64()), "field": pa.repeat(pa.scalar(field), k),
            "code": pa.repeat(pa.scalar(code), k), "message": msg.cast(pa.string()),
        }))

    def add_rows(self, t: pa.Table) -> None:
        """Rows from a query with columns _row, field, code, message."""
        if not t.num_rows:
            return
        idx = t.column("_row").to_numpy().astype(np.int64)
        self.bad[idx] = True
        self.parts.append(pa.table({
            "_row": pa.array(idx, pa.int64()), "field": t.column("field").cast(pa.string()),
            "code": t.column("code").cast(pa.string()), "message": t.column("message").cast(pa.string()),
        }))

    def table(self, source: str, lines: pa.Array, kombika: pa.Array, contact_id: pa.Array) -> pa.Table:
        if not self.parts:
            return ERRORS_SCHEMA.empty_table()
        t = pa.concat_tables(self.parts).combine_chunks()
        rows = t.column("_row")
        field_rank = pc.index_in(t.column("field"), value_set=pa.array(list(_FIELD_ORDER)))
        order = pc.sort_indices(pa.table({"r": rows, "f": field_rank, "c": t.column("code")}),
                                sort_keys=[("r", "ascending"), ("f", "ascending"), ("c", "ascending")])
        t, rows = t.take(order), rows.take(order)
        n = t.num_rows
        return pa.table({
            "source": pa.repeat(pa.scalar(source, pa.string()), n),
            "line": lines.take(rows),
            "kombika": shown(kombika.take(rows), _ECHO),
            "contact_id": shown(contact_id.take(rows), _ECHO),
            # Every message once more through the mask: whatever a check echoed, no person number.
            "code": t.column("code"), "field": t.column("field"), "message": hide_person_numbers(t.column("message")),
        }, schema=ERRORS_SCHEMA)

