"""The CLI contract (DESIGN.md): statements (stateless), load, run and run --issue."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from ersattning.cli import app

runner = CliRunner()

FILES = {
    "clinics.csv": "clinic_id,name,group_id,area_code,opened,closed\nC1,Vårdcentral Ett,G1,0180-01,2010-01-01,\nC2,Vårdcentral Två,G2,0186,2010-01-01,\n",
    "persons.csv": "person_id,birth_date,sex,county_code,area_code,valid_from,valid_to\n"
    "199202011087,1992-02-01,F,01,0180-01,,\n195206011156,1952-06-01,M,01,0186,,\n",
    "listings.csv": "person_id,clinic_id,valid_from,valid_to\n199202011087,C1,2020-01-01,\n195206011156,C2,2020-01-01,\n",
    "risk.csv": "person_id,month,acg_weight,cni\n199202011087,2022-01,1.5,1.2\n195206011156,2022-01,2.0,0.9\n",
}


def folder(tmp_path: Path, **changes: str) -> Path:
    d = tmp_path / "input"
    d.mkdir(exist_ok=True)
    for name, text in {**FILES, **changes}.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_statements_writes_the_contract_files(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["statements", "--input", str(folder(tmp_path)), "--month", "2022-03", "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = read(out / "statement_lines.csv")
    assert list(lines[0])[:8] == ["clinic_id", "month", "component", "product_code", "quantity", "unit_price_sek", "amount_sek", "rule"]
    c1 = {row["product_code"]: row for row in lines if row["clinic_id"] == "C1"}
    assert c1["CAP_ACG"]["amount_sek"] == "150.00"  # 1.5 × 1200 / 12
    assert c1["CAP_ACG"]["rule"].startswith("capitation_acg.rate@2022-01-01")
    statements = read(out / "statements.csv")
    assert list(statements[0]) == ["clinic_id", "month", "fixed_sek", "variable_sek", "goal_sek", "adjustment_sek", "total_sek"]
    c1_total = next(s for s in statements if s["clinic_id"] == "C1")["total_sek"]
    # 310/12 + 1.5×1200/12 + 1.2×410/12 + 37/12 = 25.83 + 150.00 + 41.00 + 3.08 = 219.91, plus the
    # health-promotion pots 2022 shared by the two clinics with one listed each:
    # 415 000 / 12 / 2 = 17 291.67 (equal split) and 6 500 000 / 12 × 1/2 = 270 833.33 (by listed)
    assert c1_total == "288344.91"


def test_statements_with_a_reform_file(tmp_path):
    reform = tmp_path / "reform.yaml"
    reform.write_text("description: ACG 1500\nparameters:\n  capitation_acg.rate:\n    values:\n      2022-01-01: {value: 1500, reference: proposal}\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["statements", "--input", str(folder(tmp_path)), "--month", "2022-03", "--output", str(out), "--rules", str(reform)])
    assert result.exit_code == 0, result.output
    acg = next(r for r in read(out / "statement_lines.csv") if r["clinic_id"] == "C1" and r["product_code"] == "CAP_ACG")
    assert acg["amount_sek"] == "187.50"  # 1.5 × 1500 / 12


def test_bad_input_stops_with_an_error_file_naming_file_line_column(tmp_path):
    bad = FILES["listings.csv"] + "199202011088,C1,2021-01-01,\n"  # wrong check digit
    out = tmp_path / "out"
    result = runner.invoke(app, ["statements", "--input", str(folder(tmp_path, **{"listings.csv": bad})), "--month", "2022-03", "--output", str(out)])
    assert result.exit_code == 1
    errors = read(out / "input_errors.csv")
    assert any(e["file"].startswith("listings") and e["line"] == "4" and e["column"] == "person_id" and e["code"] == "bad_person_id" for e in errors)
    assert not (out / "statements.csv").exists()
    assert "199202011088" not in result.output  # no person number in what we print


def test_bad_month_is_refused(tmp_path):
    result = runner.invoke(app, ["statements", "--input", str(folder(tmp_path)), "--month", "2022-13", "--output", str(tmp_path / "o")])
    assert result.exit_code != 0


def test_load_run_issue_and_an_issued_month_never_changes(tmp_path):
    db = tmp_path / "e.duckdb"
    assert runner.invoke(app, ["load", str(folder(tmp_path)), "--db", str(db)]).exit_code == 0
    first = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-03"])
    assert first.exit_code == 0 and "draft" in first.output
    issued = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-03", "--issue"])
    assert issued.exit_code == 0 and "issued" in issued.output

    import duckdb

    con = duckdb.connect(str(db))
    before = con.execute("SELECT * FROM statement_lines WHERE month = '2022-03' ORDER BY line_id").fetchall()
    status, digest = con.execute("SELECT status, content_hash FROM months WHERE month = '2022-03'").fetchone()
    con.close()
    assert status == "issued" and len(digest) == 64

    # New inputs (a person leaves C1) do not change the issued month.
    changed = FILES["listings.csv"].replace("199202011087,C1,2020-01-01,", "199202011087,C1,2020-01-01,2022-02-01")
    assert runner.invoke(app, ["load", str(folder(tmp_path, **{"listings.csv": changed})), "--db", str(db)]).exit_code == 0
    again = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-03"])
    assert again.exit_code == 0 and "unchanged" in again.output
    con = duckdb.connect(str(db))
    after = con.execute("SELECT * FROM statement_lines WHERE month = '2022-03' ORDER BY line_id").fetchall()
    con.close()
    assert after == before
    # A month not issued is recomputed from the new inputs.
    april = runner.invoke(app, ["run", "--db", str(db), "--month", "2022-04"])
    assert april.exit_code == 0


def test_run_without_load_says_what_to_do(tmp_path):
    result = runner.invoke(app, ["run", "--db", str(tmp_path / "empty.duckdb"), "--month", "2022-03"])
    assert result.exit_code == 1
    assert "ersattning load" in result.output


def test_the_issue_hash_depends_on_content_not_on_chunking(tmp_path):
    import pyarrow as pa

    from ersattning import rulebook
    from ersattning.engine import Engine
    from ersattning.inputs import read_inputs
    from ersattning.statements import compute_month
    from ersattning.store import content_hash

    result = compute_month(Engine.duckdb().register(read_inputs(folder(tmp_path)).tables), rulebook.load(), "2022-03")
    rechunked = pa.Table.from_batches(result.lines.to_batches(max_chunksize=1))
    assert content_hash(rechunked, result.statements) == content_hash(result.lines, result.statements)
    changed = result.lines.set_column(result.lines.schema.get_field_index("amount_ore"), "amount_ore",
                                      pa.array([a + 1 for a in result.lines["amount_ore"].to_pylist()], pa.int64()))
    assert content_hash(changed, result.statements) != content_hash(result.lines, result.statements)
