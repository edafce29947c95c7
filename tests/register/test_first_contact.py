"""The contact contract's optional first_contact and requested_on (the care-guarantee share,
RULES.md §4; 003_887ea947c2495c54.txt Bilaga 2 "medicinsk bedömning inom 3 dagar"): bad values get
their own codes naming the field; a contact reported without them keeps the content hash it had
before the fields existed, so re-sending an old contact is still `unchanged`."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from gvr_files import K1, PIDS, RECEIVED, contact, write_contacts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ersattning.register import (
    CONTACT_ERROR_CODES,
    current_contacts_arrow,
    ensure_log,
    intake,
)
from ersattning.register.schema import CONTENT

# The content hash as it was computed before the contract had first_contact and requested_on.
OLD_HASH_SQL = "md5(concat_ws(chr(31), length(contact_id)::VARCHAR, {}))".format(", ".join(
    f'coalesce(CAST("{c}" AS VARCHAR), \'\')' for c in CONTENT))
OLD_COLUMNS = ["contact_id", "kombika", "person_id", "date", "contact_type", "profession", "diagnoses", "actions",
               "record_type", "reported_at"]


def old_file(path, rows):
    """A contact file as a PAS wrote it before the new columns: no first_contact, no requested_on."""
    path.write_text("\n".join([",".join(OLD_COLUMNS)] + [",".join(r.get(c, "") for c in OLD_COLUMNS) for r in rows]) + "\n",
                    encoding="utf-8")
    return path


def errors_of(result) -> list[tuple[str, str]]:
    return sorted(zip(result.errors["code"].to_pylist(), result.errors["field"].to_pylist()))


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"first_contact": "2"}, "bad_first_contact", "first_contact"),
    ({"first_contact": "yes"}, "bad_first_contact", "first_contact"),
    ({"first_contact": "true"}, "bad_first_contact", "first_contact"),
    ({"first_contact": "01"}, "bad_first_contact", "first_contact"),
    ({"first_contact": "-1"}, "bad_first_contact", "first_contact"),
    ({"first_contact": "１"}, "bad_first_contact", "first_contact"),  # a full-width one is no 1
    ({"first_contact": "1", "requested_on": "2024-03-02"}, "requested_after_contact", "requested_on"),  # contact 2024-03-01
    ({"first_contact": "1", "requested_on": "2024-06-02"}, "bad_requested_on", "requested_on"),  # after the day received
    ({"first_contact": "1", "requested_on": "2024-02-30"}, "bad_requested_on", "requested_on"),
    ({"first_contact": "1", "requested_on": "29/02/2024"}, "bad_requested_on", "requested_on"),
    ({"first_contact": "1", "requested_on": "yesterday"}, "bad_requested_on", "requested_on"),
    ({"first_contact": "1", "requested_on": "2023-02-29"}, "bad_requested_on", "requested_on"),
    ({"first_contact": "1", "requested_on": "2023-02-28"}, "requested_too_early", "requested_on"),  # 367 days before
    ({"first_contact": "1", "requested_on": "1900-01-01"}, "requested_too_early", "requested_on"),
    ({"first_contact": "1"}, "missing_requested_on", "requested_on"),
    ({"first_contact": "1", "requested_on": "   "}, "missing_requested_on", "requested_on"),
])
def test_bad_first_contact_values_are_rejected_naming_the_field(db, tmp_path, changes, code, field):
    result = intake(db, write_contacts(tmp_path / "c.csv", [contact("k1", **changes)]), received_at=RECEIVED)
    assert result.rejected == 1 and errors_of(result) == [(code, field)]
    assert code in CONTACT_ERROR_CODES
    # No person number in any message.
    assert not any(p in m for m in result.errors["message"].to_pylist() for p in PIDS)


@pytest.mark.parametrize(("changes", "first", "requested"), [
    ({"first_contact": " 1", "requested_on": " 2024-02-28 "}, True, dt.date(2024, 2, 28)),  # spaces around are dropped
    ({"first_contact": "1", "requested_on": "2024-03-01"}, True, dt.date(2024, 3, 1)),      # the same day
    ({"first_contact": "1", "requested_on": "2023-03-02"}, True, dt.date(2023, 3, 2)),      # 365 days before: the bound
    ({"first_contact": "0", "requested_on": ""}, False, None),
    ({"first_contact": "0", "requested_on": "2024-02-20"}, False, dt.date(2024, 2, 20)),    # kept, not counted
    ({}, None, None),
])
def test_good_values_are_stored_typed(db, tmp_path, changes, first, requested):
    result = intake(db, write_contacts(tmp_path / "c.csv", [contact("k1", **changes)]), received_at=RECEIVED)
    assert result.rejected == 0, result.errors.to_pylist()
    [row] = current_contacts_arrow(db).to_pylist()
    assert (row["first_contact"], row["requested_on"]) == (first, requested)


def test_a_contact_without_the_new_fields_keeps_its_old_hash_and_a_resend_is_unchanged(db, tmp_path):
    rows = [contact("k1"), contact("k2", actions="XV016", diagnoses="")]
    first = intake(db, old_file(tmp_path / "old.csv", rows), received_at=RECEIVED)
    assert first.accepted == 2
    con = db.con.con
    same = con.execute(f"SELECT count(*) FROM contact_events WHERE content_hash = {OLD_HASH_SQL}").fetchall()[0][0]
    assert same == 2  # the stored hash is the hash as it always was
    again = intake(db, old_file(tmp_path / "again.csv", rows), received_at=RECEIVED + dt.timedelta(hours=1))
    assert (again.accepted, again.unchanged) == (0, 2)
    # The same contacts in a file that has the new columns, left empty: still unchanged.
    empty = intake(db, write_contacts(tmp_path / "new.csv", rows), received_at=RECEIVED + dt.timedelta(hours=2))
    assert (empty.accepted, empty.unchanged) == (0, 2)
    # Marking one as a first contact changes its content: a new version.
    marked = intake(db, write_contacts(tmp_path / "marked.csv", [
        contact("k1", first_contact="1", requested_on="2024-02-29", reported_at="2024-03-02T10:00:00")]),
        received_at=RECEIVED + dt.timedelta(hours=3))
    assert marked.accepted == 1


def test_a_log_made_before_the_new_columns_gets_them_and_old_events_stay_unchanged(tmp_path):
    """An older database: contact_events without first_contact and requested_on. Opening it adds
    them (NULL for the old events); re-sending an old contact changes nothing."""
    from gvr_files import MASTER

    from ersattning.store import open_engine, store_inputs

    path = tmp_path / "old.duckdb"
    engine = open_engine(path)
    store_inputs(engine, MASTER)
    intake(engine, old_file(tmp_path / "a.csv", [contact("k1")]), received_at=RECEIVED)
    con = engine.con.con
    con.execute("ALTER TABLE contact_events DROP COLUMN first_contact")
    con.execute("ALTER TABLE contact_events DROP COLUMN requested_on")
    engine.con.disconnect()
    engine = open_engine(path)
    try:
        ensure_log(engine.con.con)
        cols = {r[0] for r in engine.con.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contact_events'").fetchall()}
        assert {"first_contact", "requested_on"} <= cols
        again = intake(engine, old_file(tmp_path / "b.csv", [contact("k1")]), received_at=RECEIVED + dt.timedelta(hours=1))
        assert (again.accepted, again.unchanged) == (0, 1)
        [row] = current_contacts_arrow(engine).to_pylist()
        assert row["first_contact"] is None and row["requested_on"] is None
    finally:
        engine.con.disconnect()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(diagnoses=st.sampled_from(["J06.9", "I10;E11.9", ""]), actions=st.sampled_from(["", "XV016", "UX007"]),
       profession=st.sampled_from(["doctor", "nurse", "assistant_nurse"]), contact_id=st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True))
def test_any_contact_without_the_new_fields_hashes_as_before(diagnoses, actions, profession, contact_id):
    """The hash the register computes for a contact without the new fields equals the old formula."""
    from ersattning.register.validate import CONTENT_HASH_SQL

    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT ?::VARCHAR AS kombika, ?::VARCHAR AS contact_id, 'report' AS record_type, "
                    "?::VARCHAR AS person_id, DATE '2024-03-01' AS date, 'clinic_visit' AS contact_type, "
                    "?::VARCHAR AS profession, nullif(?, '') AS diagnoses, nullif(?, '') AS actions, "
                    "NULL::BOOLEAN AS first_contact, NULL::DATE AS requested_on",
                    [K1, contact_id, PIDS[0], profession, diagnoses, actions])
        new, old = con.execute(f"SELECT {CONTENT_HASH_SQL}, {OLD_HASH_SQL} FROM t").fetchall()[0]
        assert new == old
        marked = con.execute(f"SELECT {CONTENT_HASH_SQL} FROM (SELECT * REPLACE (true AS first_contact) FROM t)").fetchall()[0][0]
        assert marked != old
    finally:
        con.close()
