"""The decision tables evaluated on the distinct combinations of what they read
(`visits.distinct_decisions`, the visit pass's way) give every contact the product it gets when
the table runs on the contacts one by one (`visits.product_code`, the trace's way): for age
bounds, actions words, flags, words and a table version starting mid-period (RULES.md §3, §10:
first matching row wins; the version in force on the contact's date applies)."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ersattning.products.visits import distinct_decisions, product_code
from ersattning.rulebook.loader import Parameter, Value

START, END = dt.date(2022, 1, 1), dt.date(2022, 3, 31)
TYPES = ("clinic_visit", "phone", "video", "home_visit")
WORDS = ("UX001", "UX002", "AU120")

condition = st.fixed_dictionaries({}, optional={
    "age_min": st.integers(0, 90),
    "age_max": st.integers(0, 90),
    "contact_type": st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True).map(tuple),
    "resident": st.booleans(),
    "actions_include": st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True).map(tuple),
})
rows = st.lists(st.tuples(condition, st.sampled_from(["P1", "P2", "P3", None])), min_size=1, max_size=6)
contact = st.fixed_dictionaries({
    "date": st.dates(START, END),
    "age": st.one_of(st.none(), st.integers(0, 100)),
    "contact_type": st.sampled_from(TYPES),
    "resident": st.one_of(st.none(), st.booleans()),
    "actions": st.one_of(st.none(), st.lists(st.sampled_from(WORDS + ("XX999",)), max_size=3).map(";".join)),
    "clinic_id": st.sampled_from(["A1", "B1"]),
})


def table(versions: list[tuple[dt.date, list]]) -> Parameter:
    return Parameter("t.decision_table", "test", "product_codes", "decision_table", "t.yaml",
                     tuple(Value(day, tuple(r), "test") for day, r in versions))


@settings(max_examples=60, deadline=None)
@given(first=rows, second=rows, change=st.dates(START + dt.timedelta(days=1), END), contacts=st.lists(contact, min_size=1, max_size=40))
def test_groups_get_the_products_their_contacts_get(first, second, change, contacts):
    param = table([(dt.date(2015, 1, 1), first), (change, second)])
    con = ibis.duckdb.connect()
    facts = pa.Table.from_pylist(contacts, schema=pa.schema([
        ("date", pa.date32()), ("age", pa.int64()), ("contact_type", pa.string()), ("resident", pa.bool_()),
        ("actions", pa.string()), ("clinic_id", pa.string())]))
    f = con.create_table("facts", facts)

    one_by_one = f.mutate(product=product_code(f, param, START, END))
    expected = one_by_one.group_by("clinic_id", "product").aggregate(n=one_by_one.count()).to_pyarrow()

    g = distinct_decisions(f, [param], START, END, {"clinic_id": f.clinic_id})
    grouped = g.mutate(product=product_code(g, param, START, END))
    got = grouped.group_by("clinic_id", "product").aggregate(n=grouped.n.sum()).to_pyarrow()

    def as_set(t):
        return {(c, p, int(n)) for c, p, n in zip(*(t[k].to_pylist() for k in ("clinic_id", "product", "n")))}

    assert as_set(got) == as_set(expected)
    assert g.n.sum().to_pyarrow().as_py() == len(contacts)  # every contact in exactly one group


def test_a_quarter_of_contacts_become_fewer_groups():
    """Ages and dates cut down to the table's bounds and versions: 100 contacts on 100 ages and
    days fall into the groups the table can tell apart (age < 6 or not; before or after the
    new version)."""
    param = table([(dt.date(2015, 1, 1), [({"age_max": 5}, "CHILD"), ({}, "ADULT")]),
                   (dt.date(2022, 2, 15), [({"age_max": 5}, "CHILD2"), ({}, "ADULT2")])])
    con = ibis.duckdb.connect()
    f = con.create_table("facts", pa.table({"date": [START + dt.timedelta(days=i % 90) for i in range(100)],
                                            "age": list(range(100))}))
    g = distinct_decisions(f, [param], START, END, {}).to_pyarrow()
    # pieces: Jan, Feb 1–14, Feb 15–28, Mar (month starts and the version start) × ages {≤5, ≥6}
    assert len(g) <= 8 and sum(g["n"].to_pylist()) == 100
