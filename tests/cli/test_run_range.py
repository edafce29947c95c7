"""`ersattning run --month A --to B` (issue 11: a range of months; one month is a range of one): a
whole year is computed and stored month by month with its rulebook; a range that ends before it
starts, or runs into the future, is refused whole, and the refusal is on record as a failed job."""

from __future__ import annotations

import datetime as dt

from af_region import build
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.jobs import list_jobs
from ersattning.store import open_engine

runner = CliRunner()


def test_a_year_range_stores_twelve_months_each_with_its_rulebook(tmp_path):
    db = tmp_path / "range.duckdb"
    build(db, run=False).con.disconnect()
    result = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-01", "--to", "2022-12"])
    assert result.exit_code == 0, result.output
    assert "2022-12: done (12/12)" in result.output and "2022-03: draft, 2 statements" in result.output
    con = open_engine(db).con.con
    months = con.execute("SELECT month, status, rulebook_hash FROM months ORDER BY month").fetchall()
    assert [m for m, _, _ in months] == [f"2022-{m:02d}" for m in range(1, 13)]
    assert {s for _, s, _ in months} == {"draft"} and len({h for _, _, h in months}) == 1
    [j] = list_jobs(con)
    assert (j["kind"], j["status"], j["progress_done"], j["progress_total"]) == ("run", "done", 12, 12)


def test_a_backwards_or_future_range_is_refused_whole(tmp_path):
    db = tmp_path / "range.duckdb"
    build(db, run=False).con.disconnect()
    backwards = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-05", "--to", "2022-03"])
    assert backwards.exit_code == 2 and "ends (2022-03) before it starts (2022-05)" in backwards.output
    today = dt.date.today()
    this = f"{today.year}-{today.month:02d}"
    after = f"{today.year + 1}-01" if today.month == 12 else f"{today.year}-{today.month + 1:02d}"
    future = runner.invoke(app, ["run", "--db", str(db), "--month", this, "--to", after])
    assert future.exit_code == 1 and "after the current month" in future.output
    con = open_engine(db).con.con
    assert con.execute("SELECT count(*) FROM months").fetchall()[0][0] == 0  # not even the current month
    [j] = list_jobs(con)
    assert j["status"] == "failed" and "after the current month" in j["message"]
