"""The contact file contract (DESIGN.md `contacts.csv`), the error codes sent back to the
clinic, and the tables of the append-only event log, as data.
"""

from __future__ import annotations

import pyarrow as pa

from ersattning.inputs.schema import CODE, DATE, KOMBIKA, PERSON_ID, TEXT, Column, Contract

REPORT, CANCEL = "report", "cancel"
RECORD_TYPES = (REPORT, CANCEL)

CONTACT_TYPES = (
    "clinic_visit", "home_visit", "home_care_visit", "video", "phone", "team_visit",
    "group_team_visit", "group_visit",
)
PROFESSIONS = (
    "doctor", "nurse", "assistant_nurse", "psychologist", "psychotherapist", "counsellor",
    "physiotherapist", "occupational_therapist", "dietitian", "other_licensed",
)

# `required` here means "required on a report": a cancel needs only the key (and record_type).
CONTACTS = Contract("contacts", False, (
    Column("contact_id", CODE, True),
    Column("kombika", KOMBIKA, True),
    Column("person_id", PERSON_ID, True, personal=True),
    Column("date", DATE, True),
    Column("contact_type", CODE, True),
    Column("profession", CODE, True),
    Column("diagnoses", TEXT, False),
    Column("actions", TEXT, False),
    Column("record_type", CODE, False),
    Column("reported_at", TEXT, False),
    # Optional, for the care-guarantee share (RULES.md §4): 1 = the patient's first contact about
    # this need, and the date the patient first sought care. A report without them counts nothing.
    Column("first_contact", CODE, False),
    Column("requested_on", DATE, False),
))
KEY = ("kombika", "contact_id")
REQUIRED_ON_REPORT = tuple(c.name for c in CONTACTS.columns if c.required)
# The fields whose values make up a contact's content (its hash); reported_at is *when*, not *what*.
CONTENT = ("kombika", "contact_id", "record_type", "person_id", "date", "contact_type", "profession", "diagnoses", "actions")
# Content added to the contract later: hashed only when a contact carries any of it, so that a
# contact reported without these fields keeps the hash it always had (a re-sent old contact is
# `unchanged`, and the log's existing hashes stay valid).
CONTENT_ADDED = ("first_contact", "requested_on")

# Typed contacts as `read_contacts` returns them: the live version of each contact.
CONTACTS_SCHEMA = pa.schema([
    pa.field("contact_id", pa.string()),
    pa.field("kombika", pa.string()),
    pa.field("person_id", pa.string()),
    pa.field("date", pa.date32()),
    pa.field("contact_type", pa.string()),
    pa.field("profession", pa.string()),
    pa.field("diagnoses", pa.string()),
    pa.field("actions", pa.string()),
    pa.field("reported_at", pa.timestamp("us")),
    pa.field("source_line", pa.int64()),
    pa.field("first_contact", pa.bool_()),
    pa.field("requested_on", pa.date32()),
])

ERRORS_SCHEMA = pa.schema([
    pa.field("source", pa.string()),
    pa.field("line", pa.int64()),
    pa.field("kombika", pa.string()),
    pa.field("contact_id", pa.string()),
    pa.field("code", pa.string()),
    pa.field("field", pa.string()),
    pa.field("message", pa.string()),
])

# code -> what the clinic (its PAS) should do about it; sent back with every rejected row.
CONTACT_ERROR_CODES: dict[str, str] = {
    "unreadable": "The file cannot be parsed at all (not UTF-8 CSV with a header, JSON Lines or Parquet; a truncated "
                  "file; a line with the wrong number of fields; no contact_id or kombika column). Nothing in it was "
                  "taken in: fix or re-export the file and send all of it again.",
    "missing_value": "A required value is empty (a report needs contact_id, kombika, person_id, date, contact_type "
                     "and profession; a cancel needs contact_id and kombika): fill it in and report the contact again.",
    "bad_date": "The contact date is not an ISO date YYYY-MM-DD that exists in the calendar: correct it and report again.",
    "future_date": "The contact date is after the day the file was received: a contact is reported after it took "
                   "place; correct the date or report the contact once it has happened.",
    "bad_code": "A value holds characters no code has: kombika and contact_id must be printable ASCII (letters, digits "
                "and signs) exactly as given, without spaces before, after or inside them; no value may hold a "
                "control or invisible character (NUL, a zero-width space, a direction mark, a byte-order mark): "
                "correct the value in the PAS (the register never repairs a key: it could be another contact's).",
    "other_clinic_kombika": "The kombika belongs to another clinic (or reads as one: other case, spaces, full-width "
                            "digits): a clinic reports only on its own kombika; report on your clinic's kombika (a "
                            "subcontractor on its own). Nothing of the other clinic's was changed.",
    "unknown_kombika": "The kombika is not one of the region's reporting units: report on the kombika assigned to "
                       "the assignment (a subcontractor on its own kombika), or ask the region to register it.",
    "inactive_kombika": "The kombika exists but was not valid on the contact date: report on the kombika valid "
                        "that day, or correct the date.",
    "before_clinic_opened": "The contact date is before the kombika's clinic opened or after it closed: correct "
                            "the date or the kombika.",
    "bad_person_id": "Not a valid personnummer, samordningsnummer (12 digits YYYYMMDDNNNC, calendar date, serial "
                     "NNN not 000, Luhn check digit) or reservnummer (99 + 10 characters): correct the patient's identity in the PAS.",
    "bad_contact_type": "Not a contact type of the contract (clinic_visit, home_visit, home_care_visit, video, phone, "
                        "team_visit, group_team_visit, group_visit): correct it.",
    "bad_profession": "Not a profession of the contract (doctor, nurse, assistant_nurse, psychologist, "
                      "psychotherapist, counsellor, physiotherapist, occupational_therapist, dietitian, "
                      "other_licensed): correct it.",
    "bad_diagnosis": "A diagnosis is not shaped like an ICD-10-SE code (a letter, two digits, then optionally a point "
                     "and more letters or digits: J06.9, I10, F32.1; several separated by ';'): correct the code.",
    "bad_action": "An action is not shaped like a KVÅ code (two letters and three digits such as UX007 or XV016, "
                  "or three letters and two digits; several separated by ';'): correct the code.",
    "bad_record_type": "record_type must be report, cancel or empty (= report): correct it.",
    "bad_reported_at": "reported_at is not a timestamp YYYY-MM-DDTHH:MM:SS that exists in the calendar, or it is in "
                       "the future (more than 5 minutes after the file was received): correct it or leave it empty "
                       "(then the time the file was received is used).",
    "cancel_unknown": "A cancel of a contact (kombika, contact_id) that was never reported, neither before nor in the "
                      "same file: check the kombika and contact_id; nothing needs cancelling if it was never reported.",
    "bad_first_contact": "first_contact must be 1 (the patient's first contact about this need), 0 or empty: correct it "
                         "(no other spelling, such as yes, true or 2, is read).",
    "bad_requested_on": "requested_on (the day the patient first sought care) is not an ISO date YYYY-MM-DD that "
                        "exists in the calendar, or it is after the day the file was received: correct it.",
    "requested_after_contact": "requested_on is after the contact's date: the patient sought care before (or on the "
                               "day of) the contact; correct requested_on or the date.",
    "requested_too_early": "requested_on is more than 365 days before the contact's date: a first contact follows the "
                           "request within weeks, not years; correct requested_on (or leave first_contact empty if this "
                           "is no first contact).",
    "missing_requested_on": "first_contact is 1 but requested_on is empty: the care-guarantee share needs the day the "
                            "patient first sought care; fill it in (or set first_contact to 0 if this is no first contact).",
    "conflicting_duplicate": "The same contact (kombika, contact_id) appears more than once in the file, with different "
                             "content and the same reported_at (or none), so the file does not say which is right: "
                             "every row of that contact in the file was rejected; send the contact once.",
}

# The event log (append-only: rows are only ever inserted). One transaction per batch.
LOG_DDL = """
CREATE TABLE IF NOT EXISTS contact_batches (
    batch_id BIGINT, received_at TIMESTAMP, source VARCHAR, "rows" BIGINT, accepted BIGINT,
    rejected BIGINT, unchanged BIGINT
);
CREATE TABLE IF NOT EXISTS contact_events (
    event_id BIGINT, batch_id BIGINT, received_at TIMESTAMP, source VARCHAR, line BIGINT,
    kombika VARCHAR, contact_id VARCHAR, record_type VARCHAR, person_id VARCHAR, date DATE,
    contact_type VARCHAR, profession VARCHAR, diagnoses VARCHAR, actions VARCHAR,
    reported_at TIMESTAMP, content_hash VARCHAR, first_contact BOOLEAN, requested_on DATE
);
-- (a database made before the contract had first_contact and requested_on gets them: LOG_MIGRATIONS)
CREATE TABLE IF NOT EXISTS contact_errors (
    batch_id BIGINT, received_at TIMESTAMP, source VARCHAR, line BIGINT, kombika VARCHAR,
    contact_id VARCHAR, code VARCHAR, field VARCHAR, message VARCHAR
);
"""

# The current view kept as a table (register.log): per (kombika, contact_id) the winning event,
# a cancel included, maintained by each intake in its own transaction. The state row says which
# log it is the view of (its event count and last event id): a log it does not match is read
# through the window instead, so a stale table can only cost time, never change a result.
CURRENT_DDL = """
CREATE TABLE IF NOT EXISTS contact_current AS SELECT * FROM contact_events WHERE false;
CREATE TABLE IF NOT EXISTS contact_current_state (events BIGINT, last_event_id BIGINT);
"""

# The values of each rejected row as the checks read them (a value that could not be read is
# NULL): what the web app prices to say what the contact would pay once corrected. Kept beside
# contact_errors, never shown (it holds the person number as sent).
REJECTED_ROWS_DDL = """
CREATE TABLE IF NOT EXISTS contact_rejected_rows (
    batch_id BIGINT, line BIGINT, kombika VARCHAR, contact_id VARCHAR, record_type VARCHAR, person_id VARCHAR,
    date DATE, contact_type VARCHAR, profession VARCHAR, diagnoses VARCHAR, actions VARCHAR
);
"""

# Columns added to the log after it was first released: added on open to an older database
# (`ensure_log`); existing events get NULL (they carried no such field).
LOG_MIGRATIONS = (
    ("contact_events", "first_contact", "BOOLEAN"),
    ("contact_events", "requested_on", "DATE"),
)
