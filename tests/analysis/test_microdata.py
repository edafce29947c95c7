"""`analyze --microdata` (issue 15): person-month and contact Parquet on the tiny region — no
person number in any column, the component columns adding up to the analysis's totals to the
öre, pseudonyms stable under one key (the trace's HMAC) and different under another."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import af_region
from ersattning.cli import app

runner = CliRunner()
PERSON_NUMBER = (r"\d{12}", r"\d{8}-\d{4}", r"\d{6}[-+]\d{4}")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("micro")
    db = root / "af.duckdb"
    af_region.build(db).con.con.close()
    out, key = root / "out", root / "pseudonym.key"
    result = runner.invoke(app, ["analyze", "--db", str(db), "--years", "2022", "--output", str(out),
                                 "--microdata", "--microdata-key", str(key)])
    assert result.exit_code == 0, result.output
    return {"db": db, "out": out, "key": key, "result": result,
            "pm": pq.read_table(out / "microdata" / "person_month_2022.parquet"),
            "contacts": pq.read_table(out / "microdata" / "contacts_2022.parquet")}


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column


def test_no_person_number_in_any_column(run):
    persons = {af_region.P_ADULT, af_region.P_OLD, af_region.P_CHILD, af_region.P_OUT}
    # the check finds a person number in either written form
    p = af_region.P_ADULT
    for shape, text in ((PERSON_NUMBER[0], p), (PERSON_NUMBER[1], f"{p[:8]}-{p[8:]}"), (PERSON_NUMBER[2], f"{p[2:8]}-{p[8:]}")):
        assert pc.any(pc.match_substring_regex(pa.chunked_array([["x", f"a {text} b"]]), shape)).as_py()
    for name in ("pm", "contacts"):
        t = run[name]
        assert t.num_rows > 0
        assert not {"person_id", "contact_id"} & set(t.column_names)
        for column in t.column_names:
            text = _as_text(t[column])
            for shape in PERSON_NUMBER:
                assert not pc.any(pc.match_substring_regex(text, shape)).as_py(), (name, column, shape)
            assert not persons & set(text.to_pylist()), (name, column)
    # nor in any other file the run wrote
    for path in run["out"].rglob("*.csv"):
        assert not re.search(r"\d{12}|\d{8}-\d{4}", path.read_text(encoding="utf-8")), path


def test_component_columns_add_up_to_the_analysis_to_the_ore(run):
    import pandas as pd

    pm = run["pm"].to_pandas()
    shares = pd.read_csv(run["out"] / "shares.csv").set_index("component")
    components = [c.removesuffix("_ore") for c in pm.columns if c.endswith("_ore")]
    assert set(shares.index[shares.amount_sek != 0]) <= set(components)
    for c in components:
        assert pm[f"{c}_ore"].dtype == "int64"
        # shares.csv has SEK with two decimals: the öre exactly
        assert int(pm[f"{c}_ore"].sum()) == round(shares.loc[c, "amount_sek"] * 100), c
    # the contacts hold the visit components' part, contact by contact
    contacts = run["contacts"].to_pandas()
    assert contacts.amount_ore.dtype == "int64"
    for c, total in contacts.groupby("component").amount_ore.sum().items():
        assert total == pm[f"{c}_ore"].sum(), c
    # one base visit each in March (a-1 and a-2; b-1 is a phone call without a product)
    assert pm.visits_clinic_visit.sum() == 2
    assert set(contacts.date.astype(str)) == {"2022-03-10", "2022-03-12"}
    adult = pm[(pm.month == 3) & (pm.visit_fee_ore > 0) & (pm.sex == "M")]
    assert list(adult.age_band) == ["40-44"] and list(adult.listed_clinic) == ["A1"]


def test_pseudonyms_are_the_keyed_hash_stable_across_runs(run):
    from ersattning.analysis import run_analysis
    from ersattning.analysis.microdata import read_key, year_tables
    from ersattning.analysis.scenarios import database_engine, stored_lines
    from ersattning.core import choose_rulebook
    from ersattning.trace import pseudonym

    key = read_key(run["key"])
    first = set(run["pm"]["pseudonym"].drop_null().to_pylist())
    # the trace's pseudonym function, computed row by row, gives the same values
    assert first == {pseudonym(key, p) for p in (af_region.P_ADULT, af_region.P_OLD, af_region.P_CHILD)}
    # a second run (here March alone) with the same key
    engine = database_engine(run["db"])
    book = choose_rulebook()
    again, other = {}, {}

    def sink(year, months, lines):
        again["pm"], again["contacts"] = year_tables(engine, book, year, months, lines, key)
        other["pm"], _ = year_tables(engine, book, year, months, lines, b"another key, not a person number")

    run_analysis(engine, book, [2022], months=(3,), stored_lines=stored_lines(engine), microdata=sink)
    second = set(again["pm"]["pseudonym"].drop_null().to_pylist())
    assert second == first
    assert set(again["contacts"]["pseudonym"].to_pylist()) <= first
    differ = set(other["pm"]["pseudonym"].drop_null().to_pylist())
    assert len(differ) == len(first) and not differ & first


def test_progress_line_per_year_when_not_a_terminal(run):
    text = run["result"].output + (run["result"].stderr if run["result"].stderr_bytes is not None else "")
    assert "analyze: 2022 klar (1/1)" in text


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=80),
       ids=st.lists(st.text(alphabet="0123456789", min_size=12, max_size=12), min_size=1, max_size=20))
def test_pseudonym_has_no_digit_and_sql_equals_python(key, ids):
    """A pseudonym never holds a digit (so never a run that reads as a person number: hex did,
    about one person in 50), and the column-wise SQL gives what the trace's function gives."""
    import duckdb

    from ersattning.analysis.microdata import pseudonym_sql
    from ersattning.trace import pseudonym

    con = duckdb.connect()
    got = [r[0] for r in con.execute(f"SELECT {pseudonym_sql(key, 'p')} FROM unnest(?) t(p)", [ids]).fetchall()]
    assert got == [pseudonym(key, p) for p in ids]
    assert all(len(g) == 17 and g[0] == "p" and not re.search(r"\d", g) for g in got)
