"""Loading the claims files (medical_service, requisitions): stored like every input table, all or
nothing; an absent file keeps the stored table, a header-only file empties it, and a database
made before these tables existed is read as having none (003 Bilaga 1; 000)."""

from __future__ import annotations

from ersattning.core import Core

P1 = "199202011087"
BASE = {
    "clinics.csv": "clinic_id,name,group_id,area_code,opened\nC1,Ett,G1,0186,2000-01-01\n",
    "persons.csv": f"person_id,birth_date,sex,county_code,area_code\n{P1},1992-02-01,F,01,0186\n",
    "listings.csv": f"person_id,clinic_id,valid_from\n{P1},C1,2020-01-01\n",
}
ORDERS = "order_id,clinic_id,date,person_id,service_code,cost_sek\no-1,C1,2022-03-01,,LAB-CRP,100.00\n"


def folder(path, files):
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


def claims_total(core: Core, month="2022-03") -> int:
    core.run([month])
    return core.engine.con.con.execute("SELECT coalesce(sum(amount_ore), 0) FROM statement_lines WHERE month = ? "
                                       "AND component = 'medical_service'", [month]).fetchall()[0][0]


def test_absent_keeps_header_only_empties_and_a_bad_row_changes_nothing(tmp_path):
    core = Core.open(tmp_path / "db.duckdb")
    assert not core.load(folder(tmp_path / "a", {**BASE, "medical_service.csv": ORDERS})).errors.num_rows
    assert claims_total(core) == -10000  # 100.00 SEK of the clinic's own lab tests
    result = core.load(folder(tmp_path / "b", BASE))  # no medical_service.csv: the stored orders stay
    assert result.kept["medical_service"] == 1 and claims_total(core) == -10000
    bad = core.load(folder(tmp_path / "c", {**BASE, "medical_service.csv": ORDERS + "o-1,C1,2022-03-02,,LAB-CRP,5\n"}))
    assert bad.errors["code"].to_pylist() == ["duplicate"] and claims_total(core) == -10000  # all or nothing
    header_only = ORDERS.splitlines()[0] + "\n"
    assert core.load(folder(tmp_path / "d", {**BASE, "medical_service.csv": header_only})).replaced["medical_service"] == (1, 0)
    assert claims_total(core) == 0


def test_a_database_without_the_claims_tables_is_read_as_having_none(tmp_path):
    core = Core.open(tmp_path / "old.duckdb")
    assert not core.load(folder(tmp_path / "a", BASE)).errors.num_rows
    con = core.engine.con.con
    con.execute("DROP TABLE medical_service")
    con.execute("DROP TABLE requisitions")
    engine = core.engine
    engine.tables.clear()
    engine.attach_stored()
    assert "medical_service" not in engine.table_names()
    assert claims_total(Core(engine)) == 0
