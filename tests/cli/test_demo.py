"""`ersattning demo` as the README's quick start runs it (through the CLI and its consoles, with its
progress display): a small region's year computed on the year path, every month stored with the
rulebook it was computed with, the printed total the database's."""

from __future__ import annotations

from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.money import sek_text
from ersattning.store import open_engine


def test_the_demo_computes_a_year_and_prints_its_total(tmp_path):
    db = tmp_path / "demo.duckdb"
    result = CliRunner().invoke(app, ["demo", "--persons", "2000", "--year", "2022", "--db", str(db), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    con = open_engine(db).con.con  # the demo's own connection is still open in this process
    months = con.execute("SELECT month, status, rulebook_hash FROM months ORDER BY month").fetchall()
    assert [m for m, _, _ in months] == [f"2022-{m:02d}" for m in range(1, 13)]
    assert {s for _, s, _ in months} == {"draft"} and len({h for _, _, h in months}) == 1 and months[0][2]
    total = con.execute("SELECT sum(total_ore) FROM statements").fetchall()[0][0]
    assert "│ total" in result.output and sek_text(int(total)) in result.output.replace("\u00a0", " ")
