"""The order of rows in a file changes line numbers, never which rows are in error or why."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from inputs_data import P1, P2, P3, RESERV, VALID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ersattning.inputs import validate

BASE = {name: pacsv.read_csv(pa.BufferReader(VALID[name].encode()), convert_options=pacsv.ConvertOptions(
    column_types={c: pa.string() for c in VALID[name].splitlines()[0].split(",")})) for name in ("clinics", "persons", "risk")}

# P3 has no risk row, so listings of P3 that cover January 2022 are missing_risk.
BASE["risk"] = BASE["risk"].filter(pc.not_equal(BASE["risk"]["person_id"], P3))

START = dt.date(2019, 1, 1)
rows = st.lists(
    st.tuples(
        st.sampled_from([P1, P2, P3, RESERV, "198507042227", "12345"]),
        st.sampled_from(["C1", "C2", "C3", "C9"]),
        st.integers(0, 1400),
        st.one_of(st.none(), st.integers(-5, 500)),
    ),
    min_size=1, max_size=12,
)


def listings_table(items):
    text = [(p, c, (START + dt.timedelta(days=s)).isoformat(), "" if d is None else (START + dt.timedelta(days=s + d)).isoformat())
            for p, c, s, d in items]
    return pa.table({k: [t[i] for t in text] for i, k in enumerate(["person_id", "clinic_id", "valid_from", "valid_to"])}), text


def error_contents(items):
    table, text = listings_table(items)
    result = validate(dict(BASE, listings=table))
    content = {line: text[line - 2] for line in range(2, len(text) + 2)}  # line 2 = first row
    found = Counter()
    for e in result.errors.to_pylist():
        assert e["file"] == "listings.csv", e
        other = re.search(r"on line (\d+)", e["message"])
        found[(e["code"], e["column"], content[e["line"]], content[int(other.group(1))] if other else None)] += 1
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=rows, data=st.data())
def test_shuffling_listings_keeps_the_error_set(items, data):
    order = data.draw(st.permutations(range(len(items))))
    assert error_contents([items[i] for i in order]) == error_contents(items)
