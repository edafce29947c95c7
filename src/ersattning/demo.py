"""`ersattning demo`: a synthetic Stockholm region into the embedded database, a year computed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ersattning.errors import ErsattningError
from ersattning.money import sek_text
from ersattning.period import months_of
from ersattning.statements import lines_csv_table, statements_csv_table, write_csv
from ersattning.core import Core
from ersattning.store import open_engine, store_inputs
from ersattning.synth.region import read_sample


def _fresh_db(db: Path) -> None:
    """The demo replaces its database, but never one holding issued statements."""
    if not db.exists():
        return
    import duckdb

    con = duckdb.connect(str(db))
    try:
        has_months = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'months'").fetchone()[0]
        issued = con.execute("SELECT count(*) FROM months WHERE status = 'issued'").fetchone()[0] if has_months else 0
    finally:
        con.close()
    if issued:
        raise ErsattningError(f"{db} holds issued statements; the demo will not replace it (use --db another.duckdb)")
    db.unlink()
    Path(f"{db}.wal").unlink(missing_ok=True)


DEMO_PERSONS, DEMO_YEAR = 50_000, 2022  # `ersattning demo`'s defaults: the region the README's walk-through names


def generate_region(input_dir: Path, persons: int = DEMO_PERSONS, year: int = DEMO_YEAR) -> None:
    """The demo's synthetic region as input files (the same seed every time: its ids are stable)."""
    from ersattning.synth import generate

    generate(input_dir, persons=persons, seed=2022, first_year=min(2015, year), last_year=max(2023, year), fmt="csv",
             contact_years=[year])


def run_demo(persons: int, year: int, db: Path, out: Path, console: Console) -> dict:
    from ersattning.inputs import read_inputs

    from ersattning.register import intake, write_contact_errors

    input_dir = out / "input"
    with console.status(f"Building a synthetic Stockholm region of {persons:,} persons…".replace(",", " ")):
        generate_region(input_dir, persons, year)
    with console.status("Validating and loading the input files…"):
        inputs = read_inputs(input_dir).require_clean()
        _fresh_db(db)
        engine = open_engine(db)
        store_inputs(engine, inputs.tables, sample=read_sample(input_dir))
    with console.status("Reporting the year's care contacts to the register (GVR)…"):
        # Received after the year's last correction or cancel (up to about three months after the
        # year: a reported_at after the receiving time is refused) and before the rows that are
        # deliberately dated in the future (more than a year after the year).
        reported = intake(engine, input_dir / "contacts.csv", received_at=dt.datetime(year + 1, 6, 1, 8, 0))
        errors_path = out / "contact_errors.csv"
        write_contact_errors(reported.errors, errors_path)
    console.print(
        f"Contacts: {reported.accepted:,} accepted, {reported.rejected:,} rejected (with a reason each in {errors_path}), "
        f"{reported.unchanged:,} unchanged".replace(",", " ")
    )
    core = Core(engine)
    all_lines, all_statements = [], []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"Computing {year}", total=12)
        # The year on the shared year path (Core.run): the months arrive together at the end.
        for done in core.run(months_of(year), progress=lambda n, total, month: progress.update(task, completed=n,
                                                                                             description=f"Computed {month}")):
            all_lines.append(done.result.lines)
            all_statements.append(done.result.statements)
    lines = pa.concat_tables(all_lines)
    statements = pa.concat_tables(all_statements)
    out_dir = out / "statements" / str(year)
    write_csv(lines_csv_table(lines), out_dir / "statement_lines.csv")
    write_csv(statements_csv_table(statements), out_dir / "statements.csv")
    summary = _print_summary(console, lines, statements, inputs.tables["clinics"], year)
    _print_server(console, db, engine, statements)
    console.print(
        f"\nInputs (the file contract, by example): {input_dir}/\n"
        f"Statements: {out_dir}/statement_lines.csv, {out_dir}/statements.csv\n"
        f"Database: {db}  (try: ersattning run --db {db} --month {year}-03)"
    )
    return summary


def _print_summary(console: Console, lines: pa.Table, statements: pa.Table, clinics: pa.Table, year: int) -> dict:
    by_component = lines.group_by("component").aggregate([("amount_ore", "sum")]).sort_by([("amount_ore_sum", "descending")])
    total = sum(by_component["amount_ore_sum"].to_pylist())
    t = Table(title=f"Region totals {year}, by component")
    t.add_column("component")
    t.add_column("SEK", justify="right")
    t.add_column("share", justify="right")
    for comp, ore in zip(by_component["component"].to_pylist(), by_component["amount_ore_sum"].to_pylist()):
        t.add_row(comp, sek_text(ore), f"{100 * ore / total:.1f} %" if total else "-")
    t.add_row("[b]total[/b]", f"[b]{sek_text(total)}[/b]", "100.0 %")
    console.print(t)

    per_clinic = statements.group_by("clinic_id").aggregate([("total_ore", "sum")]).sort_by([("total_ore_sum", "descending")])
    names = dict(zip(clinics["clinic_id"].to_pylist(), clinics["name"].to_pylist()))
    top = Table(title=f"Top clinics {year} (of {per_clinic.num_rows})")
    top.add_column("clinic")
    top.add_column("name")
    top.add_column("SEK", justify="right")
    ids = per_clinic["clinic_id"].to_pylist()[:10]
    for cid, ore in zip(ids, per_clinic["total_ore_sum"].to_pylist()[:10]):
        top.add_row(cid, names.get(cid, ""), sek_text(ore))
    console.print(top)
    return {"total_ore": total, "components": dict(zip(by_component["component"].to_pylist(), by_component["amount_ore_sum"].to_pylist())), "clinics": per_clinic.num_rows}


def _print_server(console: Console, db: Path, engine, statements: pa.Table) -> None:
    """Tokens for the web app and the API: one for the clinic paid most, one for the administrator."""
    from ersattning.api.tokens import create_token

    per_clinic = statements.group_by("clinic_id").aggregate([("total_ore", "sum")]).sort_by([("total_ore_sum", "descending")])
    clinic = per_clinic["clinic_id"][0].as_py() if per_clinic.num_rows else None
    con = engine.con.con
    admin = create_token(con, admin=True, created_by="demo")
    console.print(f"\nWeb app and API: ersattning serve --db {db}   then open http://127.0.0.1:8000/ (API docs: /docs)")
    if clinic:
        console.print(f"  clinic {clinic} token: {create_token(con, clinic_id=clinic, created_by='demo')}", soft_wrap=True)
    console.print(f"  administrator token: {admin}", soft_wrap=True)
