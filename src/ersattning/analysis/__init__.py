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
from ersattning.errors import ErsattningError

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
            neutral: str | None = None, case_mix: str = "acg", need: bool = False, microdata: bool = False,
            microdata_key: Path | None = None, lang: str = "sv", spark: tuple | None = None) -> AnalyzeResult:
    """The report's tables for `years` on a database (`db`) or the synthetic region of `persons`;
    with `rules` (a reform file), `rules_as_of` (the rulebook as it stood on a date) or
    `passive_listing`, the scenario's tables and its differences from the base rulebook.
    `region`: a folder to keep the synthetic region's files in, reused when generated there
    before with the same persons, years and seed (the benchmark's cache). `neutral`: a component
    whose rate is rescaled so that the scenario's total equals the base's, each year, to the öre
    (`analysis.neutral`). `case_mix`: "open" pays the ACG component on the open case-mix index
    instead of the ACG weights (`analysis.case_mix`), a scenario against the base. `need`: also
    the need-standardised pay by area (`analysis.need`).
    `microdata`: also the pseudonymised person-month and contact tables
    (Parquet, `analysis.microdata`) in `output`/microdata, pseudonyms keyed by the file
    `microdata_key` (created when missing), else by the database's secret (`--db`, as the trace's
    pseudonyms), else by a key of this run only. `lang`: report.html and analysis.xlsx in Swedish
    ("sv") or English ("en"); the CSVs keep their column names.
    `spark`: (master, conf, staging folder) — the statements and the split by area computed on
    Spark (`ersattning.spark.spark_engine`) from the database's inputs and live contacts, which are
    exported to the staging folder first (one the cluster's executors can read); the stored
    statement lines are read from the database as on DuckDB. Needs `db`; not with `need`,
    `microdata`, `passive_listing` or the open case mix (their queries are DuckDB SQL)."""
    from ersattning.analysis.case_mix import CASE_MIX, LABEL, case_mix_table, open_risk
    from ersattning.analysis.output import tables as make_tables, write_outputs
    from ersattning.core import choose_rulebook
    from ersattning.analysis.neutral import NeutralError, neutralise, single_rate
    from ersattning.analysis.scenarios import database_engine, passive_listings, stored_lines, synthetic_engine
    from ersattning.statements.memo import PassMemo

    if case_mix not in CASE_MIX:
        raise ValueError(f"case mix must be one of {', '.join(CASE_MIX)}, got {case_mix!r}")
    scenario = rules is not None or rules_as_of is not None or passive_listing or case_mix == "open"
    if neutral is not None:
        if not scenario:
            raise NeutralError("--neutral needs a scenario (--rules, --rules-as-of, --passive-listing or --case-mix open) to make budget-neutral")
        if need:  # the rescale scales the lines by area, not the split by person
            raise NeutralError("--neutral and --need together are not supported: run --need without --neutral")
        single_rate(choose_rulebook(rules, rules_as_of), neutral)  # refused before anything is computed
        if microdata:  # the person-level split is of the lines as computed, not of the rescaled ones
            raise NeutralError("--microdata cannot be combined with --neutral")

    if spark is not None:
        unsupported = [flag for flag, on in (("--synthetic (export a database: --db)", db is None), ("--need", need),
                                             ("--microdata", microdata), ("--passive-listing", passive_listing),
                                             ("--case-mix open", case_mix == "open")) if on]
        if unsupported:
            raise ErsattningError(f"--engine spark does not run {', '.join(unsupported)}: their queries run on DuckDB only")

    started = time.perf_counter()
    say = progress or (lambda _: None)
    notes = []
    sv = lang == "sv"
    stored = None  # the database (DuckDB) its stored statement lines are read from
    if db is not None:
        from ersattning.store import sample_size

        if spark is not None:
            from ersattning.spark import export_inputs, spark_engine

            master, conf, staging = spark
            say("exporting the database's inputs for Spark")
            export_inputs(db, staging)  # before the database is opened here: it opens and closes it
            engine, sample = spark_engine(str(Path(staging).resolve()), master=master, conf=conf)
            stored = database_engine(db)
            notes.append(f"Data: {db}, computed on Spark ({master})." if not sv else f"Underlag: {db}, beräknat på Spark ({master}).")
        else:
            say("opening the database")
            engine = stored = database_engine(db)
            notes.append(f"Data: {db}." if not sv else f"Underlag: {db}.")
            sample = sample_size(engine)
    else:
        say(f"building the synthetic region ({persons:,} persons)".replace(",", " "))
        engine, summary = synthetic_engine(persons, years, seed=seed, folder=region, reuse=region is not None)
        notes.append((f"Data: the synthetic region, {summary['persons']:,} residents at the end of {max(years)} (seed {seed}), "
                      f"{summary['rows'].get('contacts', 0):,} contact rows." if not sv else
                      f"Underlag: den syntetiska regionen, {summary['persons']:,} invånare vid slutet av {max(years)} (frö {seed}), "
                      f"{summary['rows'].get('contacts', 0):,} kontaktrader.").replace(",", " "))
        # A sample of the region shares the region-wide pots in proportion to its size.
        sample = summary["persons"]
    # The rulebooks as `run` decides them (core.choose_rulebook): a reform's pots are scaled too.
    base_book = choose_rulebook(sample_persons=sample)
    book = choose_rulebook(rules, rules_as_of, sample_persons=sample)
    if rules is not None:
        notes.append(f"Scenario: reform file {rules} overlaid on the rulebook." if not sv else
                     f"Scenario: reformfilen {rules} lagd över regelverket.")
    if rules_as_of is not None:
        notes.append(f"Scenario: every month evaluated with the rulebook as it stood on {rules_as_of.isoformat()}." if not sv else
                     f"Scenario: varje månad beräknad med regelverket som det såg ut {rules_as_of.isoformat()}.")
    if passive_listing:
        notes.append("Scenario: passive listing — every unlisted resident listed at the clinic of their area with the most listed residents."
                     if not sv else "Scenario: passiv listning — varje olistad invånare listad på mottagningen med flest listade i sitt område.")
    if case_mix == "open":
        notes.append(f"Scenario: the ACG component paid on the {LABEL}, rescaled to a region mean of 1.0 each month, "
                     "instead of the ACG weights (case_mix.csv)." if not sv else
                     f"Scenario: ACG-ersättningen betald efter {LABEL}, omräknat till medelvärdet 1,0 i regionen varje månad, "
                     "i stället för ACG-vikterna (case_mix.csv).")
    sink = {"base": None, "run": None}
    if microdata:
        import secrets

        from ersattning.analysis.microdata import read_key, write_year, year_tables
        from ersattning.trace import person_key

        if microdata_key is not None:
            key = read_key(microdata_key)
        elif db is not None:
            key = person_key(engine.con.con)
        else:
            key = secrets.token_bytes(32)
            notes.append("Microdata: pseudonyms keyed for this run only (--microdata-key FILE keeps them across runs)." if not sv else
                         "Mikrodata: pseudonymer med en nyckel för bara denna körning (--microdata-key FIL behåller dem mellan körningar).")

        def writer(folder: Path, book_of):
            def write(year: int, months: list[str], lines):
                say(f"microdata {year}")
                files.extend(write_year(folder, year, *year_tables(engine, book_of, year, months, lines, key)))
            return write

        sink = {"base": writer(Path(output) / "microdata" / "base", base_book), "run": writer(Path(output) / "microdata", book)}
    files: list[Path] = []
    base = None
    neutral_table = None
    case_mix_out = None
    if scenario:
        # The scenario takes the base's visit passes, capitation counts and the like where the rules
        # they read are unchanged (a reform of capitation rates); replaced inputs below compute anew.
        memo = PassMemo()
        base = run_analysis(engine, base_book, years, label="base", progress=lambda m: say(f"base {m}"), need=need,
                            microdata=sink["base"], memo=memo)
        if passive_listing:
            engine.register({"listings": passive_listings(engine, dt.date(min(years), 1, 1), dt.date(max(years), 12, 31))})
        if case_mix == "open":
            case_mix_out = case_mix_table(engine, years)
            index = open_risk(engine, years)
            if need and "risk" in engine.table_names():  # the need cells keep the ACG bands of the base
                engine.register({"risk_acg": engine["risk"].to_pyarrow()})
            engine.register({"risk": index})
        analysis = run_analysis(engine, book, years, label="scenario", progress=lambda m: say(f"scenario {m}"), need=need,
                                microdata=sink["run"], memo=memo)
        if neutral is not None:
            analysis, neutral_table = neutralise(base, analysis, book, neutral)
            factors = ", ".join(f"{r.year}: × {r.factor:.6f} ({r.parameter} {r.rate_scenario:g} → {r.rate_rescaled:.2f})"
                                for r in neutral_table.itertuples())
            notes.append(f"Budget-neutral: {neutral} rescaled so that each year's total equals the base's to the öre ({factors})." if not sv else
                         f"Budgetneutralt: {neutral} omräknad så att varje års totala ersättning blir lika med basens på öret ({factors}).")
    else:
        analysis = run_analysis(engine, book, years, stored_lines=stored_lines(stored) if stored is not None else None,
                                progress=say, need=need, microdata=sink["run"])
    say("writing tables and report.html")
    out = make_tables(analysis, base, neutral_table)
    if case_mix_out is not None:
        out["case_mix"] = case_mix_out
    run = sorted(set(years))  # the title names the years run: "2022", "2016–2022" or "2016, 2022"
    span = str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" if run == list(range(run[0], run[-1] + 1)) \
        else ", ".join(map(str, run))
    if lang == "sv":
        title = f"Ersättning i primärvården {span}, uppdelad" + (" (bas, scenario och skillnad)" if scenario else "")
    else:
        title = f"Primary-care pay {span}, decomposed" + (" (base, scenario and difference)" if scenario else "")
    files = write_outputs(out, Path(output), title, notes, lang=lang) + files
    return AnalyzeResult(analysis, base, out, files, time.perf_counter() - started, notes)
