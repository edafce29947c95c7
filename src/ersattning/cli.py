"""The `ersattning` command line (DESIGN.md CLI contract): demo, statements, load, report, run, manual, export,
rules, calculate, trace, token, jobs, serve, bench, analyze.

Thin: each command parses its options and calls the package; no rules live here. A command for a
database that a running `ersattning serve` holds is sent to that server and runs there (remote.py).
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path
from typing import Optional

import typer
import typer.core
from rich.console import Console
from rich.table import Column, Table

from ersattning import remote
from ersattning.errors import ErsattningError, InputError
from ersattning.money import sek_text
from ersattning.period import parse_month
from ersattning.region import STOCKHOLM_COUNTY

#: Commands never sent to a server: they need no database, or make a fresh one (or are the server).
LOCAL_ONLY = {"serve", "demo", "bench", "bench-api", "statements"}


def _db_argument(group, argv: list[str]) -> Path | None:
    """The --db of the command line `argv` when that command may run in a server (its default too)."""
    if "--help" in argv:
        return None
    cmd, rest, names = group, list(argv), []
    while isinstance(cmd, typer.core.TyperGroup):
        if not rest or rest[0].startswith("-"):
            return None
        names.append(rest[0])
        cmd = cmd.commands.get(rest.pop(0))
        if cmd is None:
            return None
    if names[0] in LOCAL_ONLY or not any(p.name == "db" for p in cmd.params):
        return None
    try:  # parsing only: a bad command line is reported by the command itself, here or in the server
        db = cmd.make_context(names[-1], rest, resilient_parsing=True).params.get("db")
    except Exception:
        return None
    return Path(db) if db else None


class _Root(typer.core.TyperGroup):
    """The `ersattning` group: a command for a database a running server holds is run by that
    server (same output, same exit code); otherwise here, as usual. Both the console script and
    tests (typer's CliRunner) enter through `main`."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        db = _db_argument(self, argv)
        # In the server itself (it serves that file) the command runs here: it was sent to it.
        if db is not None and not _served_here(db):
            try:
                code = remote.forward(db, argv, prog_name or _program_name())
            except ErsattningError as exc:
                err.print(f"[red]error:[/red] {exc}")
                code = 1
            if code is not None:
                if standalone_mode:
                    sys.exit(code)
                return code
        return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                            standalone_mode=standalone_mode, **extra)


def _served_here(db: Path) -> bool:
    from ersattning.engine import served_engine

    return served_engine(db) is not None


def _program_name() -> str:
    import click.utils

    try:
        return click.utils._detect_program_name()
    except Exception:  # pragma: no cover - click's helper is private
        return "ersattning"


app = typer.Typer(
    cls=_Root,
    add_completion=False,
    no_args_is_help=True,
    help="Pays Swedish primary care the way Region Stockholm's vårdval does. Start with `ersattning demo`.",
)
# In the server, a client's command prints to the client (remote.RoutedConsole).
console = remote.RoutedConsole(Console())
err = remote.RoutedConsole(Console(stderr=True), stderr=True)


def _via() -> str:
    """How the command reached the database, for the job history."""
    return "cli→server" if remote.forwarded() else "cli"


def _month(month: str) -> str:
    try:
        return parse_month(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _fail(exc: Exception, code: int = 1):
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


def _read_clean_inputs(folder: Path, errors_path: Path, book=None):
    """Read and validate the input folder (the claims' codes against `book`'s lists); on any bad
    row write the error file and stop."""
    from ersattning.inputs import read_inputs, write_errors

    inputs = read_inputs(folder, book=book)
    if len(inputs.errors):
        errors_path.parent.mkdir(parents=True, exist_ok=True)
        write_errors(inputs.errors, errors_path)
        _fail(InputError(f"{len(inputs.errors)} problem(s) in the input files; nothing computed. See {errors_path}"))
    return inputs


@app.command()
def statements(
    input: str = typer.Option(..., "--input", help="Folder with clinics.csv, persons.csv, listings.csv, …; with --engine spark "
                              "a folder (path or Hadoop URL) written by `ersattning export-inputs`"),
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    output: Path = typer.Option(..., "--output", help="Folder for statement_lines.csv and statements.csv"),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Reform file overlaid on the rulebook"),
    engine_name: str = typer.Option("duckdb", "--engine", help="duckdb | spark"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="Spark master URL (default: $ERSATTNING_SPARK_MASTER, ersattning.toml, local[2])"),
    spark_config: Optional[Path] = typer.Option(None, "--spark-config", help="TOML file with [spark] master and [spark.conf] (default ./ersattning.toml)"),
):
    """Compute one month's statements from input files, statelessly.

    Example: ersattning statements --input out/demo/input --month 2022-03 --output out/march
    """
    from ersattning.engine import Engine
    from ersattning.statements import compute_month, lines_csv_table, statements_csv_table, write_csv

    month = _month(month)
    _engine_name(engine_name)
    if engine_name == "spark":
        return _statements_on_spark(input, month, output, rules, spark_master, spark_config)
    input = Path(input)
    if not input.is_dir():
        raise typer.BadParameter(f"there is no folder {input}", param_hint="--input")
    try:
        from ersattning.core import choose_rulebook
        from ersattning.synth.region import read_sample

        # A synthetic region declares the sample it is: it shares the region-wide pots in proportion.
        book = choose_rulebook(rules, sample_persons=read_sample(input))
        inputs = _read_clean_inputs(input, output / "input_errors.csv", book)
        engine = Engine.duckdb().register(inputs.tables)
        contacts_file = _contacts_file(input)
        if contacts_file is not None:
            import datetime as dt

            from ersattning.register import read_contacts, write_contact_errors

            contacts, contact_errors = read_contacts(contacts_file, inputs.tables, today=dt.date.today())
            output.mkdir(parents=True, exist_ok=True)
            write_contact_errors(contact_errors, output / "contact_errors.csv")
            engine.register({"contacts": contacts})
            console.print(f"contacts: {contacts.num_rows} live, {contact_errors.num_rows} rejected → {output}/contact_errors.csv")
        result = compute_month(engine, book, month)
    except ErsattningError as exc:
        _fail(exc)
    write_csv(lines_csv_table(result.lines), output / "statement_lines.csv")
    write_csv(statements_csv_table(result.statements), output / "statements.csv")
    console.print(
        f"{month}: {len(result.statements)} statements, {len(result.lines)} lines, "
        f"total {sek_text(sum(result.statements['total_ore'].to_pylist())) + ' SEK'} → {output}/statement_lines.csv, statements.csv"
    )


def _engine_name(name: str) -> None:
    if name not in ("duckdb", "spark"):
        raise typer.BadParameter("duckdb or spark", param_hint="--engine")


def _statements_on_spark(input: str, month: str, output: Path, rules, spark_master, spark_config) -> None:
    """`statements --engine spark`: Spark reads the exported Parquet folder itself; only the lines come back."""
    from ersattning.core import choose_rulebook
    from ersattning.spark import compute_on_spark, spark_engine, spark_settings, write_results

    try:
        master, conf = spark_settings(spark_master, spark_config)
        engine, sample = spark_engine(input, master=master, conf=conf)
        try:
            result = compute_on_spark(engine, choose_rulebook(rules, sample_persons=sample), month)
        finally:
            engine.con._session.stop()
    except ErsattningError as exc:
        _fail(exc)
    write_results(result, output)
    console.print(
        f"{month} on Spark ({master}): {len(result.statements)} statements, {len(result.lines)} lines, "
        f"total {sek_text(sum(result.statements['total_ore'].to_pylist()))} SEK → {output}/statement_lines.csv, statements.csv (+ .parquet)"
    )


@app.command()
def load(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="Folder with the input files"),
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    errors: Path = typer.Option(Path("input_errors.csv"), "--errors", help="Where to write the problems found"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the files and show what would change; write nothing"),
):
    """Validate the input files and store them in the database (all or nothing, one transaction).

    A file that is absent leaves its stored table as it is; to empty a table, give its file with
    the header only. Prints what was replaced and kept, and the adjustment lines issued months get.

    Example: ersattning load out/demo/input --db ersattning.duckdb
    """
    from ersattning.core import Core, sample_setting
    from ersattning.inputs import write_errors
    from ersattning.store import KEEP, sample_size
    from ersattning.synth.region import read_sample

    try:
        declared, sample = read_sample(folder), sample_setting(folder)
    except ValueError as exc:
        _fail(InputError(str(exc)))
    try:
        core = Core.open(":memory:" if dry_run and not db.is_file() else db)
        sample_before = sample_size(core.engine)
        result = core.load(folder, sample=sample, dry_run=dry_run, via=_via())
    except ErsattningError as exc:
        _fail(exc)
    if result.errors.num_rows:
        errors.parent.mkdir(parents=True, exist_ok=True)
        write_errors(result.errors, errors)
        _fail(InputError(f"{result.errors.num_rows} problem(s) in the input files; nothing loaded. See {errors}"))
    table = Table("table", "", "rows before", "rows after", title=f"{'would load' if dry_run else 'loaded'} into {db}")
    for name, (before, after) in result.replaced.items():
        table.add_row(name, "replaced" if before is not None else "created", "" if before is None else str(before), str(after))
    for name, rows in result.kept.items():
        table.add_row(name, f"kept (no {name} file)", str(rows), str(rows))
    # The sample setting scales the region-wide pots on every statement: its change is said too.
    def region(persons):
        return "whole region" if persons is None else f"sample of {persons}"
    after = sample_before if sample is KEEP else sample
    how = "kept" if sample is KEEP else "replaced" if after != sample_before else "unchanged"
    why = " (sample.yaml)" if declared is not None else " (persons given, no sample.yaml)" if sample is not KEEP else ""
    table.add_row("sample setting", how + why, region(sample_before), region(after))
    console.print(table)
    _print_adjustments(result.adjustments, f"issued months these inputs {'would change' if dry_run else 'change'}: "
                                           "adjustment lines when the month that carries them is run")
    if dry_run:
        console.print("dry run: nothing was written")


def _print_adjustments(lines, heading: str) -> None:
    """The adjustment lines among `lines` per corrected month: a change to an issued month is said out loud."""
    from ersattning.store import adjustment_summary

    summary = adjustment_summary(lines)
    if not summary:
        return
    table = Table("issued month", "adjusted on", "clinics", "lines", "total SEK", "largest per clinic (SEK)", title=heading)
    for row in summary:
        clinics = row["clinics"]
        largest = sorted(clinics.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:5]
        shown = ", ".join(f"{c} {sek_text(a)}" for c, a in largest) + (" …" if len(clinics) > 5 else "")
        table.add_row(row["corrects_month"], row["month"], str(len(clinics)), str(row["lines"]), sek_text(row["total_ore"]), shown)
    console.print(table)


@app.command()
def run(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    month: str = typer.Option(..., "--month", help="YYYY-MM: the month, or the first of a range (--to)"),
    to: Optional[str] = typer.Option(None, "--to", help="YYYY-MM: the last month of a range (a whole year runs on the year path)"),
    issue: bool = typer.Option(False, "--issue", help="Freeze the month's statements (never changed afterwards)"),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Reform file overlaid on the rulebook"),
    rules_as_of: Optional[str] = typer.Option(None, "--rules-as-of", help="YYYY-MM-DD: the rulebook as it stood then"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute and show the month (and the adjustments it carries); write nothing"),
    engine_name: str = typer.Option("duckdb", "--engine", help="duckdb | spark (the statements are stored in the database either way)"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="Spark master URL (default: $ERSATTNING_SPARK_MASTER, ersattning.toml, local[2])"),
    spark_config: Optional[Path] = typer.Option(None, "--spark-config", help="TOML file with [spark] master and [spark.conf] (default ./ersattning.toml)"),
    spark_inputs: Optional[Path] = typer.Option(None, "--spark-inputs", help="With --engine spark: the folder the database's inputs are exported "
                                                "to for Spark (shared with a cluster's workers; default a temporary folder)"),
):
    """Compute a month's (or a range of months') statements in the database (draft), or issue them.

    The rulebook and options each month is computed with are stored with it: its trace and
    export read exactly those.

    Example: ersattning run --db ersattning.duckdb --month 2022-03 --issue
    """
    import datetime as dt

    from ersattning.core import Core, month_range

    month = _month(month)
    last = _month(to) if to else None
    if rules is not None and rules_as_of is not None:
        raise typer.BadParameter("give --rules or --rules-as-of, not both")
    try:
        as_of = dt.date.fromisoformat(rules_as_of) if rules_as_of else None
        months = month_range(month, last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _engine_name(engine_name)
    if not db.is_file():
        _fail(InputError(f"there is no database {db}: run `ersattning load DIR --db {db}` first"))
    spark = None
    try:
        if engine_name == "spark":
            import tempfile

            from ersattning.spark import spark_core, spark_settings

            master, conf = spark_settings(spark_master, spark_config)
            staging = spark_inputs or Path(tempfile.mkdtemp(prefix="ersattning-inputs-"))
            core, spark = spark_core(db, staging, master=master, conf=conf, reform=rules, as_of=as_of)
        else:
            core = Core.open(db, reform=rules, as_of=as_of)
        # A range shows its progress as each month is written (a year's months come together).
        shown = (lambda n, total, m: err.print(f"{m}: done ({n}/{total})")) if len(months) > 1 else None
        runs = core.run(months, issue=issue, dry_run=dry_run, via=_via(), progress=shown)
    except ErsattningError as exc:
        _fail(exc)
    finally:
        if spark is not None:
            spark.con._session.stop()
    would = "would be " if dry_run else ""
    for done in runs:
        if done.result is None:
            console.print(f"{done.month} is issued: unchanged (later changes will be adjustment lines on the next month).")
            continue
        result = done.result
        total = sum(result.statements["total_ore"].to_pylist())
        console.print(f"{done.month}: {would}{done.status}, {len(result.statements)} statements, {len(result.lines)} lines, "
                      f"total {sek_text(total)} SEK")
        _print_adjustments(result.lines, f"{done.month} {'would carry' if dry_run else 'carries'} adjustment lines for issued months:")
    if dry_run:
        console.print("dry run: nothing was written")


@app.command("export-inputs")
def export_inputs(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file (loaded inputs, reported contacts)"),
    parquet: Path = typer.Option(..., "--parquet", help="Folder for <table>.parquet (copy it to HDFS or a shared file system for a cluster)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: the register's contacts as they stood then (default: now)"),
):
    """Write the stored, validated inputs and the register's live contacts as Parquet, for `--engine spark`.

    Example: ersattning export-inputs --db ersattning.duckdb --parquet out/spark-inputs
    """
    import datetime as dt

    from ersattning.spark import export_inputs as export

    try:
        when = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        rows = export(db, parquet, as_of=when)
    except ErsattningError as exc:
        _fail(exc)
    console.print(f"{len(rows)} tables → {parquet}: " + ", ".join(f"{n} {r}" for n, r in rows.items()))


manual_app = typer.Typer(help="Manual lines: claimed items added by an administrator (audited, never deleted).", no_args_is_help=True)
app.add_typer(manual_app, name="manual")


@manual_app.command("add")
def manual_add(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    clinic: str = typer.Option(..., "--clinic", help="clinic_id"),
    month: str = typer.Option(..., "--month", help="YYYY-MM: a month not yet issued"),
    kind: str = typer.Option(..., "--kind", help="collaboration | geographic_coordination | extended_opening_hours | penalty_reporting | penalty_environment"),
    amount: str = typer.Option(..., "--amount", help="SEK, e.g. 12500.00; negative to reverse an earlier line, and for a penalty (-5000)"),
    reason: str = typer.Option(..., "--reason", help="What the claimed item is for"),
    reference: str = typer.Option("", "--reference", help="Case number, or the manual_id a reversal reverses"),
    user: Optional[str] = typer.Option(None, "--user", help="Who adds it (default: the login name)"),
):
    """Add a claimed item to a clinic's statement (VF's manual supplementary invoicing).

    Example: ersattning manual add --db ersattning.duckdb --clinic HLM0001 --month 2022-04 --kind collaboration --amount 12500 --reason "Samverkan Q1" --reference "ärende 2022/17"
    """
    from decimal import Decimal, InvalidOperation

    from ersattning.money import to_ore
    from ersattning.core import Core
    from ersattning.store import login_name

    try:
        ore = to_ore(Decimal(amount))
    except (InvalidOperation, ValueError):
        raise typer.BadParameter(f"--amount must be SEK with at most two decimals, got {amount!r}") from None
    try:
        row = Core.open(db).add_manual_line(clinic_id=clinic, month=_month(month), kind=kind, amount_ore=ore,
                              reason=reason, reference=reference, user=user or login_name())
    except ErsattningError as exc:
        _fail(exc)
    console.print(f"{row['manual_id']}: {row['clinic_id']} {row['month']} {row['kind']} {sek_text(row['amount_ore'])} SEK "
                  f"(by {row['created_by']} at {row['created_at']:%Y-%m-%d %H:%M})")


@manual_app.command("list")
def manual_list(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    clinic: Optional[str] = typer.Option(None, "--clinic", help="Only this clinic"),
    month: Optional[str] = typer.Option(None, "--month", help="Only this month"),
):
    """List the manual lines with who added them and when.

    Example: ersattning manual list --db ersattning.duckdb --month 2022-04
    """
    from ersattning.core import Core

    rows = Core.open(db).manual_lines(clinic_id=clinic, month=_month(month) if month else None).to_pylist()
    table = Table("id", "clinic", "month", "kind", "SEK", "reason", "reference", "by", "at")
    for r in rows:
        table.add_row(r["manual_id"], r["clinic_id"], r["month"], r["kind"], sek_text(r["amount_ore"]), r["reason"],
                      r["reference"] or "", r["created_by"], f"{r['created_at']:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command()
def demo(
    persons: int = typer.Option(50_000, "--persons", help="Size of the synthetic region"),
    year: int = typer.Option(2022, "--year", help="Year to compute"),
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the synthetic inputs and the outputs"),
):
    """Build a synthetic Stockholm region, compute every month of a year, print a summary.

    Example: ersattning demo --persons 50000 --year 2022
    """
    from ersattning.demo import run_demo

    try:
        run_demo(persons=persons, year=year, db=db, out=out, console=console)
    except ErsattningError as exc:
        _fail(exc)


@app.command()
def bench(
    persons: int = typer.Option(2_400_000, "--persons", help="Size of the synthetic region"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the figures as one JSON object"),
    runs: int = typer.Option(5, "--runs", help="Runs per measurement (medians are reported)"),
    year: bool = typer.Option(True, "--year/--no-year", help="Also time a whole year (12 months) and its floor query"),
    analysis: bool = typer.Option(False, "--analysis", help="Also time the analysis of 2016-2022 and a reform year (long at full size)"),
    analysis_demo: bool = typer.Option(True, "--analysis-demo/--no-analysis-demo",
                                       help="With --analysis: also the years at the demo size, 50 000 persons"),
    analysis_years: str = typer.Option("2016-2022", "--analysis-years", help="With --analysis: the years analysed"),
    scaling: bool = typer.Option(False, "--scaling", help="Also time the month and the year at several sizes (curve, chart)"),
    sizes: Optional[str] = typer.Option(None, "--sizes", help="--scaling's sizes, e.g. 300000,600000 (default 0.3 to 4.8 M)"),
):
    """Time a month and a year on the synthetic region (generated once and cached).

    Example: ersattning bench --persons 2400000 --json out/bench.json
    Example: ersattning bench --persons 300000 --scaling --sizes 300000,600000 --json out/bench.json
    """
    from ersattning.analysis import parse_years
    from ersattning.bench import SCALING_SIZES, run_bench

    try:
        size_list = [int(n) for n in sizes.replace("_", "").split(",") if n.strip()] if sizes else list(SCALING_SIZES)
        year_list = parse_years(analysis_years)
    except ValueError as exc:
        raise typer.BadParameter(f"--sizes or --analysis-years: {exc}") from None
    if sizes and not scaling:
        raise typer.BadParameter("--sizes goes with --scaling")
    if any(n < 1 for n in size_list):
        raise typer.BadParameter("--sizes must be positive numbers of persons")
    run_bench(persons=persons, json_path=json_path, runs=runs, with_year=year, console=console, analysis=analysis,
              analysis_demo=analysis_demo, analysis_years=year_list, scaling=size_list if scaling else None)


def _contacts_file(folder: Path) -> Optional[Path]:
    """contacts.csv, .jsonl or .parquet in the input folder, if the folder has contacts."""
    found = [folder / f"contacts.{ext}" for ext in ("csv", "jsonl", "parquet") if (folder / f"contacts.{ext}").exists()]
    if len(found) > 1:
        raise typer.BadParameter(f"more than one contacts file in {folder}: keep one of {', '.join(p.name for p in found)}")
    return found[0] if found else None


@app.command()
def report(
    file: Path = typer.Argument(..., help="Contact file: CSV with a header, JSON Lines (.jsonl) or Parquet"),
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file (with master data loaded)"),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Where to write contact_errors.csv (default: beside FILE)"),
):
    """Report care contacts to the register (GVR): check every row, log the good ones, write the errors.

    Rejected rows go to contact_errors.csv; the exit code is 0 even then, non-zero only when nothing could be read.

    Example: ersattning report contacts.csv --db ersattning.duckdb
    """
    from ersattning.core import Core
    from ersattning.register import UnreadableContactFile, write_contact_errors

    errors_path = errors or file.parent / "contact_errors.csv"
    if not file.is_file():
        _fail(InputError(f"{file} is not a file"))
    if not db.is_file():
        _fail(InputError(f"there is no database {db}: run `ersattning load DIR --db {db}` first"))
    try:
        result = Core.open(db).report(file)
    except UnreadableContactFile as exc:
        write_contact_errors(exc.errors, errors_path)
        _fail(InputError(f"{exc} (see {errors_path})"))
    except ErsattningError as exc:
        _fail(exc)
    write_contact_errors(result.errors, errors_path)
    console.print(f"{result.source}: {result.rows} rows — {result.accepted} accepted, {result.rejected} rejected, "
                  f"{result.unchanged} unchanged (batch {result.batch_id} in {db})")
    if result.errors.num_rows:
        counts = result.errors.group_by("code").aggregate([("code", "count")]).sort_by("code").to_pylist()
        table = Table("code", "errors")
        for row in counts:
            table.add_row(row["code"], str(row["code_count"]))
        console.print(table)
    console.print(f"errors: {errors_path}")


@app.command()
def export(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file with computed months"),
    month: str = typer.Option(..., "--month", help="YYYY-MM (computed with `ersattning run`)"),
    fmt: str = typer.Option(..., "--format", help="csv | xlsx | ubl (PEPPOL BIS Billing 3.0 e-invoice)"),
    output: Path = typer.Option(..., "--output", help="Folder for the files"),
    clinic: Optional[str] = typer.Option(None, "--clinic", help="Only this clinic"),
    draft: bool = typer.Option(False, "--draft", help="ubl only: allow a draft month (documents marked UTKAST, not to be sent)"),
):
    """Write a stored month's statements as files: CSV, an Excel workbook, or one e-invoice per clinic.

    Example: ersattning export --db ersattning.duckdb --month 2022-03 --format ubl --output out/invoices
    """
    from ersattning.core import Core
    from ersattning.export import ExportError

    if not db.is_file():
        _fail(ExportError(f"there is no database {db}: run `ersattning load` and `ersattning run` first"))
    try:
        result = Core.open(db).export(_month(month), fmt, output, clinic=clinic, draft=draft)
    except ErsattningError as exc:
        _fail(exc)
    for path in result.files:
        console.print(str(path))
    if result.draft:
        err.print(f"[yellow]note:[/yellow] {month} is a draft (not issued); the files are marked as such")
    for cid, why in result.skipped.items():
        err.print(f"skipped {cid}: {why}")
    for cid, why in result.refused.items():
        err.print(f"[red]refused[/red] {cid}: {why}")
    if result.refused:
        raise typer.Exit(1)


# --- the rulebook's parameters and what-if ------------------------------------------------------

rules_app = typer.Typer(help="The rulebook's parameters: list them, show one's dated values, check a reform file.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def _date_option(text: Optional[str], name: str):
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("a date YYYY-MM-DD", param_hint=name) from None


def _shown(value) -> str:
    """A parameter value on one line (long tables cut; `rules show NAME --json` has it whole)."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


@rules_app.command("list")
def rules_list(
    at: Optional[str] = typer.Option(None, "--at", help="YYYY-MM-DD: the values in force that day (default today)"),
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON"),
):
    """Every parameter: name, unit, the value in force (today or --at) and how many dated values it has.

    Example: ersattning rules list --at 2022-03-31
    """
    import json

    from ersattning import rulebook
    from ersattning.rulebook.catalogue import parameter_list

    try:
        rows = parameter_list(rulebook.load(), _date_option(at, "--at"))
    except ErsattningError as exc:
        _fail(exc)
    if json_out:
        console.print_json(json.dumps({"parameters": rows}, ensure_ascii=False))
        return
    table = Table(Column("name", overflow="fold", min_width=24), Column("unit", overflow="fold"), Column("value", overflow="fold"),
                  "since", "values", title=f"{len(rows)} parameters")
    for r in rows:
        table.add_row(r["name"], r["unit"], "—" if r["value"] is None else _shown(r["value"]), r["since"] or "",
                      str(r["values"]))
    console.print(table)


@rules_app.command("show")
def rules_show(
    name: str = typer.Argument(..., help="A parameter (visit_fee.prices) or an entry of one (visit_fee.prices.VF_BASE)"),
    at: Optional[str] = typer.Option(None, "--at", help="YYYY-MM-DD: also the value in force that day"),
    json_out: bool = typer.Option(False, "--json", help="Print the parameter as JSON"),
):
    """A parameter's every dated value with its validity, unit and source (with --at, the one in force).

    Example: ersattning rules show capitation_acg.rate --at 2022-06-30
    """
    import json

    from ersattning import rulebook
    from ersattning.rulebook.catalogue import UnknownParameter, parameter_detail

    try:
        found = parameter_detail(rulebook.load(), name, _date_option(at, "--at"))
    except UnknownParameter as exc:
        _fail(exc, code=2)
    except ErsattningError as exc:
        _fail(exc)
    if json_out:
        console.print_json(json.dumps(found, ensure_ascii=False))
        return
    console.print(f"[bold]{found['name']}[/bold] ({found['unit']}, {found['kind']}; rules/{found['file']})")
    console.print(found["description"])
    table = Table("from", "to", Column("value", overflow="fold"), Column("source", overflow="fold"))
    for v in found["values"]:
        table.add_row(v["start"], v["end"] or "", "—" if v["value"] is None else _shown(v["value"]),
                      v["reference"] + (" (illustrative)" if v["illustrative"] else ""))
    console.print(table)
    if at is not None:
        now = found["in_force"]
        console.print(f"in force on {found['at']}: " + ("none" if now is None else
                      f"{_shown(now['value'])} {found['unit']} (from {now['start']}; {now['reference']})"))


@rules_app.command("check")
def rules_check(reform: Path = typer.Argument(..., help="A reform file (YAML)")):
    """Check a reform file whole against the rulebook: every problem at once, each naming the parameter and key.

    Exit code 1 when there is any. `run`, `statements` and `analyze` check `--rules` the same way.

    Example: ersattning rules check reform.yaml
    """
    from ersattning import rulebook
    from ersattning.rulebook.reform import check_reform

    try:
        changed, problems = check_reform(rulebook.load(), reform)
    except ErsattningError as exc:
        _fail(exc)
    if problems:
        # One problem a line, never wrapped (a table folds long keys): greppable, like a compiler's.
        err.print(f"{reform}: {len(problems)} problem(s)", soft_wrap=True)
        for p in problems:
            err.print(f"{p.parameter or '—'}  {p.key}: {p.message}", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"{reform}: ok, {len(changed)} parameter(s) changed: {', '.join(changed)}")


@app.command()
def calculate(
    date: str = typer.Option(..., "--date", help="YYYY-MM-DD: the contact's date, or the day the person is listed"),
    age: int = typer.Option(..., "--age", help="The patient's age on the date"),
    sex: str = typer.Option("F", "--sex", help="F or M"),
    contact_type: Optional[str] = typer.Option(None, "--contact-type", help="clinic_visit, video, … (none: the person's month of capitation)"),
    profession: Optional[str] = typer.Option(None, "--profession", help="doctor, nurse, psychologist, …"),
    action: list[str] = typer.Option([], "--action", help="A KVÅ code (repeat for more)"),
    diagnosis: list[str] = typer.Option([], "--diagnosis", help="An ICD-10-SE code (repeat for more)"),
    listing: str = typer.Option("here", "--listing", help="here | group | other | none: where the patient is listed"),
    county_code: str = typer.Option(STOCKHOLM_COUNTY, "--county", help="County of residence (01 = Stockholm)"),
    area_code: str = typer.Option("0180-04", "--area", help="The patient's residence area"),
    clinic_area_code: Optional[str] = typer.Option(None, "--clinic-area", help="The clinic's area (default: the patient's)"),
    assignment: str = typer.Option("hlv", "--assignment", help="The kombika's assignment: hlv | psy_child_320"),
    clinic_opened: str = typer.Option("2000-01-01", "--clinic-opened", help="YYYY-MM-DD: when the clinic opened"),
    acg_weight: str = typer.Option("1", "--acg-weight", help="The month's ACG weight"),
    cni: str = typer.Option("1", "--cni", help="The month's CNI"),
    born_abroad: bool = typer.Option(False, "--born-abroad"),
    home_care: bool = typer.Option(False, "--home-care", help="Enrolled in home care at the listing clinic"),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Reform file overlaid on the rulebook"),
    json_out: bool = typer.Option(False, "--json", help="Print the lines and the trace as JSON"),
):
    """What-if: price one hypothetical contact, or a listed person's month, by the month run itself.

    Nothing is stored: the case is a tiny input set in an in-memory database, run as a dry run.

    Example: ersattning calculate --date 2022-03-10 --age 40 --contact-type clinic_visit --profession doctor
    """
    import json

    from pydantic import ValidationError

    from ersattning.core import choose_rulebook
    from ersattning.whatif import CaseIn, calculate as price

    fields = dict(date=date, age=age, sex=sex, contact_type=contact_type, profession=profession, actions=action,
                  diagnoses=diagnosis, listing=listing, county_code=county_code, area_code=area_code,
                  clinic_area_code=clinic_area_code, assignment=assignment, clinic_opened=clinic_opened,
                  acg_weight=acg_weight, cni=cni, born_abroad=born_abroad, home_care=home_care)
    try:
        case = CaseIn(**fields).case()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "case"
        raise typer.BadParameter(f"{where}: {first['msg']}") from None
    try:
        out = price(choose_rulebook(rules), case)
    except ErsattningError as exc:
        _fail(exc)
    if json_out:
        console.print_json(json.dumps(out, ensure_ascii=False, default=str))
        return
    table = Table("clinic", "component", "product", "quantity", "unit price SEK", "amount SEK", Column("rule", overflow="fold"),
                  title=f"{out['month']}: {'the contact' if contact_type else 'the listed person'} under {out['rulebook']}")
    for line in out["lines"]:
        price_text = "" if line["unit_price_ore"] is None else sek_text(line["unit_price_ore"])
        table.add_row(line["clinic_id"], line["component"], line["product_code"], line["quantity"], price_text,
                      sek_text(line["amount_ore"]), line["rule"])
    console.print(table)
    console.print(f"total {sek_text(out['total_ore'])} SEK")
    trace = out["trace"]
    if trace.get("held"):
        console.print(f"held: {trace['held']['code']}: {trace['held']['message_en']}")
    for p in trace.get("products", []):
        d = p["decision"] or {}
        console.print(f"{p['component']}: {p['product_code']} from {d.get('table', '—')} row {d.get('row', '—')} "
                      f"(version {d.get('version', '—')}), billed to {p['billed_to']}")


# --- AF (trace), the server and its tokens ---------------------------------------------------------

@app.command()
def trace(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    contact: Optional[str] = typer.Option(None, "--contact", help="KOMBIKA:CONTACT_ID"),
    line: Optional[str] = typer.Option(None, "--line", help="A statement line's line_id"),
    limit: int = typer.Option(20, "--limit", help="Rows behind a line to show"),
    json_out: bool = typer.Option(False, "--json", help="Print the trace as JSON"),
):
    """The reconciliation view (AF): a contact's path through the chain, or what is behind a statement line.

    Example: ersattning trace --db ersattning.duckdb --contact 11010046M30:C000123
    """
    from ersattning.core import Core
    from ersattning.trace import print_trace

    if (contact is None) == (line is None):
        raise typer.BadParameter("give exactly one of --contact KOMBIKA:CONTACT_ID or --line LINE_ID")
    if contact is not None and ":" not in contact:
        raise typer.BadParameter("--contact takes KOMBIKA:CONTACT_ID")
    if not db.is_file():
        _fail(InputError(f"there is no database {db}"))
    try:
        core = Core.open(db)
        if contact is not None:
            found = core.trace_contact(*contact.split(":", 1))
        else:
            found = core.trace_line(line, limit=limit)
    except ErsattningError as exc:
        _fail(exc)
    if found is None:
        _fail(InputError(f"nothing to trace: {contact or line} is not in {db}"), code=2)
    print_trace(found, as_json=json_out, console=console)


token_app = typer.Typer(help="API tokens for the server (stored hashed; printed once).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    clinic: Optional[str] = typer.Option(None, "--clinic", help="Bind the token to this clinic_id"),
    admin: bool = typer.Option(False, "--admin", help="An administrator token (all clinics, run and issue months)"),
    expires: Optional[str] = typer.Option(None, "--expires", help="Last day the token works, YYYY-MM-DD (until 23:59 UTC); "
                                                                  "none: until revoked"),
):
    """Create an API token for a clinic or the administrator; the token is printed once, only its hash is stored.

    Example: ersattning token create --db ersattning.duckdb --clinic HLM0001 --expires 2027-01-31
    """
    import datetime as dt

    from ersattning.api.tokens import create_token

    if bool(clinic) == admin:
        raise typer.BadParameter("give exactly one of --clinic ID or --admin")
    expires_at = None
    if expires is not None:
        try:
            expires_at = dt.datetime.combine(dt.date.fromisoformat(expires), dt.time.max)
        except ValueError:
            raise typer.BadParameter(f"{expires!r} is not a date YYYY-MM-DD", param_hint="--expires") from None
    try:
        token = create_token(db, clinic_id=clinic, admin=admin, expires_at=expires_at)
    except ErsattningError as exc:
        _fail(exc)
    console.print(token, soft_wrap=True, highlight=False)


@token_app.command("list")
def token_list(db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file")):
    """List the API tokens: id, role, clinic, who created and revoked them (never the secret).

    Example: ersattning token list --db ersattning.duckdb
    """
    from ersattning.api.tokens import list_tokens

    try:
        tokens = list_tokens(db)
    except ErsattningError as exc:
        _fail(exc)
    # A timestamp is never wrapped: on a narrow terminal the other columns give way.
    table = Table("id", "role", "clinic", *(Column(name, no_wrap=True) for name in ("created", "by", "expires (UTC)")),
                  Column("revoked", no_wrap=True), "by")
    for t in tokens:
        table.add_row(t["token_id"], t["role"], t["clinic_id"] or "", f"{t['created_at']:%Y-%m-%d %H:%M}", t["created_by"] or "",
                      f"{t['expires_at']:%Y-%m-%d %H:%M}" if t["expires_at"] else "",
                      f"{t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else "", t["revoked_by"] or "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    token_id: str = typer.Option(..., "--id", help="The token's id: the 8 characters after ers_ (see `token list`)"),
):
    """Revoke an API token: it signs nobody in from now on (kept on record); its web sessions end.

    Example: ersattning token revoke --db ersattning.duckdb --id 3f2a9c1d
    """
    from ersattning.api.tokens import revoke_token

    try:
        row = revoke_token(db, token_id)
    except ErsattningError as exc:
        _fail(exc)
    console.print(f"token {row['token_id']} ({row['role']} {row['clinic_id'] or ''}) revoked at {row['revoked_at']:%Y-%m-%d %H:%M} by {row['revoked_by']}")


@app.command()
def jobs(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    limit: int = typer.Option(50, "--limit", min=1, help="The latest this many jobs"),
):
    """The job history: each month's run and each load, who asked for it, through what, its progress
    and outcome, and the hash of what it computed.

    Example: ersattning jobs --db ersattning.duckdb
    """
    import json

    from ersattning.jobs import list_jobs
    from ersattning.store import open_engine

    if not db.is_file():
        _fail(InputError(f"there is no database {db}"))
    try:
        rows = list_jobs(open_engine(db), limit)
    except ErsattningError as exc:
        _fail(exc)
    table = Table("id", "kind", "args", "by", "started (UTC)", "finished", "status", "progress", "result", title=f"jobs in {db}")
    for r in rows:
        args = json.loads(r["args"] or "{}")
        progress = f"{r['progress_done'] or 0}/{r['progress_total']}" if r["progress_total"] else str(r["progress_done"] or 0)
        status = r["status"] + (f": {r['message']}" if r["message"] else "")
        table.add_row(str(r["job_id"]), r["kind"], " ".join(f"{k}={v}" for k, v in args.items() if v not in (None, False, [])),
                      f"{r['requested_by'] or ''} ({r['via']})", f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{r['finished_at']:%H:%M:%S}" if r["finished_at"] else "", status,
                      progress + (f" {r['progress_text']}" if r["progress_text"] else ""), (r["result_hash"] or "")[:12])
    console.print(table)


@app.command()
def serve(
    db: Path = typer.Option(Path("ersattning.duckdb"), "--db", help="DuckDB database file"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    intake_rate: float = typer.Option(20.0, "--intake-rate", help="Contact batches per second per token (token bucket)"),
    intake_burst: int = typer.Option(40, "--intake-burst", help="Batches a token may send at once"),
    session_hours: float = typer.Option(8.0, "--session-hours", min=0.0001, max=24 * 31,
                                        help="How long a web sign-in lasts (the session then ends on the server)"),
):
    """The web app and the HTTP API (OpenAPI at /docs) on the embedded database; every other command
    on the same database keeps working meanwhile (this server runs it: see the README).

    Example: ersattning serve --db ersattning.duckdb   (then: ersattning token create --db ersattning.duckdb --admin)
    """
    import uvicorn

    from ersattning.api import create_app
    from ersattning.engine import serve_engine, unserve_engine

    if not db.is_file():
        _fail(InputError(f"there is no database {db}: run `ersattning demo` or `ersattning load DIR --db {db}` first"))
    db = db.resolve()  # the server never depends on its cwd: it runs clients' commands in theirs
    pid = remote.live_server(db) if remote.supported() else None
    if pid is not None:
        _fail(InputError(f"{db} is already served by `ersattning serve` (process {pid})"))
    try:
        app_ = create_app(db, intake_rate=intake_rate, intake_burst=intake_burst, session_hours=session_hours)
    except ErsattningError as exc:
        _fail(exc)
    st = app_.state.ersattning
    commands = None
    if remote.supported():
        serve_engine(db, st.engine)
        commands = remote.CommandServer(db, typer.main.get_command(app), st.lock)
        try:
            commands.start()
        except ErsattningError as exc:
            _fail(exc)
    console.print(f"serving {db} on http://{host}:{port}/ (API docs: http://{host}:{port}/docs)")
    if commands is not None:
        console.print(f"CLI commands for this database are run here (socket {commands.path})")
    import signal

    # uvicorn shuts down on SIGTERM and then raises it again: with this handler that ends in
    # SystemExit here (the socket is removed below) rather than in the signal's default death.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        uvicorn.run(app_, host=host, port=port, log_level="info")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if commands is not None:
            commands.stop()
        unserve_engine(db)


@app.command("bench-api")
def bench_api(
    contacts: int = typer.Option(100_000, "--contacts", help="Contacts to post"),
    batch: int = typer.Option(1_000, "--batch", help="Contacts per request"),
    persons: int = typer.Option(20_000, "--persons", help="Size of the synthetic region behind the server"),
):
    """Time contact intake over HTTP: a local server, contacts posted in batches (target ≥ 2 000 contacts/s).

    Example: ersattning bench-api --contacts 100000 --batch 1000
    """
    from ersattning.api.bench import run_api_bench

    run_api_bench(contacts=contacts, batch=batch, persons=persons, console=console)


@app.command("bench-spark")
def bench_spark(
    persons: int = typer.Option(200_000, "--persons", help="Size of the synthetic region (cached like the bench's)"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="Also time a standalone cluster (spark://host:port)"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the figures as one JSON object"),
):
    """Time the bench month (2022-03) on Spark local[2] and on a standalone cluster.

    Example: ersattning bench-spark --persons 200000 --spark-master spark://127.0.0.1:7077 --json out/bench-spark.json
    """
    from ersattning.spark_bench import run_spark_bench

    try:
        run_spark_bench(persons, cluster=spark_master, json_path=json_path, console=console)
    except ErsattningError as exc:
        _fail(exc)


@app.command()
def analyze(
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB database file (stored inputs and contacts)"),
    synthetic: bool = typer.Option(False, "--synthetic", help="Use the synthetic region instead of a database"),
    years: str = typer.Option("2016-2022", "--years", help="Years, e.g. 2016-2022 or 2016,2022"),
    output: Path = typer.Option(Path("out/analysis"), "--output", help="Folder for the tables, analysis.xlsx and report.html"),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Reform file: compare it with the rulebook"),
    rules_as_of: Optional[str] = typer.Option(None, "--rules-as-of", help="YYYY-MM-DD: the rulebook as it stood then, for every month"),
    passive_listing: bool = typer.Option(False, "--passive-listing", help="Scenario: unlisted residents listed at their area's clinic"),
    neutral: Optional[str] = typer.Option(None, "--neutral", help="COMPONENT: rescale its rate so the scenario's total equals the base's"),
    need: bool = typer.Option(False, "--need", help="Also need-standardised pay by area (age, sex, ACG band) and its concentration index"),
    case_mix: str = typer.Option("acg", "--case-mix", help="acg | open: scenario paying the ACG component on the open (Charlson) case-mix index"),
    persons: int = typer.Option(50_000, "--persons", help="Size of the synthetic region"),
    seed: int = typer.Option(2022, "--seed", help="Seed of the synthetic region"),
    microdata: bool = typer.Option(False, "--microdata", help="Also pseudonymised person-month and contact Parquet (OUTPUT/microdata)"),
    microdata_key: Optional[Path] = typer.Option(None, "--microdata-key", help="File holding the pseudonym key (created when missing)"),
    lang: str = typer.Option("sv", "--lang", help="Language of report.html and analysis.xlsx: sv or en"),
    engine_name: str = typer.Option("duckdb", "--engine", help="duckdb | spark (with --db: the statements and the split by area computed on Spark)"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="Spark master URL (default: $ERSATTNING_SPARK_MASTER, ersattning.toml, local[2])"),
    spark_config: Optional[Path] = typer.Option(None, "--spark-config", help="TOML file with [spark] master and [spark.conf] (default ./ersattning.toml)"),
    spark_inputs: Optional[Path] = typer.Option(None, "--spark-inputs", help="With --engine spark: the folder the database's inputs are exported "
                                                "to for Spark (shared with a cluster's workers; default a temporary folder)"),
):
    """The StoCHE report's tables and charts (shares, areas, concentration index, correlations, reforms).

    Example: ersattning analyze --synthetic --years 2016-2022 --output out/analysis
    On Spark: ersattning analyze --engine spark --db ersattning.duckdb --years 2022 --rules reform.yaml --output out/reform
    """
    import datetime as dt

    from ersattning.analysis import analyze as run, parse_years

    if (db is None) == (not synthetic):
        raise typer.BadParameter("give one of --db PATH or --synthetic")
    if rules is not None and rules_as_of is not None:
        raise typer.BadParameter("give --rules or --rules-as-of, not both")
    if case_mix not in ("acg", "open"):
        raise typer.BadParameter("--case-mix is acg or open")
    if lang not in ("sv", "en"):
        raise typer.BadParameter("--lang must be sv or en")
    try:
        year_list = parse_years(years)
        as_of = dt.date.fromisoformat(rules_as_of) if rules_as_of else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _engine_name(engine_name)
    spark = None
    if engine_name == "spark":
        import tempfile

        from ersattning.spark import spark_settings

        try:
            master, conf = spark_settings(spark_master, spark_config)
        except ErsattningError as exc:
            _fail(exc)
        spark = (master, conf, spark_inputs or Path(tempfile.mkdtemp(prefix="ersattning-inputs-")))
    # A batch job's log (stderr not a terminal) gets a line per year done instead of the spinner.
    batch = not sys.stderr.isatty()

    def progress(text: str, status=None) -> None:
        done = re.fullmatch(r"(?:(base|scenario) )?done (\d{4}) \((\d+)/(\d+)\)", text)
        if batch and done:
            run_, year, i, n = done.groups()
            run_ = {"base": "bas ", "scenario": "scenario "}.get(run_, "") if lang == "sv" else f"{run_} " if run_ else ""
            print(f"analyze: {run_}{year} {'klar' if lang == 'sv' else 'done'} ({i}/{n})", file=sys.stderr, flush=True)
        elif status is not None and not done:
            status.update(f"Analysing: {text}")

    try:
        with console.status("Analysing…") if not batch else contextlib.nullcontext() as status:
            result = run(year_list, output, db=db, persons=persons, seed=seed, rules=rules, rules_as_of=as_of,
                         passive_listing=passive_listing, neutral=neutral, case_mix=case_mix, need=need,
                         microdata=microdata, microdata_key=microdata_key, lang=lang, spark=spark,
                         progress=lambda text: progress(text, status))
    except ErsattningError as exc:
        _fail(exc)
    finally:
        if spark is not None:
            _stop_spark()
    _analysis_summary(result, output, lang)


def _stop_spark() -> None:
    """Stop this process's Spark session, if one was started (the JVM and its executors go with it)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # the spark extra is not installed: nothing was started
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


#: `analyze`'s summary on the console in the report's language (`--lang`), by its English text.
_SUMMARY_SV = {
    "year": "år", "capitation %": "kapitering %", "variable %": "rörlig %", "goal-based %": "målrelaterad %",
    "total SEK": "totalt (kr)",
    "budget {year}: base {base}, scenario {scenario}, difference {difference} SEK ({pct} %)":
        "budget {year}: bas {base}, scenario {scenario}, skillnad {difference} kr ({pct} %)",
    "neutral {year}: {parameter} × {factor} ({exact}) → {rate} (neutral.csv)":
        "budgetneutralt {year}: {parameter} × {factor} ({exact}) → {rate} (neutral.csv)",
    "report vs engine{on}: {passed} of {run} figures within tolerance, {skipped} not run for these years (calibration.csv)":
        "rapporten mot motorn{on}: {passed} av {run} mått inom tolerans, {skipped} ej körda för dessa år (calibration.csv)",
    " (base rulebook)": " (basens regelverk)",
    "{n} files in {output} ({seconds} s): report.html, analysis.xlsx, shares.csv, areas.csv, …":
        "{n} filer i {output} ({seconds} s): report.html, analysis.xlsx, shares.csv, areas.csv, …",
}


def _analysis_summary(result, output: Path, lang: str) -> None:
    """The shares per year, the budget effect, the neutral factor and the report check, in `lang`
    (Swedish: the words of _SUMMARY_SV and a decimal comma)."""
    from ersattning.analysis.categories import report_group

    def say(text: str, **values) -> str:
        return (_SUMMARY_SV.get(text, text) if lang == "sv" else text).format(**values)

    def number(x: float, digits: int, signed: bool = False) -> str:
        shown = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
        return shown.replace(".", ",") if lang == "sv" else shown

    def money(ore: int) -> str:
        return sek_text(ore).replace(".", ",") if lang == "sv" else sek_text(ore)

    # a scenario's tables are side by side; the summary shows the scenario's own shares
    groups = result.tables["runs"]["scenario"]["categories"] if result.base is not None else result.tables["categories"]
    table = Table(*(say(h) for h in ("year", "capitation %", "variable %", "goal-based %", "total SEK")))
    for year, part in groups.groupby("year"):
        # the categories the components declare, summed by the report's groups
        share = part.assign(group=part.category.map(report_group)).groupby("group").share_of_total.sum()
        fixed, variable, goal = (share.get(g, 0.0) for g in ("fixed", "variable", "goal_based"))
        table.add_row(str(year), number(fixed, 1), number(variable, 1), number(goal, 1),
                      money(int(round(part.amount_sek.sum() * 100))))
    console.print(table)
    if result.base is not None:
        for r in result.tables["budget"].itertuples():
            console.print(say("budget {year}: base {base}, scenario {scenario}, difference {difference} SEK ({pct} %)",
                              year=r.year, base=money(round(r.base_sek * 100)), scenario=money(round(r.scenario_sek * 100)),
                              difference=money(r.difference_ore), pct=number(r.difference_pct, 2, signed=True)))
        neutral_rows = result.tables["neutral"].itertuples() if "neutral" in result.tables else ()
        for r in neutral_rows:
            console.print(say("neutral {year}: {parameter} × {factor} ({exact}) → {rate} (neutral.csv)",
                              year=r.year, parameter=r.parameter, factor=number(r.factor, 9),
                              exact=r.factor_exact, rate=number(r.rate_rescaled, 2)))
    cal = result.tables["calibration"]
    status = cal["status_base"] if result.base is not None else cal["status"]
    if len(cal):
        run_ = int((status != "not run").sum())
        console.print(say("report vs engine{on}: {passed} of {run} figures within tolerance, {skipped} not run for these years (calibration.csv)",
                          on=say(" (base rulebook)") if result.base is not None else "", passed=int((status == "pass").sum()),
                          run=run_, skipped=len(cal) - run_))
    console.print(say("{n} files in {output} ({seconds} s): report.html, analysis.xlsx, shares.csv, areas.csv, …",
                      n=len(result.files), output=output, seconds=f"{result.seconds:.0f}"))


def main():  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
