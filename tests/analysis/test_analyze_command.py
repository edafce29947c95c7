"""`ersattning analyze` (DESIGN.md CLI contract): options, the files written, a rules-as-of scenario."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from ersattning.cli import app

runner = CliRunner()


def test_needs_exactly_one_source(tmp_path):
    both = runner.invoke(app, ["analyze", "--synthetic", "--db", str(tmp_path / "x.duckdb"), "--output", str(tmp_path)])
    neither = runner.invoke(app, ["analyze", "--output", str(tmp_path)])
    bad_years = runner.invoke(app, ["analyze", "--synthetic", "--years", "2022-2016", "--output", str(tmp_path)])
    assert both.exit_code == neither.exit_code == bad_years.exit_code == 2


def test_rules_as_of_writes_the_tables_and_the_differences(tmp_path):
    out = tmp_path / "as2020"
    result = runner.invoke(app, ["analyze", "--synthetic", "--persons", "2000", "--years", "2022",
                                 "--rules-as-of", "2020-06-30", "--output", str(out)])
    assert result.exit_code == 0, result.output
    # the console summary speaks the report's language (Swedish by default), decimal comma
    said = " ".join(result.output.split())
    assert re.search(r"budget 2022: bas [\d ]+,\d\d, scenario [\d ]+,\d\d, skillnad -?[\d ]+,\d\d kr \([+-]\d+,\d\d %\)", said), said
    assert "rapporten mot motorn (basens regelverk)" in said and "filer i" in said and "files in" not in said
    for name in ("shares.csv", "areas.csv", "concentration.csv", "correlations.csv", "analysis.xlsx", "report.html",
                 "reform_clinics.csv", "reform_areas.csv", "reform_deciles.csv"):
        assert (out / name).is_file(), name
    shares = pd.read_csv(out / "shares.csv").set_index("component")
    # base and scenario side by side: the scenario is paid with the 2020 model, on-call pay
    # (2018–2021) and no sick-leave coordination (from 2021) — 003 Bilaga 2; the base the other way round
    paid = shares[shares.amount_sek_scenario != 0].index
    assert "capitation_on_call" in paid and "capitation_sick_leave_coordination" not in paid
    assert shares.loc["capitation_sick_leave_coordination", "amount_sek_base"] > 0
    assert shares.loc["capitation_on_call", "amount_sek_base"] == 0
    assert (shares.amount_sek_difference - (shares.amount_sek_scenario - shares.amount_sek_base)).abs().max() < 0.011
    deciles = pd.read_csv(out / "reform_deciles.csv")
    assert sorted(deciles.decile) == list(range(1, 11))
    assert deciles.difference_sek.abs().sum() > 0


def test_rulebook_frozen_at_a_date_answers_that_date_everywhere(book):
    import datetime as dt

    frozen = book.frozen_at(dt.date(2016, 6, 30))
    then = book.at(dt.date(2016, 6, 30))
    for day in (dt.date(2015, 1, 1), dt.date(2019, 3, 31), dt.date(2022, 12, 31)):
        now = frozen.at(day)
        for name in book.parameters:
            assert now.value(name) == then.value(name), (name, day)
    # the ACG rate began in 2017 (003 Bilaga 2): not in force in the 2016 rulebook, in any year
    assert frozen.at(dt.date(2022, 6, 1)).get("capitation_acg.rate") is None


def test_analyze_a_database_reads_its_stored_months_and_its_sample(tmp_path):
    """--db: the stored inputs and the register's contacts; a month stored in the database is
    read as it was paid (here with a manual line, which no recomputation from the inputs would
    give); a synthetic database is a sample (sample.yaml), so its pots are scaled (RULES.md §2)."""
    from ersattning.synth import generate

    generate(tmp_path / "in", persons=1_500, seed=5, first_year=2021, last_year=2022, contact_years=[2022])
    db = str(tmp_path / "a.duckdb")
    for args in (["load", str(tmp_path / "in"), "--db", db],
                 ["report", str(tmp_path / "in" / "contacts.csv"), "--db", db, "--errors", str(tmp_path / "e.csv")],
                 ["run", "--db", db, "--month", "2022-03", "--issue"],
                 ["manual", "add", "--db", db, "--clinic", "HLM0001", "--month", "2022-04", "--kind", "collaboration",
                  "--amount", "123456.78", "--reason", "Samverkan"],
                 ["run", "--db", db, "--month", "2022-04"]):
        assert runner.invoke(app, args).exit_code == 0, args
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", "--db", db, "--years", "2022", "--output", str(out)])
    assert result.exit_code == 0, result.output
    shares = pd.read_csv(out / "shares.csv")
    assert abs(shares.share_of_total.sum() - 100) < 0.1  # shares are written with two decimals
    assert shares[shares.component == "collaboration"].amount_sek.tolist() == [123456.78]
    # the pots of a 1 500-person sample are about 0.06 % of the county's: far below 1 % of its pay
    hp = shares[shares.component == "health_promotion"].share_of_total.sum()
    assert 0 < hp < 1
    for path in out.glob("*.csv"):
        assert not re.search(r"\b(19|20)\d{10}\b", path.read_text(encoding="utf-8")), f"a person number in {path.name}"
