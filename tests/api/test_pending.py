"""The data behind the clinic's "why" pages, on the why region (tests/why_region.py), amounts worked
out by hand there: the month against February and March 2021, the adjustment line's paid and now
(the same as its trace), where a contact corrected after its month was issued was paid, and the
money waiting for fixes priced by the engine that pays (visits.contact_products)."""

from __future__ import annotations

import pytest
from af_region import KA, P_ADULT
from why_region import LATE, NOT_IN_PERSONS, build_why

from ersattning.api import queries
from ersattning.core import Core


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    db = tmp_path_factory.mktemp("why") / "why.duckdb"
    build_why(db).con.disconnect()
    c = Core.open(db)
    yield c
    c.engine.con.disconnect()


def test_the_month_is_compared_with_the_previous_month_and_last_year(core):
    c = queries.month_comparison(core.engine.con.con, "A1", "2022-03", biggest=10)
    assert (c["previous"], c["last_year"], c["previous_computed"], c["last_year_computed"]) == ("2022-02", "2021-03", True, True)
    visit = next(r for r in c["components"] if r["component"] == "visit_fee")
    assert (visit["amount_ore"], visit["previous_ore"], visit["vs_previous_ore"]) == (22000, 33000, -11000)
    assert (visit["last_year_ore"], visit["vs_last_year_ore"]) == (11000, 11000)
    nb = "\u00a0"
    assert f"Besöksersättning minskade med 110,00{nb}kr (−33{nb}%): 1 färre besök" in c["explain_previous"]
    assert f"Besöksersättning ökade med 110,00{nb}kr (+100{nb}%): 1 fler besök" in c["explain_last_year"]
    # SUP_OTHER_CLINIC (a-2, B1's listed child) is new in March: 300 kr.
    assert f"Tillägg, annan mottagnings listade är ny: 300,00{nb}kr" in c["explain_previous"]
    # The adjustment line is a correction of February, not a change of March's own pay.
    assert not any(t.startswith("Justering") for t in c["explain_previous"] + c["explain_last_year"])
    assert c["total_ore"] == sum(r["amount_ore"] for r in c["components"])
    top = queries.month_comparison(core.engine.con.con, "A1", "2022-03")
    assert len(top["explain_last_year"]) == 3 and top["explain_last_year"] == c["explain_last_year"][:3]


def test_the_trend_has_each_computed_month_of_the_twelve(core):
    t = queries.trend(core.engine.con.con, "A1", "2022-03")
    assert sorted({r["month"] for r in t}) == ["2022-02", "2022-03"]  # 2021-03 is twelve months back: outside
    assert {(r["month"], r["amount_ore"]) for r in t if r["component"] == "visit_fee"} == {("2022-02", 33000), ("2022-03", 22000)}


def test_an_adjustment_line_says_what_was_paid_and_what_it_is_now_as_its_trace_does(core):
    adj = queries.adjustment_lines(core.engine.con.con, "A1", "2022-03")
    line = "A1:2022-03:ADJ:A1:2022-02:VF_BASE"
    assert list(adj) == [line]
    a = adj[line]
    assert (a["corrects_month"], a["corrects_line_id"], a["paid_ore"], a["now_ore"]) == ("2022-02", "A1:2022-02:VF_BASE", 33000, 44000)
    behind = core.trace_line(line)["behind"]
    assert (behind["paid_ore"], behind["now_ore"]) == (a["paid_ore"], a["now_ore"])


def test_a_contact_corrected_after_its_month_was_issued_names_the_adjustment_line_that_paid_it(core):
    t = core.trace_contact(KA, LATE)
    assert t["after_run"] and len(t["products"]) == 1
    p = t["products"][0]
    assert p["line_id"] is None
    assert p["adjustment"] == {"line_id": "A1:2022-03:ADJ:A1:2022-02:VF_BASE", "month": "2022-03", "month_status": "draft",
                               "corrects_line_id": "A1:2022-02:VF_BASE", "corrects_stored": True}
    on_time = core.trace_contact(KA, "f-1")["products"][0]
    assert on_time["line_id"] == "A1:2022-02:VF_BASE" and on_time["adjustment"] is None


def test_rejected_and_held_contacts_are_priced_as_if_corrected(core):
    p = queries.pending_fixes(core, "A1", "2022-03")
    by_id = {c["contact_id"]: c for c in p["contacts"]}
    assert set(by_id) == {"a-3", "a-4", "a-6", "h-1"}
    assert (by_id["a-4"]["amount_ore"], by_id["a-6"]["amount_ore"], by_id["h-1"]["amount_ore"]) == (11000, 11000, 21000)
    assert by_id["a-3"]["priceable"] is False and by_id["a-3"]["amount_ore"] is None
    assert "personnummer" in by_id["a-3"]["reason"] and "avgör" in by_id["a-3"]["reason"]
    assert p["total_ore"] == 43000 and p["not_priceable"] == 1
    assert {s["code"]: (s["contacts"], s["priceable"], s["not_priceable"], s["amount_ore"]) for s in p["by_code"]} == {
        "bad_diagnosis": (2, 2, 0, 22000), "no_residence_on_date": (1, 1, 0, 21000), "bad_person_id": (1, 0, 1, 0)}
    # a-6: the latest attempt (bad_diagnosis) is the row; the first (bad_profession) is folded under it.
    assert by_id["a-6"]["codes"] == ["bad_diagnosis"]
    assert [e["codes"] for e in by_id["a-6"]["earlier"]] == [["bad_profession"]]
    assert NOT_IN_PERSONS not in str(p) and P_ADULT not in str(p)


def test_an_error_in_a_field_that_decides_the_product_is_not_priceable(core):
    fields = queries.product_fields(core.book_of_month("2022-03"))
    assert {"person_id", "date", "kombika", "contact_type", "profession"} <= fields
    assert "diagnoses" not in fields and "reported_at" not in fields


def test_the_filters_and_another_clinic(core):
    assert queries.pending_fixes(core, "A1", "2022-02")["contacts"] == []
    only = queries.pending_fixes(core, "A1", None, "bad_person_id")
    assert [c["contact_id"] for c in only["contacts"]] == ["a-3"] and only["total_ore"] == 0
    assert queries.pending_fixes(core, "B1")["contacts"] == []  # B1 sent nothing rejected, holds nothing


def test_a_corrected_rejection_is_listed_but_not_summed(core, tmp_path):
    import datetime as dt

    from af_region import contact

    from ersattning.register import intake_table, records_table

    before = queries.pending_fixes(core, "A1", "2022-03")["total_ore"]
    intake_table(core.engine, records_table([contact("a-4", KA, P_ADULT, date="2022-03-14", reported_at="2022-04-01T12:00:00")]),
                 "pas-fix.jsonl", received_at=dt.datetime.now())
    after = queries.pending_fixes(core, "A1", "2022-03")
    a4 = next(c for c in after["contacts"] if c["contact_id"] == "a-4")
    assert a4["fixed"] and a4["amount_ore"] is None and after["total_ore"] == before - 11000


def test_contact_ids_shown_masked_stay_separate_contacts_and_are_never_shown(tmp_path):
    """Two rejected contacts whose ids are 12-digit numbers (a PAS's numeric ids; the error row
    shows them masked, as anything that may be a person number): two rows on /fel, not one,
    the later version of one of them marks it corrected, and no id appears as sent."""
    import datetime as dt

    from af_region import contact

    from ersattning.register import intake_table, records_table

    db = tmp_path / "why.duckdb"
    build_why(db).con.disconnect()
    c = Core.open(db)
    try:
        ids = ("202203000001", "202203000002")
        bad = [contact(i, KA, P_ADULT, date="2022-03-14", contact_type="letter") for i in ids]
        intake_table(c.engine, records_table(bad), "pas-numeric.csv", received_at=dt.datetime(2022, 4, 2, 8))
        p = queries.pending_fixes(c, "A1", "2022-03", "bad_contact_type")
        numeric = [x for x in p["contacts"] if x["source"] == "pas-numeric.csv"]
        assert len(numeric) == 2 and all("[personnummer]" in x["contact_id"] for x in numeric)
        assert not any(i in repr(p) for i in ids)
        intake_table(c.engine, records_table([contact(ids[0], KA, P_ADULT, date="2022-03-14")]), "pas-fixed.csv",
                     received_at=dt.datetime(2022, 4, 3, 8))
        p = queries.pending_fixes(c, "A1", "2022-03", "bad_contact_type")
        assert sorted(x["fixed"] for x in p["contacts"] if x["source"] == "pas-numeric.csv") == [False, True]
    finally:
        c.engine.con.disconnect()
