"""Hostile intake, one test per hole (issue 10, points 1, 5, 8 and 9): a clinic reporting on
another clinic's kombika, or on a look-alike of it; a version dated in the future; a person
number put in another field; broken input files; invisible characters in ids; serial 000.

Against a real server where the hole is in the API (the `server` fixture), against the
register (`intake_table`) where many cases must be tried fast."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from af_region import KA, KB, P_ADULT, P_CHILD, RECEIVED, build, contact
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ersattning.inputs import read_raw
from ersattning.register import current_contacts_arrow, intake, intake_table, records_table
from ersattning.register.read import read_contact_file

# A person number as it may be typed anywhere: 12 digits, with a separator, the 10-digit forms.
PERSON_NUMBER_FORMS = (P_ADULT, f"{P_ADULT[:8]}-{P_ADULT[8:]}", f"{P_ADULT[2:8]}-{P_ADULT[8:]}", P_ADULT[2:],
                       f"{P_ADULT[2:8]}+{P_ADULT[8:]}", f"x{P_ADULT}y")
LOOKS_LIKE_A_PERSON_NUMBER = re.compile(r"[0-9]{10}|[0-9]{6}[-+ ][0-9]{4}")
LATER = RECEIVED + dt.timedelta(days=1)


# --- helpers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """The tiny AF region (A1 on KA, B1 on KB; b-1 reported on KB) in a DuckDB file, not run."""
    engine = build(tmp_path_factory.mktemp("holes") / "af.duckdb", run=False)
    yield engine
    engine.con.disconnect()


def b_state(engine) -> tuple:
    """Everything the register holds under B's kombika: its events (so its live contacts) and error rows."""
    return engine.con.con.execute(f"""
        SELECT (SELECT count(*) FROM contact_events WHERE kombika = '{KB}'),
               (SELECT max(event_id) FROM contact_events WHERE kombika = '{KB}'),
               (SELECT count(*) FROM contact_errors WHERE kombika = '{KB}')""").fetchall()


def post(server, token, *records):
    r = server.client(token).post("/api/v1/contacts", json={"contacts": list(records)})
    assert r.status_code == 200, r.text
    return r.json()


def b1_status(server, contact_id: str = "b-1") -> str:
    r = server.client(server.clinic_b).get(f"/api/v1/contacts/{KB}/{contact_id}/trace")
    return r.json()["status"] if r.status_code == 200 else f"http {r.status_code}"


def codes_of(result: dict) -> list[list[str]]:
    return [[e["code"] for e in res["errors"]] for res in result["results"]]


# --- point 1: kombika ownership on the value the register stores ------------------------------

@pytest.mark.parametrize("padded", [f" {KB}\t", f"{KB} ", f"{KB}\u00a0", f"\u00a0{KB}"], ids=["space-tab", "trailing-space", "trailing-nbsp", "leading-nbsp"])
def test_a_clinic_cannot_cancel_another_clinics_contact_with_a_padded_kombika(server, padded):
    assert b1_status(server) == "accepted"
    out = post(server, server.clinic_a, {"contact_id": "b-1", "kombika": padded, "record_type": "cancel"})
    assert (out["accepted"], out["rejected"]) == (0, 1)
    assert set(codes_of(out)[0]) == {"bad_code", "other_clinic_kombika"}
    assert b1_status(server) == "accepted"  # B's contact is still live
    # The rejection is A's to see (GET /api/v1/errors), stored like every other; B is not told.
    a_errors = server.client(server.clinic_a).get("/api/v1/errors", params={"batch_id": out["batch_id"]}).json()["errors"]
    assert {e["code"] for e in a_errors} == {"bad_code", "other_clinic_kombika"}
    assert all(e["kombika"] is None and e["contact_id"] == "b-1" for e in a_errors)
    b_errors = server.client(server.clinic_b).get("/api/v1/errors").json()["errors"]
    assert not [e for e in b_errors if e["batch_id"] == out["batch_id"]]


def test_a_clinic_cannot_correct_or_plant_a_contact_on_another_clinics_kombika(server):
    correction = contact("b-1", KB, P_CHILD, date="2022-03-16", contact_type="clinic_visit", reported_at=None)
    planted = contact("planted-1", KB.lower(), P_ADULT, reported_at=None)
    out = post(server, server.clinic_a, correction, planted)
    assert (out["accepted"], out["rejected"]) == (0, 2)
    assert all("other_clinic_kombika" in c for c in codes_of(out))
    trace = server.client(server.clinic_b).get(f"/api/v1/contacts/{KB}/b-1/trace").json()
    assert trace["status"] == "accepted" and trace["contact"]["contact_type"] == "phone"
    assert server.client(server.admin).get(f"/api/v1/contacts/{KB}/planted-1/trace").status_code == 404


def test_the_administrators_batch_and_the_region_file_intake_check_no_ownership(region, tmp_path):
    # No sender clinic: the region's own file (`ersattning report`) reports on any clinic's kombika.
    path = tmp_path / "region.jsonl"
    path.write_text('{"contact_id": "r-1", "kombika": "%s", "person_id": "%s", "date": "2022-03-20", '
                    '"contact_type": "phone", "profession": "nurse", "reported_at": "2022-03-21T10:00:00"}\n' % (KB, P_CHILD))
    result = intake(region, path, received_at=LATER)
    assert (result.accepted, result.rejected) == (1, 0)


def test_a_clinics_own_padded_kombika_is_refused_not_trimmed(region):
    # The register never repairs a key: " KA" is not KA, for the clinic's own kombika as well.
    result = intake_table(region, records_table([contact("a-pad", f" {KA}", P_ADULT)]), "pad", received_at=LATER,
                          sender_clinic="A1")
    assert [(e["field"], e["code"]) for e in result.errors.to_pylist()] == [("kombika", "bad_code")]


UNSEEN = ["\u00a0", "\u2007", "\u202f", "\u3000", "\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\t", " ",
          "\u2028", "\u180e", "\x00", "\u202e", "\u2066"]
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
HOMOGLYPHS = {"M": ["\u041c", "\u039c", "\u216f"], "0": ["O", "\u041e", "\u0660"], "1": ["l", "I", "\u0031\u0332"],
              "3": ["\u0417", "\u0437"], "5": ["S", "\u01bd"]}


@st.composite
def look_alikes(draw, kombika: str = KB) -> str:
    """B's kombika padded, spaced, case-folded, full-width, with homoglyphs or zero-width
    characters (or exactly B's)."""
    chars = []
    for c in kombika:
        kind = draw(st.sampled_from(["same", "same", "same", "lower", "full", "glyph", "unseen"]))
        if kind == "lower":
            c = c.lower()
        elif kind == "full":
            c = FULL_WIDTH.get(c, c)
        elif kind == "glyph" and c in HOMOGLYPHS:
            c = draw(st.sampled_from(HOMOGLYPHS[c]))
        elif kind == "unseen":
            c = c + draw(st.sampled_from(UNSEEN))
        chars.append(c)
    pad = st.text(st.sampled_from(UNSEEN), max_size=3)
    return draw(pad) + "".join(chars) + draw(pad)


def reads_as(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp"))).upper()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kombika=look_alikes(), kind=st.sampled_from(["cancel", "correction", "plant"]))
def test_no_look_alike_of_another_clinics_kombika_is_accepted_from_a_clinic(region, kombika, kind):
    before = b_state(region)
    if kind == "cancel":
        row = {"contact_id": "b-1", "kombika": kombika, "record_type": "cancel"}
    else:
        row = contact("b-1" if kind == "correction" else "planted", kombika, P_CHILD, contact_type="video", reported_at=None)
    result = intake_table(region, records_table([row]), "api:hostile", received_at=LATER, sender_clinic="A1")
    assert (result.accepted, result.rejected) == (0, 1), result.errors.to_pylist()
    codes = set(result.errors["code"].to_pylist())
    if reads_as(kombika) == KB:
        assert "other_clinic_kombika" in codes
        assert result.errors["kombika"].null_count == result.errors.num_rows  # nothing stored under B's key
    assert b_state(region) == before


# --- point 5: reported_at in the future -------------------------------------------------------

def test_a_reported_at_in_the_future_is_bad_reported_at(region):
    rows = [contact("f-1", KA, P_ADULT, reported_at="9999-12-31T00:00:00"),
            contact("f-2", KA, P_ADULT, reported_at=(LATER + dt.timedelta(minutes=6)).isoformat()),
            contact("f-3", KA, P_ADULT, reported_at=(LATER + dt.timedelta(minutes=4)).isoformat())]  # a clock a little ahead
    result = intake_table(region, records_table(rows), "future", received_at=LATER, sender_clinic="A1")
    errors = result.errors.to_pylist()
    assert [(e["line"], e["field"], e["code"]) for e in errors] == [(1, "reported_at", "bad_reported_at"),
                                                                    (2, "reported_at", "bad_reported_at")]
    assert all("in the future" in e["message"] for e in errors)
    assert result.row_status.tolist() == ["rejected", "rejected", "accepted"]


def test_a_future_dated_version_cannot_block_a_later_correction_or_cancel(region):
    first = intake_table(region, records_table([contact("f-9", KA, P_ADULT, reported_at="2022-03-31T10:00:00")]), "v1",
                         received_at=LATER, sender_clinic="A1")
    blocking = intake_table(region, records_table([contact("f-9", KA, P_ADULT, profession="nurse", reported_at="9999-12-31T00:00:00")]),
                            "v2", received_at=LATER, sender_clinic="A1")
    correction = intake_table(region, records_table([contact("f-9", KA, P_ADULT, contact_type="video", reported_at="2022-04-01T09:00:00")]),
                              "v3", received_at=LATER, sender_clinic="A1")
    assert (first.accepted, blocking.rejected, correction.accepted) == (1, 1, 1)
    live = {r["contact_id"]: r for r in current_contacts_arrow(region).to_pylist()}
    assert (live["f-9"]["contact_type"], live["f-9"]["profession"]) == ("video", "doctor")
    cancel = intake_table(region, records_table([{"contact_id": "f-9", "kombika": KA, "record_type": "cancel"}]), "v4",
                          received_at=LATER, sender_clinic="A1")
    assert cancel.accepted == 1 and "f-9" not in current_contacts_arrow(region)["contact_id"].to_pylist()


# --- point 8: a person number is never echoed -----------------------------------------------------

ECHO_FIELDS = ("date", "contact_type", "profession", "diagnoses", "actions", "kombika", "contact_id", "reported_at", "record_type")


def person_number_rows() -> list[dict]:
    rows = []
    for field in ECHO_FIELDS:
        for form in PERSON_NUMBER_FORMS:
            # contact_type "x" makes sure every row is rejected (a person number is a fine contact_id)
            rows.append({**contact(f"pn-{len(rows)}", KA, P_ADULT, contact_type="x"), field: form})
    return rows


def test_a_person_number_in_any_field_is_never_echoed_in_stored_errors(region):
    rows = person_number_rows()
    result = intake_table(region, records_table(rows), "pn", received_at=LATER, sender_clinic="A1")
    assert result.rejected == len(rows)
    stored = region.con.con.execute(
        "SELECT kombika, contact_id, message FROM contact_errors WHERE batch_id = ?", [result.batch_id]).fetchall()
    assert len(stored) >= len(rows)
    leaks = [value for row in stored for value in row if value and LOOKS_LIKE_A_PERSON_NUMBER.search(value)]
    assert not leaks
    named = {(e["line"], e["field"]) for e in result.errors.to_pylist()}
    for line, row in enumerate(rows, 1):  # each error still names its field (a person number is a fine contact_id)
        field = next(f for f in ECHO_FIELDS if row[f] in PERSON_NUMBER_FORMS)
        assert field == "contact_id" or (line, field) in named, (line, field)


def test_a_person_number_in_any_field_is_never_echoed_by_the_api(server):
    rows = person_number_rows()
    out = post(server, server.clinic_a, *rows)
    assert out["rejected"] == len(rows)
    assert not LOOKS_LIKE_A_PERSON_NUMBER.search(str(out))
    errors = server.client(server.clinic_a).get("/api/v1/errors", params={"batch_id": out["batch_id"]}).json()["errors"]
    assert len(errors) >= len(rows) and not LOOKS_LIKE_A_PERSON_NUMBER.search(str(errors))
    page = server.client(server.clinic_a).get("/fel")
    assert page.status_code == 200 and "pn-1" in page.text  # the page lists the batch's rejections
    assert not LOOKS_LIKE_A_PERSON_NUMBER.search(page.text)


# --- point 9: input files and ids -------------------------------------------------------------

HEADER = "contact_id,kombika,person_id,date,contact_type,profession,diagnoses,actions,record_type,reported_at"
ROW = f"c1,{KA},{P_ADULT},2022-03-10,phone,nurse,,,,"


def test_a_broken_json_lines_line_is_reported_with_its_line_number(tmp_path):
    good = '{"contact_id": "c1", "kombika": "%s"}\n' % KA
    for name, text, line in (("middle.jsonl", good + "\n" + '{"contact_id": "c2",\n' + good, 3),
                             ("cut.jsonl", good + good + '{"contact_id": "c3", "kombi', 3),
                             ("array.jsonl", good + "[1, 2]\n", 2)):
        path = tmp_path / name
        path.write_text(text)
        table, errors = read_contact_file(path)
        assert table is None
        assert [(e["code"], e["line"]) for e in errors.to_pylist()] == [("unreadable", line)], name


@pytest.mark.parametrize("text,line", [
    (f"{HEADER}\n{ROW}\nc2,{KA},{P_ADULT},2022", 3),                 # cut, no final newline
    (f"{HEADER}\n{ROW}\n\n\nc2,{KA}", 5),                            # blank lines before the cut line
    (f'{HEADER}\n"c\n1",{KA},{P_ADULT},2022-03-10,phone,nurse,,,,\nc2', 4),  # a quoted line break before it
], ids=["cut", "after-blank-lines", "after-quoted-newline"])
def test_a_cut_last_csv_line_is_unreadable_with_its_line(tmp_path, text, line):
    path = tmp_path / "contacts.csv"
    path.write_text(text)
    table, errors = read_contact_file(path)
    assert table is None
    assert [(e["code"], e["line"]) for e in errors.to_pylist()] == [("unreadable", line)]


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"], ids=["no-newline", "newline", "crlf"])
def test_a_header_only_csv_reads_as_no_rows_whatever_its_final_newline(tmp_path, ending):
    path = tmp_path / "contacts.csv"
    path.write_text(HEADER + ending)
    table, errors = read_contact_file(path)
    assert errors.num_rows == 0 and table.num_rows == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "goals.csv").write_text("clinic_id,period,goal,value" + ending)
    raw = read_raw(folder)  # a master input file: the same reader
    assert raw.errors == [] and raw.tables["goals"].num_rows == 0


INVISIBLE = {"nul": "\x00", "bell": "\x07", "del": "\x7f", "c1": "\x85", "zero-width-space": "\u200b",
             "right-to-left-mark": "\u200f", "rtl-override": "\u202e", "first-strong-isolate": "\u2068", "bom": "\ufeff"}


@pytest.mark.parametrize("char", list(INVISIBLE.values()), ids=list(INVISIBLE))
@pytest.mark.parametrize("field", ["contact_id", "kombika", "person_id", "contact_type"])
def test_a_control_or_bidi_character_in_an_id_is_bad_code(region, field, char):
    row = contact("inv-1", KA, P_ADULT)
    row[field] = row[field][:3] + char + row[field][3:]
    result = intake_table(region, records_table([row]), "invisible", received_at=LATER, sender_clinic="A1")
    assert result.rejected == 1
    assert [(e["field"], e["code"]) for e in result.errors.to_pylist()] == [(field, "bad_code")]
    assert all("\ufffd" in (e["kombika"] or "") + (e["contact_id"] or "") or field not in ("kombika", "contact_id")
               for e in result.errors.to_pylist())  # echoed visibly, never as the invisible character


def test_a_personnummer_with_serial_000_is_bad_person_id(region):
    result = intake_table(region, records_table([contact("s-000", KA, "201509160006")]), "serial", received_at=LATER,
                          sender_clinic="A1")
    assert [(e["field"], e["code"]) for e in result.errors.to_pylist()] == [("person_id", "bad_person_id")]
    assert "000" in result.errors["message"][0].as_py()
