"""The current view kept per intake (`contact_current`) is the log's own window view, after
any sequence of batches; it is not used for a moment before the latest arrival or when it does
not match the log; a killed intake leaves it as it was."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import pytest
from gvr_files import MASTER, PIDS, contact, write_contacts
from hypothesis import HealthCheck, given, settings
from test_order import _batch_rows, batches

from ersattning.register import current_contacts, intake

ORDER = ["kombika", "contact_id"]


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("kombika", "clinics"):
        con.register("master", MASTER[name])
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM master").fetchall()
        con.unregister("master")
    return con


def _both(con, **kw):
    kept = current_contacts(con, **kw).order_by(ORDER).to_pyarrow()
    log = current_contacts(con, kept=False, **kw).order_by(ORDER).to_pyarrow()
    return kept, log


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_the_kept_view_equals_the_window_over_the_log_after_every_batch(batches):
    con = _con()
    with tempfile.TemporaryDirectory() as tmp:
        for i, b in enumerate(batches):
            intake(con, write_contacts(Path(tmp) / f"b{i}.csv", _batch_rows(b)),
                   received_at=dt.datetime(2024, 6, 1) + dt.timedelta(hours=i))
            kept, log = _both(con)
            assert kept.equals(log), i
            kept, log = _both(con, dated_between=(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
            assert kept.equals(log), i
    con.close()


def _rows(con, sql):
    return con.execute(sql).fetchall()


def test_a_replay_as_of_an_earlier_moment_ranks_the_log(tmp_path):
    """v1 arrives on day 1, its correction on day 2: as of day 1 the view is v1 (from the log),
    as of day 2 and now it is the correction (from the kept table)."""
    con = _con()
    intake(con, write_contacts(tmp_path / "v1.csv", [contact("a", profession="doctor", reported_at="2024-03-01T10:00:00")]),
           received_at=dt.datetime(2024, 6, 1, 8))
    intake(con, write_contacts(tmp_path / "v2.csv", [contact("a", profession="nurse", reported_at="2024-03-02T10:00:00")]),
           received_at=dt.datetime(2024, 6, 2, 8))
    assert current_contacts(con, as_of=dt.date(2024, 6, 1)).to_pyarrow()["profession"].to_pylist() == ["doctor"]
    assert current_contacts(con, as_of=dt.date(2024, 6, 2)).to_pyarrow()["profession"].to_pylist() == ["nurse"]
    assert current_contacts(con).to_pyarrow()["profession"].to_pylist() == ["nurse"]
    assert _rows(con, "SELECT profession FROM contact_current") == [("nurse",)]


def test_a_table_that_does_not_match_the_log_is_not_read_and_the_next_intake_rebuilds_it(tmp_path):
    """An event written into the log some other way (not by intake) leaves the kept table
    stale: the view then ranks the log, and the next intake rebuilds the table whole."""
    con = _con()
    intake(con, write_contacts(tmp_path / "v1.csv", [contact("a", profession="doctor", reported_at="2024-03-01T10:00:00")]),
           received_at=dt.datetime(2024, 6, 1, 8))
    con.execute("""INSERT INTO contact_events SELECT * REPLACE (event_id + 100 AS event_id, 'nurse' AS profession,
                   TIMESTAMP '2024-03-05 10:00:00' AS reported_at) FROM contact_events""")
    kept, log = _both(con)
    assert kept["profession"].to_pylist() == log["profession"].to_pylist() == ["nurse"]
    assert _rows(con, "SELECT profession FROM contact_current") == [("doctor",)]  # stale, so not read
    intake(con, write_contacts(tmp_path / "b.csv", [contact("b", person_id=PIDS[1])]), received_at=dt.datetime(2024, 6, 3, 8))
    assert sorted(_rows(con, "SELECT contact_id, profession FROM contact_current")) == [("a", "nurse"), ("b", "doctor")]
    kept, log = _both(con)
    assert kept.equals(log)


def test_a_killed_intake_leaves_the_kept_view_as_it_was(tmp_path):
    """An intake that fails after its events are written rolls the kept table back with them."""
    con = _con()
    intake(con, write_contacts(tmp_path / "v1.csv", [contact("a", profession="doctor", reported_at="2024-03-01T10:00:00")]),
           received_at=dt.datetime(2024, 6, 1, 8))
    from ersattning.register import log as register_log

    def boom(con, batch_id):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        register_log.intake_table(con, *_raw(tmp_path), received_at=dt.datetime(2024, 6, 2, 8), before_commit=boom)
    assert _rows(con, "SELECT contact_id, profession FROM contact_current") == [("a", "doctor")]
    kept, log = _both(con)
    assert kept.equals(log)


def _raw(tmp_path):
    from ersattning.register.read import read_contact_file

    path = write_contacts(tmp_path / "v2.csv", [contact("a", profession="nurse", reported_at="2024-03-02T10:00:00")])
    raw, _ = read_contact_file(path)
    return raw, path.name
