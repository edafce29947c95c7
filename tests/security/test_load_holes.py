"""Hostile tests for loading, running and issuing (issue 10, points 3–6): a careless load never
empties a table or changes an issued month silently, no month outside the rulebook or in the
future is computed or issued, an issued month is corrected on the next month computed, and no
total wraps around."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ersattning import rulebook
from ersattning.cli import app
from ersattning.errors import StatementError
from ersattning.register import intake_table, records_table
from ersattning.statements import totals
from ersattning.store import add_manual_line, month_status, open_engine, run_month

runner = CliRunner()
K1, K2 = "11010046M30", "11010047M30"
A, B, D = "198503031018", "199007071021", "197009091047"
FILES = {
    "clinics.csv": "clinic_id,name,group_id,area_code,opened\nC1,Ett,G1,0180-08,2000-01-01\nC2,Två,G2,0180-08,2000-01-01\n",
    "kombika.csv": f"kombika,clinic_id,assignment,valid_from\n{K1},C1,hlv,2000-01-01\n{K2},C2,hlv,2000-01-01\n",
    "persons.csv": "person_id,birth_date,sex,county_code,area_code\n"
                   f"{A},1985-03-03,M,01,0180-08\n{B},1990-07-07,F,01,0180-08\n{D},1970-09-09,F,01,0180-08\n",
    "listings.csv": f"person_id,clinic_id,valid_from\n{A},C1,2010-01-01\n{B},C1,2010-01-01\n{D},C2,2010-01-01\n",
}
#: B moves from C1 to C2 on 2022-05-01: a late listing change that alters May.
MOVED = f"person_id,clinic_id,valid_from,valid_to\n{A},C1,2010-01-01,\n{B},C1,2010-01-01,2022-04-30\n{B},C2,2022-05-01,\n{D},C2,2010-01-01,\n"


def folder(path: Path, **files: str | None) -> Path:
    """An input folder with FILES changed by `files` (NAME_csv=text, or None to leave the file out)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **{k.replace("_csv", ".csv"): v for k, v in files.items()}}.items():
        if text is not None:
            (path / name).write_text(text, encoding="utf-8")
    return path


def cli(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db))
    try:
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in ("clinics", "kombika", "persons", "listings")}
    finally:
        con.close()


def snapshot(db: Path) -> dict:
    """Everything a load or run may write: every table's rows and content digest."""
    con = duckdb.connect(str(db))
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        return {n: con.execute(f'SELECT count(*), sum(hash("{n}")) FROM "{n}"').fetchall()[0] for n in names}
    finally:
        con.close()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "e.duckdb"
    result = cli("load", folder(tmp_path / "full"), "--db", path, "--errors", tmp_path / "errors.csv")
    assert result.exit_code == 0, result.output
    return path


# --- 4. a missing optional file never empties a table silently -----------------------------------

def test_a_missing_optional_file_leaves_its_stored_table(db, tmp_path):
    result = cli("load", folder(tmp_path / "no_kombika", kombika_csv=None), "--db", db, "--errors", tmp_path / "e.csv")
    assert result.exit_code == 0, result.output
    assert counts(db)["kombika"] == 2
    assert "kept (no kombika file)" in result.output
    assert "replaced" in result.output  # and says which tables it replaced, rows before and after


def test_only_an_explicit_header_only_file_empties_a_table(db, tmp_path):
    cli("load", folder(tmp_path / "absent", kombika_csv=None), "--db", db)
    assert counts(db)["kombika"] == 2
    result = cli("load", folder(tmp_path / "empty", kombika_csv="kombika,clinic_id,assignment,valid_from\n"), "--db", db)
    assert result.exit_code == 0, result.output
    assert counts(db)["kombika"] == 0
    row = next(line for line in result.output.splitlines() if "kombika" in line)
    assert "replaced" in row and "2" in row and "0" in row


def test_the_files_given_are_checked_against_the_stored_tables_they_keep(db, tmp_path):
    # clinics.csv without C2, kombika.csv absent: the stored kombika K2 still names C2.
    only_c1 = "clinic_id,name,group_id,area_code,opened\nC1,Ett,G1,0180-08,2000-01-01\n"
    listings = f"person_id,clinic_id,valid_from\n{A},C1,2010-01-01\n{B},C1,2010-01-01\n{D},C1,2010-01-01\n"
    errors = tmp_path / "errors.csv"
    result = cli("load", folder(tmp_path / "drop_c2", clinics_csv=only_c1, kombika_csv=None, listings_csv=listings), "--db", db, "--errors", errors)
    assert result.exit_code == 1, result.output
    text = errors.read_text(encoding="utf-8")
    assert "kombika (stored)" in text and "unknown_clinic" in text
    assert counts(db) == {"clinics": 2, "kombika": 2, "persons": 3, "listings": 3}  # nothing written


def test_a_required_file_absent_keeps_its_table_but_a_new_database_needs_it(db, tmp_path):
    without_persons = folder(tmp_path / "f", persons_csv=None)
    result = cli("load", without_persons, "--db", db, "--errors", tmp_path / "e.csv")
    assert result.exit_code == 0, result.output
    assert counts(db)["persons"] == 3 and "kept (no persons file)" in result.output
    result = cli("load", without_persons, "--db", tmp_path / "new.duckdb", "--errors", tmp_path / "e.csv")
    assert result.exit_code == 1 and "missing_file" in (tmp_path / "e.csv").read_text()


def test_load_says_when_it_changes_the_sample_setting(db, tmp_path):
    # The sample setting scales the region-wide pots on every statement: never changed unsaid.
    sample = folder(tmp_path / "sample")
    (sample / "sample.yaml").write_text("persons: 50000\n", encoding="utf-8")
    result = cli("load", sample, "--db", db, "--errors", tmp_path / "e.csv")
    row = next(line for line in result.output.splitlines() if "sample setting" in line)
    assert "replaced" in row and "whole region" in row and "sample of 50000" in row
    result = cli("load", folder(tmp_path / "listings_only", clinics_csv=None, kombika_csv=None, persons_csv=None),
                 "--db", db, "--errors", tmp_path / "e.csv")
    row = next(line for line in result.output.splitlines() if "sample setting" in line)
    assert "kept" in row and row.count("sample of 50000") == 2
    result = cli("load", folder(tmp_path / "real"), "--db", db, "--errors", tmp_path / "e.csv")  # persons, no sample.yaml
    row = next(line for line in result.output.splitlines() if "sample setting" in line)
    assert "replaced" in row and "sample of 50000" in row and "whole region" in row


def test_load_dry_run_says_which_issued_months_get_adjustments_and_writes_nothing(db, tmp_path):
    assert cli("run", "--db", db, "--month", "2022-05", "--issue").exit_code == 0
    before = snapshot(db)
    moved = folder(tmp_path / "moved", listings_csv=MOVED)
    result = cli("load", moved, "--db", db, "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(db) == before
    assert "dry run" in result.output
    row = next(line for line in result.output.splitlines() if "2022-05" in line)
    # Corrected month, the month that carries it, clinics affected, lines, and the sums per clinic.
    assert [cell.strip() for cell in row.split("│")[1:6]] == ["2022-05", "2022-06", "2", "6", "0.00"]
    assert "C1 -180 584.48" in result.output and "C2 180 584.48" in result.output
    # The real load says the same, and the next run carries exactly that.
    loaded = cli("load", moved, "--db", db)
    assert loaded.exit_code == 0 and next(line for line in loaded.output.splitlines() if "2022-05" in line) == row
    from ersattning.store import load_folder

    engine = open_engine(db)
    preview = load_folder(engine, moved, dry_run=True).adjustments
    _, june = run_month(engine, "2022-06", rulebook.load())
    adjusted = june.lines.filter(pa.compute.equal(june.lines["component"], "adjustment"))
    assert len(adjusted) == len(preview) > 0
    assert sum(adjusted["amount_ore"].to_pylist()) == sum(preview["amount_ore"].to_pylist())
    engine.con.disconnect()


def test_run_dry_run_shows_the_adjustments_and_writes_nothing(db, tmp_path):
    assert cli("run", "--db", db, "--month", "2022-05", "--issue").exit_code == 0
    assert cli("load", folder(tmp_path / "moved", listings_csv=MOVED), "--db", db).exit_code == 0
    before = snapshot(db)
    result = cli("run", "--db", db, "--month", "2022-06", "--issue", "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(db) == before
    assert "would be issued" in result.output
    row = next(line for line in result.output.splitlines() if "2022-05" in line)
    assert [cell.strip() for cell in row.split("│")[1:6]] == ["2022-05", "2022-06", "2", "6", "0.00"]


# --- 5. time: no month outside the rulebook or in the future; issue is strictly true ------------

def _next_month() -> str:
    today = dt.date.today()
    return f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"


def test_run_and_issue_refuse_a_month_after_the_current_month(db):
    for extra in ([], ["--issue"]):
        result = cli("run", "--db", db, "--month", _next_month(), *extra)
        assert result.exit_code == 1 and "after the current month" in result.output
    engine = open_engine(db)
    with pytest.raises(StatementError, match="after the current month"):
        run_month(engine, "2099-12", rulebook.load(), issue=True)
    assert month_status(engine, "2099-12") is None and month_status(engine, _next_month()) is None
    engine.con.disconnect()


def test_run_and_issue_refuse_a_month_before_the_rulebook(db):
    result = cli("run", "--db", db, "--month", "2014-12", "--issue")
    assert result.exit_code == 1 and "before the rulebook's first date (2015-01)" in result.output
    engine = open_engine(db)
    assert month_status(engine, "2014-12") is None
    engine.con.disconnect()


def test_the_api_issues_only_on_a_strict_json_true(server):
    admin = server.client(server.admin)
    for sloppy in ("yes", 1, "true", "1"):
        r = admin.post("/api/v1/admin/months/2022-06/run", json={"issue": sloppy})
        assert r.status_code == 422, (sloppy, r.text)
    statuses = {m["month"]: m["status"] for m in admin.get("/api/v1/months").json()["months"]}
    assert statuses.get("2022-06") != "issued"
    r = admin.post(f"/api/v1/admin/months/{_next_month()}/run", json={"issue": True})
    assert r.status_code == 422 and "after the current month" in r.json()["error"]["message"]
    assert admin.post("/api/v1/admin/months/2022-06/run", json={"issue": True}).json()["status"] == "issued"


def _late_report(engine, contact_id: str, date: str, received: dt.datetime) -> None:
    row = {"contact_id": contact_id, "kombika": K1, "person_id": A, "date": date, "contact_type": "clinic_visit",
           "profession": "psychologist", "diagnoses": "F32.9", "actions": None, "record_type": None,
           "reported_at": received.isoformat(timespec="seconds")}
    assert intake_table(engine, records_table([row]), "late.jsonl", received_at=received).rejected == 0


def _adjusted(result) -> dict[str, int]:
    lines = result.lines.filter(pa.compute.equal(result.lines["component"], "adjustment"))
    out: dict[str, int] = {}
    for month, amount in zip(lines["corrects_month"].to_pylist(), lines["amount_ore"].to_pylist()):
        out[month] = out.get(month, 0) + amount
    return out


def test_an_adjustment_goes_on_the_next_month_computed_never_on_a_later_one(db):
    """Feb and Apr issued, Mar open. A late visit of February (425 SEK psychologist) is corrected
    on March, the earliest open month after it; a late visit of April on May. Running July while
    March is open takes none of February's; running March takes it; once March is issued, a
    further change of February goes on May (March and April are both issued)."""
    book = rulebook.load()
    engine = open_engine(db)
    run_month(engine, "2022-02", book, issue=True)
    run_month(engine, "2022-04", book, issue=True)
    _late_report(engine, "late-feb", "2022-02-14", dt.datetime(2022, 5, 2, 9))
    _late_report(engine, "late-apr", "2022-04-20", dt.datetime(2022, 5, 2, 9))
    assert _adjusted(run_month(engine, "2022-07", book)[1]) == {}
    assert _adjusted(run_month(engine, "2022-05", book)[1]) == {"2022-04": 42500}
    assert _adjusted(run_month(engine, "2022-03", book, issue=True)[1]) == {"2022-02": 42500}
    _late_report(engine, "late-feb-2", "2022-02-21", dt.datetime(2022, 5, 3, 9))
    assert _adjusted(run_month(engine, "2022-07", book)[1]) == {}
    assert _adjusted(run_month(engine, "2022-05", book)[1]) == {"2022-02": 42500, "2022-04": 42500}
    engine.con.disconnect()


# --- 6. money cannot overflow ---------------------------------------------------------------

def test_two_lines_of_5e16_sek_are_refused_never_a_wrapped_total(db):
    huge = 5 * 10**18  # öre: 5·10^16 SEK; two of them are past int64 (they wrapped to −8.4·10^18)
    lines = pa.table({"clinic_id": ["C1", "C1"], "component": ["collaboration"] * 2, "amount_ore": pa.array([huge, huge], pa.int64())})
    with pytest.raises(StatementError, match="beyond what a statement can hold"):
        totals(lines, pa.table({"clinic_id": ["C1"]}), "2022-06")
    engine = open_engine(db)
    with pytest.raises(StatementError, match="at most"):
        add_manual_line(engine, clinic_id="C1", month="2022-06", kind="collaboration", amount_ore=huge, reason="r", user="u")
    engine.con.disconnect()


def test_the_store_caps_a_manual_line_at_the_api_bound(db):
    engine = open_engine(db)
    with pytest.raises(StatementError, match="at most"):
        add_manual_line(engine, clinic_id="C1", month="2022-06", kind="collaboration", amount_ore=-(10**13 + 1), reason="r", user="u")
    row = add_manual_line(engine, clinic_id="C1", month="2022-06", kind="collaboration", amount_ore=10**13, reason="r", user="u")
    assert row["amount_ore"] == 10**13
    engine.con.disconnect()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6))
def test_a_total_is_the_exact_sum_or_refused_never_wrapped(amounts):
    lines = pa.table({"clinic_id": ["C1"] * len(amounts), "component": ["collaboration"] * len(amounts),
                      "amount_ore": pa.array(amounts, pa.int64())})
    exact = sum(amounts)
    if -(2**63) <= exact < 2**63:
        assert totals(lines, pa.table({"clinic_id": ["C1"]}), "2022-06")["total_ore"].to_pylist() == [exact]
    else:
        with pytest.raises(StatementError, match="beyond what a statement can hold"):
            totals(lines, pa.table({"clinic_id": ["C1"]}), "2022-06")


def test_an_api_upload_keeps_the_tables_it_was_not_given(server):
    """Last in this module: it reloads the server's listings (with the same rows)."""
    from af_region import P_ADULT, P_CHILD, P_OLD

    listings = f"person_id,clinic_id,valid_from\n{P_ADULT},A1,2020-01-01\n{P_OLD},A1,2020-01-01\n{P_CHILD},B1,2020-01-01\n"
    r = server.client(server.admin).post("/api/v1/admin/inputs", files=[("files", ("listings.csv", listings.encode(), "text/csv"))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["replaced"] == {"listings": {"before": 3, "after": 3}}
    assert body["kept"]["kombika"] == 2 and body["kept"]["clinics"] == 2 and body["kept"]["persons"] == 4
