"""`ersattning bench-spark`: the bench month (2022-03) timed on Spark, local[2] and a standalone
cluster, on the bench's cached synthetic region (exported once as Parquet for Spark to read)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from rich.console import Console

from ersattning.bench import BENCH_MONTH, CACHE, ensure_region


def exported_region(persons: int, console: Console) -> Path:
    """The cached region with its contacts reported into a copy of the master database, exported
    once with `spark.export_inputs`; later calls reuse the folder."""
    from ersattning.core import Core
    from ersattning.spark import export_inputs

    folder = CACHE / "spark" / f"p{persons}-parquet"
    if (folder / "DONE").exists():
        return folder
    master, contacts_csv, _ = ensure_region(persons, console)
    db = CACHE / "spark" / f"p{persons}-with-contacts.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(master, db)
    with console.status("Reporting the contacts and exporting the inputs as Parquet (once)…"):
        Core.open(db).report(contacts_csv)
        export_inputs(db, folder)
    (folder / "DONE").write_text("ok")
    return folder


def time_month(folder: Path, master: str, conf: dict[str, str] | None = None) -> dict:
    """Session start (with reading and checking the inputs) and the month's computation on `master`, in seconds."""
    from ersattning.core import choose_rulebook
    from ersattning.spark import compute_on_spark, spark_engine

    t0 = time.perf_counter()
    engine, sample = spark_engine(folder.resolve().as_uri(), master=master, conf=conf)
    try:
        t1 = time.perf_counter()
        result = compute_on_spark(engine, choose_rulebook(sample_persons=sample), BENCH_MONTH)
        t2 = time.perf_counter()
    finally:
        engine.con._session.stop()
    return {"master": master, "start_s": round(t1 - t0, 2), "month_s": round(t2 - t1, 2), "lines": result.lines.num_rows}


def run_spark_bench(persons: int, cluster: str | None = None, json_path: Path | None = None,
                    console: Console | None = None) -> dict:
    """The bench month on local[2] and, when `cluster` is given (spark://host:port), on that cluster.
    Each in a session of its own (one SparkContext per process at a time)."""
    console = console or Console()
    folder = exported_region(persons, console)
    out = {"persons": persons, "month": BENCH_MONTH, "runs": []}
    for master in ["local[2]"] + ([cluster] if cluster else []):
        with console.status(f"{BENCH_MONTH} on {master}…"):
            figures = time_month(folder, master)
        console.print(f"{master}: start {figures['start_s']} s, month {figures['month_s']} s, {figures['lines']} lines")
        out["runs"].append(figures)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(out, indent=2))
    return out
