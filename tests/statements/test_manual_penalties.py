"""Decided penalties as manual lines (003 Bilaga 1, "Målrelaterad ersättning — Övriga
ersättningar eller viten": "Vite för bristande inrapportering", "Miljö (vite)"; added by manual
supplementary invoicing in VF, seed 004; RULES.md §4). They are goal-based pay (the statement's
goal column), declared `manual: true, sign: negative`: entered negative; a positive line only
reverses an earlier penalty line that its reference names."""

from __future__ import annotations

import pytest
from test_life_cycle import lines, master

from ersattning import rulebook
from ersattning.errors import StatementError
from ersattning.statements import MANUAL_COMPONENTS, NEGATIVE_COMPONENTS
from ersattning.store import (
    add_manual_line,
    manual_lines,
    open_engine,
    run_month,
    store_inputs,
)

PENALTIES = ("penalty_reporting", "penalty_environment")


@pytest.fixture
def engine(tmp_path):
    e = open_engine(tmp_path / "penalties.duckdb")
    store_inputs(e, master())
    yield e
    e.con.disconnect()


def totals(engine, month, clinic):
    return engine.con.con.execute("SELECT goal_ore, variable_ore, total_ore FROM statements WHERE month = ? AND clinic_id = ?",
                                  [month, clinic]).fetchall()[0]


def test_penalties_are_declared_manual_goal_components_of_negative_sign():
    book = rulebook.load()
    for name in PENALTIES:
        c = book.components[name]
        assert c.manual and c.sign == "negative" and c.group == "goal" and c.category == "goal_based", name
        assert name in MANUAL_COMPONENTS and name in NEGATIVE_COMPONENTS
    # The claimed items keep any sign (they are reversed by a negative line).
    assert "collaboration" not in NEGATIVE_COMPONENTS


def test_a_decided_penalty_lands_negative_in_the_goal_total(engine):
    book = rulebook.load()
    run_month(engine, "2022-07", book)
    before = totals(engine, "2022-07", "C1")
    # Deficient reporting, decided at 5 000.00 SEK = 500 000 öre; environment 1 250.50 SEK = 125 050 öre.
    add_manual_line(engine, clinic_id="C1", month="2022-07", kind="penalty_reporting", amount_ore=-500_000,
                    reason="Bristande inrapportering Q2", reference="beslut 2022/88", user="admin.eva")
    add_manual_line(engine, clinic_id="C1", month="2022-07", kind="penalty_environment", amount_ore=-125_050,
                    reason="Miljökrav ej uppfyllda", user="admin.eva")
    got = {r["component"]: r for r in lines(engine, "2022-07") if r["component"] in PENALTIES}
    assert got["penalty_reporting"]["amount_ore"] == -500_000
    assert got["penalty_reporting"]["product_code"] == "MANUAL_PENALTY_REPORTING"
    assert got["penalty_environment"]["amount_ore"] == -125_050
    after = totals(engine, "2022-07", "C1")
    # goal: before − 5 000.00 − 1 250.50 = before − 6 250.50 SEK; variable unchanged; total follows.
    assert after[0] == before[0] - 625_050 and after[1] == before[1] and after[2] == before[2] - 625_050


def test_a_positive_penalty_is_refused_naming_the_field(engine):
    for kind in PENALTIES:
        with pytest.raises(StatementError, match=rf"amount_ore must be negative for {kind}"):
            add_manual_line(engine, clinic_id="C1", month="2022-08", kind=kind, amount_ore=500_000, reason="r", user="u")
    assert len(manual_lines(engine)) == 0


def test_a_penalty_is_reversed_once_by_a_positive_line_naming_it(engine):
    book = rulebook.load()
    run_month(engine, "2022-07", book)
    before = totals(engine, "2022-07", "C1")
    first = add_manual_line(engine, clinic_id="C1", month="2022-07", kind="penalty_environment", amount_ore=-200_000,
                            reason="Miljö", user="u")
    mid = first["manual_id"]
    args = {"clinic_id": "C1", "month": "2022-07", "kind": "penalty_environment", "reason": "Återföring", "user": "u"}
    # Wrong amount, wrong clinic, wrong kind, no reference: not a reversal, so refused.
    for bad in ({"amount_ore": 100_000, "reference": f"reverses {mid}"},
                {"amount_ore": 200_000, "reference": f"reverses {mid}", "clinic_id": "C2"},
                {"amount_ore": 200_000, "reference": f"reverses {mid}", "kind": "penalty_reporting"},
                {"amount_ore": 200_000, "reference": ""},
                {"amount_ore": 200_000, "reference": "reverses M999999"}):
        with pytest.raises(StatementError, match="must be negative"):
            add_manual_line(engine, **{**args, **bad})
    add_manual_line(engine, **args, amount_ore=200_000, reference=f"reverses {mid}")
    # −2 000.00 + 2 000.00 = 0: the goal total is back where it was; both lines stay.
    assert totals(engine, "2022-07", "C1") == before
    assert len(manual_lines(engine, clinic_id="C1")) == 2
    with pytest.raises(StatementError, match="already reversed"):
        add_manual_line(engine, **args, amount_ore=200_000, reference=f"reverses {mid}")
