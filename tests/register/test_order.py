"""The current view does not depend on the order in which batches arrive (property test)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
from gvr_files import MASTER, PIDS, cancel, contact, write_contacts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ersattning.register import current_contacts_arrow, intake

TIMES = [f"2024-03-0{d}T10:00:00" for d in range(1, 4)]  # few, so that equal reported_at happen
PROFESSIONS = ["doctor", "nurse"]

row = st.tuples(
    st.sampled_from(["a", "b"]),               # contact
    st.sampled_from(["report", "report", "cancel"]),
    st.sampled_from(TIMES),
    st.sampled_from(PROFESSIONS),
)
batches = st.lists(st.lists(row, min_size=1, max_size=4), min_size=2, max_size=4)


def _batch_rows(batch) -> list[dict]:
    rows = []
    for cid, kind, at, prof in batch:
        rows.append(cancel(cid, reported_at=at) if kind == "cancel" else contact(cid, reported_at=at, profession=prof))
    # A cancel travels with a report of its contact (else, arriving first, it would be a
    # cancel_unknown, rightly: a cancel of something never reported is an error).
    reported = {cid for cid, kind, _, _ in batch if kind == "report"}
    for cid, kind, at, _ in batch:
        if kind == "cancel" and cid not in reported:
            rows.append(contact(cid, reported_at=TIMES[0], person_id=PIDS[1]))
            reported.add(cid)
    return rows


def _view_after(order: list[int], files: list[Path]) -> pa.Table:
    con = duckdb.connect()  # intake only needs kombika and clinics: quicker than a full store
    for name in ("kombika", "clinics"):
        con.register("master", MASTER[name])
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM master").fetchall()
        con.unregister("master")
    for arrival, i in enumerate(order):
        intake(con, files[i], received_at=dt.datetime(2024, 6, 1) + dt.timedelta(hours=arrival))
    view = current_contacts_arrow(con).drop_columns(["received_at", "event_id"])
    con.close()
    return view


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches, st.data())
def test_arrival_order_does_not_change_the_current_view(batches, data):
    order = list(range(len(batches)))
    shuffled = data.draw(st.permutations(order))
    with tempfile.TemporaryDirectory() as tmp:
        files = [write_contacts(Path(tmp) / f"b{i}.csv", _batch_rows(b)) for i, b in enumerate(batches)]
        assert _view_after(shuffled, files).equals(_view_after(order, files))


def test_a_late_correction_does_not_hide_a_later_identical_version(tmp_path):
    """v1 (A, day 1), v3 (A, day 3), v2 (B, day 2): A wins in every arrival order, although
    v3 arrives when A is already the current content."""
    files = [write_contacts(tmp_path / f"v{i}.csv", [contact("a", profession=p, reported_at=TIMES[i - 1])])
             for i, p in ((1, "doctor"), (2, "nurse"), (3, "doctor"))]
    for order in ([0, 1, 2], [0, 2, 1], [1, 2, 0], [2, 1, 0]):
        assert _view_after(order, files)["profession"].to_pylist() == ["doctor"], order
