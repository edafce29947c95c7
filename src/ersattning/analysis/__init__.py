"""analysis: the StoCHE report (seed 003) reproducible on the engine that pays — decomposition by
component, year, clinic and area, concentration index, correlations, reforms and their winners and losers.

`analyze(...)` runs it end to end (used by `ersattning analyze`); `report_html(tables)` renders the
report as one HTML page; `run_analysis` and `measures` are the pieces.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ersattning.analysis.core import Analysis, run_analysis
from ersattning.analysis.report import report_html
from ersattning.analysis.scenarios import DEFAULT_PERSONS

__all__ = ["Analysis", "AnalyzeResult", "DEFAULT_PERSONS", "analyze", "parse_years", "report_html", "run_analysis"]


def parse_years(text: str) -> list[int]:
    """`2016-2022`, `2022` or `2016,2022` → the years."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError(f"years {part!r}: the range ends before it starts")
            years.update(range(lo, hi + 1))
        elif part:
            years.add(int(part))
    if not years or min(years) < 2005 or max(years) > 2099:
        raise ValueError(f"years must be like 2016-2022, got {text!r}")
    return sorted(years)


@dataclass
class AnalyzeResult:
    analysis: Analysis
    base: Analysis | None
    tables: dict
    files: list[Path]
    seconds: float
    notes: list[str] = field(default_factory=list)


def analyze(years: list[int], output: Path, *, db: Path | None = None, persons: int = DEFAULT_PERSONS, seed: int = 2022,
            rules: Path | None = None, rules_as_of: dt.date | None = None, passive_listing: bool = False,
            progress: Callable[[str], None] | None = None, region: Path | None = None,
            neutral: str | None = None, case_mix: str = "acg", need: bool = False) -> AnalyzeResult:
    """The report's tables for `years` on a database (`db`) or the synthetic region of `persons`;
    with `rules` (a reform file), `rules_as_of` (the rulebook as it stood on a date) or
    `passive_listing`, the scenario's tables and its differences from the base rulebook.
    `region`: a folder to keep the synthetic region's files in, reused when generated there
    before with the same persons, years and seed (the benchmark's cache). `neutral`: a component
    whose rate is rescaled so that the scenario's total equals the base's, each year, to the öre
    (`analysis.neutral`). `case_mix`: "open" pays the ACG component on the open case-mix index
    instead of the ACG weights (`analysis.case_mix`), a scenario against the base. `need`: also
    the need-standardised pay by area (`analysis.need`)."""
    from ersattning.analysis.case_mix import CASE_MIX, LABEL, case_mix_table, open_risk
    from ersattning.analysis.output import tables as make_tables, write_outputs
    from ersattning.core import choose_rulebook
    from ersattning.analysis.neutral import NeutralError, neutralise, single_rate
    from ersattning.analysis.scenarios import database_engine, passive_listings, stored_lines, synthetic_engine

    if case_mix not in CASE_MIX:
        raise ValueError(f"case mix must be one of {', '.join(CASE_MIX)}, got {case_mix!r}")
    scenario = rules is not None or rules_as_of is not None or passive_listing or case_mix == "open"
    if neutral is not None:
        if not scenario:
            raise NeutralError("--neutral needs a scenario (--rules, --rules-as-of, --passive-listing or --case-mix open) to make budget-neutral")
        if need:  # the rescale scales the lines by area, not the split by person
            raise NeutralError("--neutral and --need together are not supported: run --need without --neutral")
        single_rate(choose_rulebook(rules, rules_as_of), neutral)  # refused before anything is computed

    started = time.perf_counter()
    say = progress or (lambda _: None)
    notes = []
    if db is not None:
        say("opening the database")
        engine = database_engine(db)
        notes.append(f"Data: {db}.")
        from ersattning.store import sample_size

        sample = sample_size(engine)
    else:
        say(f"building the synthetic region ({persons:,} persons)".replace(",", " "))
        engine, summary = synthetic_engine(persons, years, seed=seed, folder=region, reuse=region is not None)
        notes.append(f"Data: the synthetic region, {summary['persons']:,} residents at the end of {max(years)} (seed {seed}), "
                     f"{summary['rows'].get('contacts', 0):,} contact rows.".replace(",", " "))
        # A sample of the region shares the region-wide pots in proportion to its size.
        sample = summary["persons"]
    # The rulebooks as `run` decides them (core.choose_rulebook): a reform's pots are scaled too.
    base_book = choose_rulebook(sample_persons=sample)
    book = choose_rulebook(rules, rules_as_of, sample_persons=sample)
    if rules is not None:
        notes.append(f"Scenario: reform file {rules} overlaid on the rulebook.")
    if rules_as_of is not None:
        notes.append(f"Scenario: every month evaluated with the rulebook as it stood on {rules_as_of.isoformat()}.")
    if passive_listing:
        notes.append("Scenario: passive listing — every unlisted resident listed at the clinic of their area with the most listed residents.")
    if case_mix == "open":
        notes.append(f"Scenario: the ACG component paid on the {LABEL}, rescaled to a region mean of 1.0 each month, "
                     "instead of the ACG weights (case_mix.csv).")
    base = None
    neutral_table = None
    case_mix_out = None
    if scenario:
        base = run_analysis(engine, base_book, years, label="base", progress=lambda m: say(f"base {m}"), need=need)
        if passive_listing:
            engine.register({"listings": passive_listings(engine, dt.date(min(years), 1, 1), dt.date(max(years), 12, 31))})
        if case_mix == "open":
            case_mix_out = case_mix_table(engine, years)
            index = open_risk(engine, years)
            if need and "risk" in engine.table_names():  # the need cells keep the ACG bands of the base
                engine.register({"risk_acg": engine["risk"].to_pyarrow()})
            engine.register({"risk": index})
        analysis = run_analysis(engine, book, years, label="scenario", progress=lambda m: say(f"scenario {m}"), need=need)
        if neutral is not None:
            analysis, neutral_table = neutralise(base, analysis, book, neutral)
            factors = ", ".join(f"{r.year}: × {r.factor:.6f} ({r.parameter} {r.rate_scenario:g} → {r.rate_rescaled:.2f})"
                                for r in neutral_table.itertuples())
            notes.append(f"Budget-neutral: {neutral} rescaled so that each year's total equals the base's to the öre ({factors}).")
    else:
        analysis = run_analysis(engine, book, years, stored_lines=stored_lines(engine) if db is not None else None,
                                progress=say, need=need)
    say("writing tables and report.html")
    out = make_tables(analysis, base, neutral_table)
    if case_mix_out is not None:
        out["case_mix"] = case_mix_out
    run = sorted(set(years))  # the title names the years run: "2022", "2016–2022" or "2016, 2022"
    span = str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" if run == list(range(run[0], run[-1] + 1)) \
        else ", ".join(map(str, run))
    title = f"Primary-care pay {span}, decomposed" + (" (base, scenario and difference)" if scenario else "")
    files = write_outputs(out, Path(output), title, notes)
    return AnalyzeResult(analysis, base, out, files, time.perf_counter() - started, notes)
