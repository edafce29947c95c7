"""The same Ibis expressions on DuckDB and on PySpark give identical statement lines (DESIGN.md Engine).

A small synthetic region with a year of contacts, three months (December 2021: the first
children's mental-health snapshot and the 0–5 supplement; March 2022: every capitation
item and the visit model; January 2021: the old visit model with the unlisted
supplement), every line and column compared.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra is installed by `make test`")

from ersattning import rulebook
from ersattning.engine import Engine
from ersattning.inputs import read_inputs
from ersattning.register import read_contacts
from ersattning.statements import compute_month
from ersattning.synth import generate

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("region")
    generate(folder, persons=3000, seed=11, first_year=2021, last_year=2022, fmt="parquet")
    tables = read_inputs(folder).require_clean().tables
    contacts, errors = read_contacts(folder / "contacts.parquet", tables, today=dt.date(2023, 1, 31))
    assert contacts.num_rows > 10_000 and errors.num_rows > 0  # the synthetic file has some bad rows
    return {**tables, "contacts": contacts}


@pytest.fixture(scope="module")
def spark_engine():
    if not shutil.which("java"):
        pytest.fail("Java 17 is needed for the PySpark parity test")
    engine = Engine.pyspark()
    yield engine
    engine.con._session.stop()


@pytest.mark.parametrize("month", ["2021-01", "2021-12", "2022-03"])
def test_duckdb_and_pyspark_give_the_same_lines(inputs, spark_engine, month):
    book = rulebook.load()
    on_duckdb = compute_month(Engine.duckdb().register(inputs), book, month)
    on_spark = compute_month(spark_engine.register(inputs), book, month)
    assert on_duckdb.lines.num_rows > 20
    assert on_spark.lines.to_pylist() == on_duckdb.lines.to_pylist()
    assert on_spark.statements.to_pylist() == on_duckdb.statements.to_pylist()
    components = set(on_duckdb.lines["component"].to_pylist())
    assert {"capitation_age", "capitation_cni", "visit_fee"} <= components
    if month == "2022-03":
        assert {"capitation_acg", "supplement_other_clinic_patient", "deduction_own_patient_elsewhere", "visit_out_of_county"} <= components


# The ACG rate 1 200 -> 1 500 SEK a year from 2022 (a capitation rate: the scenario reuses its base's passes).
ACG_1500 = {"description": "ACG rate 1 500 SEK from 2022", "reference": "test",
            "parameters": {"capitation_acg.rate": {"values": {"2022-01-01": {"value": 1500, "reference": "test"}}}}}


def test_a_reform_year_analysed_on_spark_gives_the_same_tables_as_on_duckdb(spark_engine, tmp_path):
    """`analyze --db … --engine spark`: the base and the scenario year (its visit passes given
    again to the scenario) and the split by area computed on Spark from the exported inputs;
    every CSV equal to DuckDB's, byte for byte."""
    import yaml
    from typer.testing import CliRunner

    from ersattning.analysis import analyze
    from ersattning.cli import app

    region, db = tmp_path / "region", tmp_path / "r.duckdb"
    generate(region, persons=1500, seed=5, first_year=2021, last_year=2022, fmt="parquet")
    runner = CliRunner()
    for args in (["load", str(region), "--db", str(db), "--errors", str(tmp_path / "err.csv")],
                 ["report", str(region / "contacts.parquet"), "--db", str(db)]):
        assert runner.invoke(app, args).exit_code == 0
    reform = tmp_path / "acg1500.yaml"
    reform.write_text(yaml.safe_dump(ACG_1500), encoding="utf-8")
    options = dict(db=db, rules=reform, neutral="capitation_cni")
    analyze([2022], tmp_path / "duckdb", **options)
    on_spark = analyze([2022], tmp_path / "spark", spark=("local[2]", {}, tmp_path / "staging"), **options)
    assert any("Spark" in n for n in on_spark.notes)
    csvs = sorted(p.name for p in (tmp_path / "duckdb").glob("*.csv"))
    assert {"shares.csv", "areas.csv", "neutral.csv", "reform_areas.csv", "reform_clinics.csv"} <= set(csvs)
    for name in csvs:
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "duckdb" / name).read_bytes(), name
    assert on_spark.analysis.allocated.num_rows > 100


@pytest.mark.parametrize("option", [dict(need=True), dict(microdata=True), dict(passive_listing=True),
                                    dict(case_mix="open"), dict(db=None)])
def test_spark_refuses_the_analyses_whose_queries_run_on_duckdb_only_before_anything_runs(tmp_path, option):
    from ersattning.analysis import analyze
    from ersattning.errors import ErsattningError

    options = {"db": tmp_path / "none.duckdb", **option}
    with pytest.raises(ErsattningError, match="--engine spark does not run"):
        analyze([2022], tmp_path / "out", spark=("local[2]", {}, tmp_path / "staging"), **options)
    assert not (tmp_path / "staging").exists() and not (tmp_path / "out").exists()
