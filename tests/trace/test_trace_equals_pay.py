"""The trace is the paying computation (issue 11): for every line of a month of a synthetic
region, the rows the trace shows and the rule values it names give the line's basis and amount
exactly, and a clinic's traced lines add up to its statement — also when the month was paid
with a sample-scaled rulebook (the stored region is a sample) or a reform, which the trace reads
from what the month stored, not from the rulebook a later reader happens to load."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from ersattning.cli import app
from ersattning.core import Core
from ersattning.money import round_half_away, to_ore
from ersattning.synth import generate

MONTH, REFORMED = "2022-06", "2022-07"
RATE = Decimal("987.65")  # the reform's ACG rate (base 2022: 1 200 SEK/listed/year)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pay")
    generate(tmp / "in", persons=1_500, seed=5, first_year=2021, last_year=2022, contact_years=[2022])
    path = tmp / "pay.duckdb"
    runner = CliRunner()
    for args in (["load", str(tmp / "in"), "--db", str(path)],
                 ["report", str(tmp / "in" / "contacts.csv"), "--db", str(path), "--errors", str(tmp / "errors.csv")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    reform = tmp / "reform.yaml"
    reform.write_text("description: a lower ACG rate\nparameters:\n  capitation_acg.rate:\n    values:\n"
                      f"      2022-01-01: {{value: {RATE}, reference: test reform}}\n", encoding="utf-8")
    Core.open(path).run([MONTH])
    Core.open(path, reform=reform).run([REFORMED])
    return path


def _lines(core: Core, month: str) -> list[dict]:
    return core.engine.con.con.sql("SELECT * FROM statement_lines WHERE month = ? ORDER BY line_id",
                                   params=[month]).to_arrow_table().to_pylist()


def _price(trace: dict) -> Decimal:
    """The unit price the trace's rule values give (in SEK): the sum of the named values."""
    total = Decimal(0)
    for rule in trace["rules"]:
        value = rule["value"]
        if isinstance(value, list):  # the decision-table rows that give the product: no amount
            continue
        if isinstance(value, dict):  # an age band's amount
            value = value["amount"]
        total += Decimal(value)
    return total


@pytest.mark.parametrize("month", [MONTH, REFORMED])
def test_every_line_is_reproduced_by_its_trace(db, month):
    core = Core.open(db)  # a later reader with the base rulebook: the trace must use the month's own
    lines = _lines(core, month)
    assert {ln["component"] for ln in lines} >= {"capitation_age", "capitation_acg", "capitation_cni", "visit_fee",
                                                 "capitation_home_care", "health_promotion"}
    # Every line of three clinics (each trace prices its line's rows again, about half a second a
    # line): the clinics with the most kinds of lines, so that every component is among them.
    kinds: dict[str, set] = {}
    for ln in lines:
        kinds.setdefault(ln["clinic_id"], set()).add(ln["component"])
    clinics = sorted(kinds, key=lambda c: (-len(kinds[c]), c))[:3]
    lines = [ln for ln in lines if ln["clinic_id"] in clinics]
    per_clinic: dict[str, int] = {}
    for ln in lines:
        t = core.trace_line(ln["line_id"], limit=0)
        behind = t["behind"]
        assert t["line"]["amount_ore"] == ln["amount_ore"]
        if behind["kind"] in ("contacts", "persons"):
            assert t["reproduces"] is True, ln["line_id"]
            basis = Decimal(behind["basis_total"])
            assert basis == ln["basis"], ln["line_id"]
            # The line's amount from the rows behind it and the rule values the trace names.
            price = _price(t)
            assert to_ore(price) == ln["unit_price_ore"], (ln["line_id"], t["rules"])
            assert int(round_half_away(basis * to_ore(price) / ln["divisor"])) == ln["amount_ore"], ln["line_id"]
        elif ln["component"] == "health_promotion":
            # A pot shared by listed persons: the pot the trace names is the one that paid (scaled to the sample).
            assert to_ore(_price(t)) == ln["unit_price_ore"], (ln["line_id"], t["rules"])
            assert behind["kind"] == "basis" and Decimal(behind["basis"]) == ln["basis"]
        per_clinic[ln["clinic_id"]] = per_clinic.get(ln["clinic_id"], 0) + t["line"]["amount_ore"]
    totals = dict(core.engine.con.con.execute("SELECT clinic_id, total_ore FROM statements WHERE month = ?", [month]).fetchall())
    assert {c: per_clinic[c] for c in clinics} == {c: totals[c] for c in clinics}


def test_a_reformed_month_is_traced_with_the_reform_it_was_paid_with(db):
    core = Core.open(db)
    acg = next(ln for ln in _lines(core, REFORMED) if ln["component"] == "capitation_acg")
    t = core.trace_line(acg["line_id"], limit=0)
    assert (t["rules"][0]["rule"], Decimal(t["rules"][0]["value"])) == ("capitation_acg.rate", RATE)
    assert _price(t) == RATE  # with the 2022 temporary uplift (0 SEK)
    assert acg["unit_price_ore"] == to_ore(RATE)
    stored = core.engine.con.con.execute("SELECT options FROM months WHERE month = ?", [REFORMED]).fetchall()[0][0]
    assert "reform.yaml" in stored and '"sample_persons": 1500' in stored
    # The base month beside it keeps the base rate.
    base = next(ln for ln in _lines(core, MONTH) if ln["component"] == "capitation_acg")
    assert _price(core.trace_line(base["line_id"], limit=0)) == Decimal(1200)


def test_a_contact_is_priced_in_its_trace_as_on_its_line(db):
    core = Core.open(db)
    con = core.engine.con.con
    rows = con.execute("""SELECT kombika, contact_id FROM contact_events WHERE date BETWEEN ? AND ?
                          ORDER BY kombika, contact_id LIMIT 15""", [dt.date(2022, 6, 1), dt.date(2022, 6, 30)]).fetchall()
    assert rows
    seen = 0
    for kombika, contact_id in rows:
        t = core.trace_contact(kombika, contact_id)
        for p in t["products"]:
            if p["line_id"] is None:
                continue
            line = con.execute("SELECT unit_price_ore, rule FROM statement_lines WHERE line_id = ?", [p["line_id"]]).fetchall()[0]
            assert (p["unit_price_ore"], p["rule"]) == line
            d = p["decision"]
            # The decision-table row named is the one whose product the contact got, in that table's version.
            assert d["product"] == p["product_code"] and d["table"] == f"{p['component']}.decision_table"
            assert dt.date.fromisoformat(d["version"]) <= dt.date(2022, 6, 30)
            seen += 1
    assert seen >= 10
