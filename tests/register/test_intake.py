"""GVR intake: one error row per problem, corrections, cancellations, idempotency, all-or-nothing."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from gvr_files import K2, K_CLOSED, K_ENDED, K_NEW, PIDS, RECEIVED, cancel, contact, counts, write_contacts

from ersattning.errors import InputError
from ersattning.register import (
    CONTACT_ERROR_CODES, UnreadableContactFile, current_contacts, current_contacts_arrow, intake, log,
    write_contact_errors,
)

BAD_PID = PIDS[0][:-1] + str((int(PIDS[0][-1]) + 1) % 10)  # wrong check digit

# code -> (field the error names, the bad row)
BAD_ROWS = {
    "missing_value": ("person_id", contact("bad", person_id="")),
    "bad_date": ("date", contact("bad", date="2024-02-30")),
    "future_date": ("date", contact("bad", date="2024-06-02", reported_at="")),
    "unknown_kombika": ("kombika", contact("bad", kombika="99999999X99")),
    "inactive_kombika": ("kombika", contact("bad", kombika=K_ENDED)),
    "before_clinic_opened": ("date", contact("bad", kombika=K_NEW, date="2023-05-01", reported_at="")),
    "bad_person_id": ("person_id", contact("bad", person_id=BAD_PID)),
    "bad_contact_type": ("contact_type", contact("bad", contact_type="teleport")),
    "bad_profession": ("profession", contact("bad", profession="wizard")),
    "bad_diagnosis": ("diagnoses", contact("bad", diagnoses="J06.9; 1234")),
    "bad_action": ("actions", contact("bad", actions="UX7")),
    "bad_record_type": ("record_type", contact("bad", record_type="delete")),
    "bad_reported_at": ("reported_at", contact("bad", reported_at="2024-03-01T25:00:00")),
    "cancel_unknown": ("contact_id", cancel("never-reported")),
}


def good_rows() -> list[dict]:
    return [contact("a"), contact("b", person_id=PIDS[1], profession="nurse"), contact("c", kombika=K2, actions="ux007")]


def one_bad(tmp_path, bad: dict, name: str = "contacts.csv"):
    rows = good_rows()
    rows.insert(1, bad)  # line 3: header, good row, the bad row
    return write_contacts(tmp_path / name, rows)


@pytest.mark.parametrize("code", sorted(BAD_ROWS))
def test_each_error_code_rejects_only_its_row(db, tmp_path, code):
    field, bad = BAD_ROWS[code]
    result = intake(db, one_bad(tmp_path, bad), received_at=RECEIVED)
    assert (result.rows, result.accepted, result.rejected, result.unchanged) == (4, 3, 1, 0)
    errors = result.errors.to_pylist()
    assert len(errors) == 1, errors
    e = errors[0]
    assert (e["source"], e["line"], e["field"], e["code"]) == ("contacts.csv", 3, field, code)
    assert e["kombika"] == bad["kombika"] and e["contact_id"] == bad["contact_id"]
    assert code in CONTACT_ERROR_CODES
    assert not any(p in e["message"] for p in PIDS + [BAD_PID])  # never a person number
    live = current_contacts_arrow(db)
    assert sorted(live["contact_id"].to_pylist()) == ["a", "b", "c"]
    stored = db.con.con.execute("SELECT line, code, field FROM contact_errors").fetchall()
    assert stored == [(3, code, field)]


def test_contact_after_the_clinic_closed_is_rejected(db, tmp_path):
    result = intake(db, one_bad(tmp_path, contact("bad", kombika=K_CLOSED, date="2024-01-15")), received_at=RECEIVED)
    assert [(e["line"], e["code"]) for e in result.errors.to_pylist()] == [(3, "before_clinic_opened")]
    assert "closed" in result.errors["message"][0].as_py()


def test_a_row_with_several_problems_gets_one_error_each(db, tmp_path):
    bad = contact("bad", person_id="", contact_type="x", profession="y", diagnoses="123")
    result = intake(db, one_bad(tmp_path, bad), received_at=RECEIVED)
    assert result.rejected == 1
    assert [e["field"] for e in result.errors.to_pylist()] == ["person_id", "contact_type", "profession", "diagnoses"]


def test_conflicting_duplicate_rejects_every_row_of_the_key(db, tmp_path):
    rows = good_rows() + [contact("a", profession="nurse")]  # same key, same reported_at, other content
    result = intake(db, write_contacts(tmp_path / "contacts.csv", rows), received_at=RECEIVED)
    assert (result.accepted, result.rejected) == (2, 2)
    assert [(e["line"], e["field"], e["code"]) for e in result.errors.to_pylist()] == [
        (2, "contact_id", "conflicting_duplicate"), (5, "contact_id", "conflicting_duplicate")]
    assert "a" not in current_contacts_arrow(db)["contact_id"].to_pylist()


def test_identical_repeat_in_a_batch_is_taken_once(db, tmp_path):
    rows = good_rows() + [contact("a")]
    result = intake(db, write_contacts(tmp_path / "contacts.csv", rows), received_at=RECEIVED)
    assert (result.accepted, result.rejected, result.unchanged) == (3, 0, 1)


def test_normalised_values_are_stored(db, tmp_path):
    rows = [contact("a", diagnoses=" j06.9 ;; i10; ", actions="ux007;XV016;", record_type="REPORT")]
    intake(db, write_contacts(tmp_path / "contacts.csv", rows), received_at=RECEIVED)
    live = current_contacts_arrow(db).to_pylist()[0]
    assert (live["diagnoses"], live["actions"]) == ("J06.9;I10", "UX007;XV016")
    assert live["date"] == dt.date(2024, 3, 1) and live["reported_at"] == dt.datetime(2024, 3, 1, 10)


def test_correction_replaces_the_contact_and_keeps_the_old_event(db, tmp_path):
    intake(db, write_contacts(tmp_path / "b1.csv", good_rows()), received_at=RECEIVED)
    fix = [contact("a", profession="psychologist", diagnoses="F32.1", reported_at="2024-03-02T09:00:00")]
    result = intake(db, write_contacts(tmp_path / "b2.csv", fix), received_at=RECEIVED + dt.timedelta(days=1))
    assert result.accepted == 1
    live = {r["contact_id"]: r for r in current_contacts_arrow(db).to_pylist()}
    assert (live["a"]["profession"], live["a"]["diagnoses"]) == ("psychologist", "F32.1")
    events = db.con.con.execute("SELECT profession FROM contact_events WHERE contact_id = 'a' ORDER BY event_id").fetchall()
    assert events == [("doctor",), ("psychologist",)]
    before = current_contacts_arrow(db, as_of=RECEIVED)
    assert {r["contact_id"]: r["profession"] for r in before.to_pylist()}["a"] == "doctor"


def test_cancellation_withdraws_the_contact_and_as_of_still_shows_it(db, tmp_path):
    intake(db, write_contacts(tmp_path / "b1.csv", good_rows()), received_at=RECEIVED)
    result = intake(db, write_contacts(tmp_path / "b2.csv", [cancel("b")]), received_at=RECEIVED + dt.timedelta(hours=2))
    assert result.accepted == 1
    assert sorted(current_contacts_arrow(db)["contact_id"].to_pylist()) == ["a", "c"]
    assert sorted(current_contacts_arrow(db, as_of=RECEIVED + dt.timedelta(hours=1))["contact_id"].to_pylist()) == ["a", "b", "c"]
    again = intake(db, write_contacts(tmp_path / "b3.csv", [cancel("b")]), received_at=RECEIVED + dt.timedelta(hours=3))
    assert (again.accepted, again.unchanged) == (0, 1)  # a cancel of a withdrawn contact changes nothing
    assert counts(db)[0] == 4


def test_report_and_cancel_in_one_batch(db, tmp_path):
    rows = [contact("a"), cancel("a", reported_at="2024-03-05T08:00:00")]
    result = intake(db, write_contacts(tmp_path / "b.csv", rows), received_at=RECEIVED)
    assert (result.accepted, result.rejected) == (2, 0)
    assert current_contacts_arrow(db).num_rows == 0


def test_the_same_file_twice_changes_nothing(db, tmp_path):
    path = one_bad(tmp_path, BAD_ROWS["bad_date"][1])
    first = intake(db, path, received_at=RECEIVED)
    events = counts(db)[0]
    view = current_contacts_arrow(db).drop_columns(["received_at"])
    second = intake(db, path, received_at=RECEIVED + dt.timedelta(days=1))
    assert (second.accepted, second.rejected, second.unchanged) == (0, 1, 3)
    assert counts(db)[0] == events == first.accepted
    assert current_contacts_arrow(db).drop_columns(["received_at"]).equals(view)


def test_without_reported_at_a_resent_report_is_unchanged(db, tmp_path):
    rows = [contact("a", reported_at=""), contact("b", reported_at="")]
    intake(db, write_contacts(tmp_path / "b1.csv", rows), received_at=RECEIVED)
    again = intake(db, write_contacts(tmp_path / "b2.csv", rows), received_at=RECEIVED + dt.timedelta(days=1))
    assert (again.accepted, again.unchanged) == (0, 2)
    fixed = intake(db, write_contacts(tmp_path / "b3.csv", [contact("a", reported_at="", profession="nurse")]),
                   received_at=RECEIVED + dt.timedelta(days=2))
    assert fixed.accepted == 1
    assert {r["contact_id"]: r["profession"] for r in current_contacts_arrow(db).to_pylist()}["a"] == "nurse"


@pytest.mark.parametrize("content", [
    b"contact_id,kombika,person_id,date\nA1,11010046M30,1980",  # cut off in the middle of a line
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    b"",
    b"hello,world\n1,2\n",  # a CSV, but not of contacts
])
def test_unreadable_file_changes_nothing(db, tmp_path, content):
    intake(db, write_contacts(tmp_path / "b1.csv", good_rows()), received_at=RECEIVED)
    before = counts(db)
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableContactFile) as info:
        intake(db, path, received_at=RECEIVED)
    assert counts(db) == before
    errors = info.value.errors.to_pylist()
    assert [e["code"] for e in errors] == ["unreadable"] and errors[0]["source"] == "broken.csv"
    assert "broken.csv" in str(info.value) and "nothing was taken in" in str(info.value)


@pytest.mark.parametrize("name,content", [
    ("broken.jsonl", b'{"contact_id": "a", "kombika": "11010046M30"}\n{"contact_id": "b", "kom'),
    ("broken.jsonl", b"not json at all\n"),
    ("broken.parquet", b"PAR1\x00\x01garbage"),
])
def test_unreadable_jsonl_and_parquet(db, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = counts(db)
    with pytest.raises(UnreadableContactFile):
        intake(db, path, received_at=RECEIVED)
    assert counts(db) == before


def test_a_batch_failing_half_way_leaves_the_register_as_it_was(db, tmp_path, monkeypatch):
    intake(db, write_contacts(tmp_path / "b1.csv", good_rows()), received_at=RECEIVED)
    before = counts(db)
    view = current_contacts_arrow(db)

    def crash(*args, **kwargs):  # after the events and errors were inserted, before the batch row
        raise RuntimeError("disk full")

    monkeypatch.setattr(log, "_insert_batch", crash)
    rows = [contact("d"), contact("a", profession="nurse", reported_at="2024-03-09T10:00:00"), cancel("b"), contact("x", date="x")]
    path = write_contacts(tmp_path / "b2.csv", rows)
    with pytest.raises(RuntimeError):
        intake(db, path, received_at=RECEIVED + dt.timedelta(days=1))
    assert counts(db) == before
    assert current_contacts_arrow(db).equals(view)
    monkeypatch.undo()
    result = intake(db, path, received_at=RECEIVED + dt.timedelta(days=1))  # the connection is still usable
    assert (result.accepted, result.rejected) == (3, 1)


def test_no_master_data_is_a_clear_refusal(tmp_path):
    from ersattning.store import open_engine

    engine = open_engine(tmp_path / "empty.duckdb")
    with pytest.raises(InputError, match="ersattning load"):
        intake(engine, write_contacts(tmp_path / "b.csv", good_rows()))


def _result(engine, path):
    result = intake(engine, path, received_at=RECEIVED)
    errors = result.errors.drop_columns(["source", "line"])
    view = current_contacts_arrow(engine).drop_columns(["received_at", "event_id"])
    return (result.accepted, result.rejected, result.unchanged), errors, view


def test_csv_jsonl_and_parquet_give_the_same_result(tmp_path):
    from ersattning.store import open_engine, store_inputs
    from gvr_files import MASTER

    rows = good_rows() + [BAD_ROWS["bad_date"][1], contact("e", diagnoses="I10;F32.1", reported_at=""), cancel("c", K2, "2024-03-09T00:00:00"),
                          contact("f", person_id="991234ABCD12", contact_type="video", actions="UX007")]
    outcomes = []
    for suffix in ("csv", "jsonl", "parquet"):
        engine = open_engine(tmp_path / f"{suffix}.duckdb")
        store_inputs(engine, MASTER)
        outcomes.append(_result(engine, write_contacts(tmp_path / f"contacts.{suffix}", rows)))
        engine.con.disconnect()
    assert outcomes[0][0] == (6, 1, 0)
    for other in outcomes[1:]:
        assert other[0] == outcomes[0][0]
        assert other[1].equals(outcomes[0][1])
        assert other[2].equals(outcomes[0][2])
    assert sorted(outcomes[0][2]["contact_id"].to_pylist()) == ["a", "b", "e", "f"]


def test_error_lines_follow_the_file(db, tmp_path):
    rows = good_rows() + [contact("x", date="nope")]
    csv_path = write_contacts(tmp_path / "c.csv", rows)
    csv_path.write_text(csv_path.read_text().replace("\na,", "\n\na,"))  # a blank line before the first row
    assert intake(db, csv_path, received_at=RECEIVED).errors["line"].to_pylist() == [6]
    jsonl = write_contacts(tmp_path / "c.jsonl", rows)
    jsonl.write_text("\n" + jsonl.read_text())
    assert intake(db, jsonl, received_at=RECEIVED).errors["line"].to_pylist() == [5]
    parquet = write_contacts(tmp_path / "c.parquet", rows)
    assert intake(db, parquet, received_at=RECEIVED).errors["line"].to_pylist() == [4]


def test_write_contact_errors(db, tmp_path):
    result = intake(db, one_bad(tmp_path, BAD_ROWS["bad_person_id"][1]), received_at=RECEIVED)
    path = write_contact_errors(result.errors, tmp_path / "out" / "contact_errors.csv")
    text = path.read_text()
    assert text.splitlines()[0].replace('"', "") == "source,line,kombika,contact_id,code,field,message"
    assert "bad_person_id" in text and BAD_PID not in text


def test_current_view_is_an_ibis_expression(db, tmp_path):
    intake(db, write_contacts(tmp_path / "b1.csv", good_rows()), received_at=RECEIVED)
    expr = current_contacts(db)
    assert list(expr.columns) == list(log.VIEW_COLUMNS)
    joined = expr.join(db.con.table("kombika"), "kombika").group_by("clinic_id").aggregate(n=expr.contact_id.count())
    assert joined.to_pyarrow().to_pylist() == [{"clinic_id": "C1", "n": 3}]
    assert current_contacts_arrow(db).schema.field("date").type == pa.date32()


def test_a_months_view_equals_the_whole_view_for_that_month_even_when_a_correction_moves_a_date(db, tmp_path):
    """`dated_between` ranks only the keys with some version in the month; a correction that
    moves a contact from March to April takes it out of March and into April."""
    first = [contact("a", date="2024-03-10"), contact("b", date="2024-03-11"), contact("c", date="2024-04-02")]
    intake(db, write_contacts(tmp_path / "b1.csv", first), received_at=RECEIVED)
    moved = [contact("a", date="2024-04-05", reported_at="2024-04-06T08:00:00"),   # March → April
             contact("c", date="2024-03-30", reported_at="2024-04-06T08:00:00")]   # April → March
    intake(db, write_contacts(tmp_path / "b2.csv", moved), received_at=RECEIVED + dt.timedelta(days=1))

    whole = current_contacts_arrow(db)
    for first_day, last_day in ((dt.date(2024, 3, 1), dt.date(2024, 3, 31)), (dt.date(2024, 4, 1), dt.date(2024, 4, 30))):
        expected = sorted(r["contact_id"] for r in whole.to_pylist() if first_day <= r["date"] <= last_day)
        got = sorted(current_contacts(db.con, dated_between=(first_day, last_day)).to_pyarrow()["contact_id"].to_pylist())
        assert got == expected
    assert sorted(current_contacts(db.con, dated_between=(dt.date(2024, 3, 1), dt.date(2024, 3, 31))).to_pyarrow()["contact_id"].to_pylist()) == ["b", "c"]
