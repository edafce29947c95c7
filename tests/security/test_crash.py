"""Crash tests: `kill -9` in the middle of `load`, `report` and `run --issue` leaves the database
as it was before or as it is after, never a mix (issue 10, point 3).

Each command runs as a subprocess on a copy of a prepared database; an unkilled run first
measures how long the command takes and when it starts writing (the database file grows);
then the command is killed at points spread over its run, and every table it writes is
compared (row count and a content digest) with the two known states.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ersattning.engine import INPUT_TABLES

pytestmark = pytest.mark.slow

PERSONS = 100_000  # a load then takes a few seconds here: long enough to be killed while writing


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ersattning.cli", *args]


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _states(got: dict, old: dict, new: dict) -> set[str]:
    """The states ("old", "new") every table of `got` agrees with: empty for a mix."""
    states = {"old", "new"}
    for name, value in got.items():
        states &= {s for s, known in (("old", old[name]), ("new", new[name])) if value == known}
    return states


def _which(got: dict, old: dict, new: dict) -> dict[str, str]:
    return {n: "old" if v == old[n] else "new" if v == new[n] else "neither" for n, v in got.items()}


#: The register's tables without the time of intake (which differs between two runs).
REGISTER = {"contact_events": "kombika, contact_id, content_hash, record_type, batch_id",
            "contact_batches": "batch_id, source, \"rows\", accepted, rejected",
            "contact_errors": "batch_id, line, code"}


def _digest(db: Path, tables: tuple[str, ...], where: dict[str, str] | None = None,
            columns: dict[str, str] | None = None) -> dict[str, tuple]:
    """Per table: (rows, sum of row hashes over `columns`, default all); the database opened as a
    restarted server would (replaying its write-ahead log). A table not there is as empty."""
    con = duckdb.connect(str(db))
    try:
        existing = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        out = {}
        for name in tables:
            if name not in existing:
                out[name] = (0, None)
                continue
            filt = f" WHERE {where[name]}" if where and name in where else ""
            cols = (columns or {}).get(name, f'"{name}"')
            out[name] = tuple(con.execute(f'SELECT count(*), sum(hash({cols})) FROM "{name}"{filt}').fetchall()[0])
        return out
    finally:
        con.close()


def _measure(args: list[str], base: Path, db: Path) -> tuple[float, float]:
    """An unkilled run on a fresh copy of `base`: (seconds until the database file first
    grows or its write-ahead log appears, seconds in all)."""
    shutil.copy(base, db)
    Path(f"{db}.wal").unlink(missing_ok=True)
    size = db.stat().st_size
    start = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    writing = None
    while process.poll() is None:
        if writing is None and (db.stat().st_size != size or Path(f"{db}.wal").exists()):
            writing = time.monotonic() - start
        time.sleep(0.002)
    total = time.monotonic() - start
    assert process.returncode == 0, process.stderr.read().decode()
    return (writing if writing is not None else total), total


def _kill_at(args: list[str], base: Path, db: Path, after_writing: float | None, at: float | None = None) -> str:
    """Run on a fresh copy of `base` and kill -9 `after_writing` seconds after it starts writing
    (or `at` seconds after it starts); 'finished' when it ended first."""
    shutil.copy(base, db)
    Path(f"{db}.wal").unlink(missing_ok=True)
    size = db.stat().st_size
    start = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = start + at if at is not None else None
    while process.poll() is None:
        now = time.monotonic()
        if deadline is None and (db.stat().st_size != size or Path(f"{db}.wal").exists()):
            deadline = now + after_writing
        if deadline is not None and now >= deadline:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return "killed"
        time.sleep(0.002)
    return "finished"


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """Two synthetic regions as input folders (`old` with a year of contacts, `new` another seed)
    and a database with `old` loaded."""
    from ersattning.synth.region import generate

    root = tmp_path_factory.mktemp("crash")
    generate(root / "old", persons=PERSONS, seed=1, fmt="parquet", contacts=True, contact_years=[2022], first_year=2021, last_year=2022)
    generate(root / "new", persons=PERSONS, seed=2, fmt="parquet", contacts=False, first_year=2021, last_year=2022)
    contacts = root / "old" / "contacts.parquet"
    # A fifth of the year's contacts: a batch whose intake takes a few seconds.
    table = pq.read_table(contacts)
    pq.write_table(table.slice(0, table.num_rows // 5), root / "batch.parquet")
    contacts.unlink()  # not an input file; kept out of the folder load reads
    base = root / "base.duckdb"
    _run(_cli("load", str(root / "old"), "--db", str(base), "--errors", str(root / "errors.csv")))
    return root, base


SETTINGS = ("settings",)


def test_load_killed_at_any_point_leaves_all_old_or_all_new_tables(region, tmp_path):
    root, base = region
    db = tmp_path / "load.duckdb"
    args = _cli("load", str(root / "new"), "--db", str(db), "--errors", str(tmp_path / "errors.csv"))
    old = _digest(base, INPUT_TABLES + SETTINGS)
    writing, total = _measure(args, base, db)
    new = _digest(db, INPUT_TABLES + SETTINGS)
    assert all(old[n] != new[n] for n in ("clinics", "kombika", "persons", "listings", "risk"))
    window = total - writing
    # One kill while it still validates, three spread over the writing and commit.
    points = [("at", writing / 2)] + [("after_writing", window * f) for f in (0.1, 0.4, 0.75)]
    seen = []
    for kind, delay in points:
        outcome = _kill_at(args, base, db, delay if kind == "after_writing" else None, delay if kind == "at" else None)
        got = _digest(db, INPUT_TABLES + SETTINGS)
        states = _states(got, old, new)
        seen.append((kind, round(delay, 2), outcome, sorted(states)))
        assert states, (f"load {outcome} {delay:.2f} s ({kind}; writing starts at {writing:.2f} s of {total:.2f} s): "
                        f"a mix of old and new tables: {_which(got, old, new)}")
    print(f"load: starts writing at {writing:.2f} s of {total:.2f} s; kills: {seen}")


def test_report_killed_at_any_point_takes_in_the_whole_batch_or_none_of_it(region, tmp_path):
    root, base = region
    db = tmp_path / "report.duckdb"
    tables = ("contact_events", "contact_batches", "contact_errors")
    args = _cli("report", str(root / "batch.parquet"), "--db", str(db), "--errors", str(tmp_path / "contact_errors.csv"))
    old = _digest(base, tables, columns=REGISTER)
    writing, total = _measure(args, base, db)
    new = _digest(db, tables, columns=REGISTER)
    assert new["contact_events"][0] > 0
    window = total - writing
    seen = []
    for f in (0.2, 0.5, 0.85):
        outcome = _kill_at(args, base, db, window * f)
        got = _digest(db, tables, columns=REGISTER)
        states = _states(got, old, new)
        seen.append((round(window * f, 2), outcome, sorted(states)))
        assert states, f"report killed {window * f:.2f} s into writing: part of a batch: {_which(got, old, new)}"
    print(f"report: starts writing at {writing:.2f} s of {total:.2f} s; kills: {seen}")


def test_run_issue_killed_at_any_point_leaves_the_month_a_draft_or_issued_in_full(region, tmp_path):
    root, base = region
    prepared = tmp_path / "prepared.duckdb"
    shutil.copy(base, prepared)
    _run(_cli("report", str(root / "batch.parquet"), "--db", str(prepared), "--errors", str(tmp_path / "ce.csv")))
    _run(_cli("run", "--db", str(prepared), "--month", "2022-03"))  # the draft
    db = tmp_path / "run.duckdb"
    month = {"statement_lines": "month = '2022-03'", "statements": "month = '2022-03'", "months": "month = '2022-03'"}
    tables = ("statement_lines", "statements")

    def state(path):
        got = _digest(path, tables + ("months",), month)
        con = duckdb.connect(str(path))
        status = con.execute("SELECT status FROM months WHERE month = '2022-03'").fetchall()
        con.close()
        return status[0][0] if status else None, {n: got[n] for n in tables}

    draft = state(prepared)
    args = _cli("run", "--db", str(db), "--month", "2022-03", "--issue")
    writing, total = _measure(args, prepared, db)
    issued = state(db)
    assert draft[0] == "draft" and issued[0] == "issued"
    window = total - writing
    seen = []
    # One kill while it computes, two once it writes (the lines, the totals, the issue).
    for kind, delay in (("at", writing * 0.5), ("after_writing", window * 0.05), ("after_writing", window * 0.5)):
        outcome = _kill_at(args, prepared, db, delay if kind == "after_writing" else None, delay if kind == "at" else None)
        got = state(db)
        seen.append((kind, round(delay, 2), outcome, got[0]))
        assert got in (draft, issued), f"run --issue {outcome} {delay:.2f} s ({kind}): status {got[0]}, lines {got[1]}"
    print(f"run --issue: starts writing at {writing:.2f} s of {total:.2f} s; kills: {seen}")
