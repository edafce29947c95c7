"""Stateless reading (`read_contacts`, used by `ersattning statements`) and `ersattning report`."""

from __future__ import annotations

import datetime as dt

from gvr_files import K1, K2, MASTER, PIDS, cancel, contact, write_contacts
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.register import CONTACTS_SCHEMA, read_contacts
from ersattning.store import open_engine, store_inputs

TODAY = dt.date(2024, 6, 1)


def test_read_contacts_gives_the_live_version_of_each_contact(tmp_path):
    rows = [
        contact("a"),
        contact("b", kombika=K2, date="2024-13-01"),                              # bad_date
        contact("c", profession="nurse", reported_at="2024-03-01T09:00:00"),
        contact("c", profession="psychologist", reported_at="2024-03-02T09:00:00"),  # correction in the same file
        contact("d"), cancel("d", reported_at="2024-03-03T00:00:00"),             # reported, then withdrawn
        contact("e", reported_at=""), contact("e", reported_at=""),               # an identical repeat
        cancel("zz"),                                                               # cancel_unknown
    ]
    contacts, errors = read_contacts(write_contacts(tmp_path / "contacts.csv", rows), MASTER, TODAY)
    assert contacts.schema == CONTACTS_SCHEMA
    got = {r["contact_id"]: r for r in contacts.to_pylist()}
    assert sorted(got) == ["a", "c", "e"]
    assert got["c"]["profession"] == "psychologist" and got["c"]["source_line"] == 5
    assert got["a"]["date"] == dt.date(2024, 3, 1) and got["a"]["person_id"] == PIDS[0]
    assert [(e["line"], e["code"]) for e in errors.to_pylist()] == [(3, "bad_date"), (10, "cancel_unknown")]


def test_read_contacts_of_an_unreadable_file(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xff\xfe\x00\x01")
    contacts, errors = read_contacts(path, MASTER, TODAY)
    assert contacts.num_rows == 0 and errors["code"].to_pylist() == ["unreadable"]


runner = CliRunner()


def _db(tmp_path):
    engine = open_engine(tmp_path / "gvr.duckdb")
    store_inputs(engine, MASTER)
    engine.con.disconnect()
    return tmp_path / "gvr.duckdb"


def test_report_command_counts_and_writes_errors_beside_the_file(tmp_path):
    db = _db(tmp_path)
    bad_pid = PIDS[2][:-1] + str((int(PIDS[2][-1]) + 1) % 10)
    rows = [contact("a", date="2024-01-10"), contact("b", person_id=bad_pid, date="2024-01-10"), contact("c", kombika="nope", date="2024-01-10")]
    path = write_contacts(tmp_path / "in" / "contacts.csv", rows)
    result = runner.invoke(app, ["report", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 accepted, 2 rejected, 0 unchanged" in result.output
    text = (tmp_path / "in" / "contact_errors.csv").read_text()
    assert "bad_person_id" in text and "unknown_kombika" in text
    assert not any(p in result.output + text for p in PIDS + [bad_pid])
    again = runner.invoke(app, ["report", str(path), "--db", str(db), "--errors", str(tmp_path / "e.csv")])
    assert again.exit_code == 0 and "0 accepted, 2 rejected, 1 unchanged" in again.output
    assert (tmp_path / "e.csv").is_file()


def test_report_command_fails_when_nothing_can_be_read(tmp_path):
    db = _db(tmp_path)
    path = tmp_path / "contacts.jsonl"
    path.write_text('{"contact_id": "a", "kombika": "' + K1 + '", "person_id": "' + PIDS[0] + '"\n')
    result = runner.invoke(app, ["report", str(path), "--db", str(db)])
    assert result.exit_code != 0
    assert "nothing was taken in" in result.output and PIDS[0] not in result.output
    assert "unreadable" in (tmp_path / "contact_errors.csv").read_text()


def test_report_command_without_master_data(tmp_path):
    path = write_contacts(tmp_path / "contacts.csv", [contact("a")])
    missing = runner.invoke(app, ["report", str(path), "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code != 0 and "ersattning load" in missing.output
    open_engine(tmp_path / "empty.duckdb").con.disconnect()
    empty = runner.invoke(app, ["report", str(path), "--db", str(tmp_path / "empty.duckdb")])
    assert empty.exit_code != 0 and "ersattning load" in empty.output
