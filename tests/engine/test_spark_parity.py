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
