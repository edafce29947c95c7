"""Scale-out on Spark: the validated, stored inputs exported as Parquet, read by Spark itself, and
a month's statements computed there with the same Ibis expressions as on DuckDB.

Validation stays where it is: `ersattning load` and `ersattning report` check the input files and
the contacts into the database. `export_inputs` writes that stored form with DuckDB's COPY (no
row passes through Python), the contacts as the register's live versions; `spark_engine` has Spark
read such a folder and checks that every table and column is there with its type.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt
import pyarrow as pa
import pyarrow.parquet as pq

from ersattning.engine import INPUT_TABLES, Engine
from ersattning.errors import InputError

#: The tables an exported folder holds, besides its `export_info.parquet`.
TABLES = (*INPUT_TABLES, "contacts")
INFO = "export_info"
DEFAULT_MASTER = "local[2]"
MASTER_ENV = "ERSATTNING_SPARK_MASTER"
CONFIG_FILE = "ersattning.toml"


# --- the Spark master and configuration ------------------------------------------------------

def spark_settings(master: str | None = None, config: Path | None = None) -> tuple[str, dict[str, str]]:
    """The master and Spark conf to use: `--spark-master`, else $ERSATTNING_SPARK_MASTER, else the
    config file's [spark] master, else local[2]; the conf is the file's [spark.conf] table. The
    config file is `config`, else ./ersattning.toml when it exists."""
    path = config if config is not None else (Path(CONFIG_FILE) if Path(CONFIG_FILE).is_file() else None)
    doc: dict = {}
    if path is not None:
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("spark", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: cannot read the Spark settings: {exc}") from None
    conf = {str(k): str(v) for k, v in (doc.get("conf") or {}).items()}
    return master or os.environ.get(MASTER_ENV) or doc.get("master") or DEFAULT_MASTER, conf


# --- export: the stored, validated inputs as Parquet ------------------------------------------

def _expected() -> dict[str, pa.Schema]:
    """Each exported table's columns and types: the input contracts (as `load` stores them) and
    the register's live view of the contacts."""
    from ersattning.inputs import CONTRACTS
    from ersattning.register import current_contacts

    out = {name: CONTRACTS[name].schema for name in INPUT_TABLES}
    out["contacts"] = current_contacts(ibis.duckdb.connect()).schema().to_pyarrow()
    return out


def export_inputs(db: str | Path, folder: str | Path, as_of: dt.date | dt.datetime | None = None) -> dict[str, int]:
    """Write the database's stored inputs and the register's live contacts (as of `as_of`, else
    now) to `folder/<table>.parquet` with DuckDB's COPY, plus `export_info.parquet` (the sample
    setting, when and from what it was exported). Returns the rows per table."""
    from ersattning import store

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not Path(db).is_file():
        raise InputError(f"there is no database {db}: run `ersattning load DIR --db {db}` first")
    from ersattning.engine import served_engine

    engine = store.open_engine(db)
    try:
        return _export(engine, db, folder, as_of)
    finally:
        if served_engine(db) is None:  # a served connection stays open for its server
            engine.con.disconnect()


def _export(engine: Engine, db, folder: Path, as_of) -> dict[str, int]:
    from ersattning import store
    from ersattning.register import current_contacts

    engine.attach_stored()
    con = engine.con.con
    names = engine.table_names()
    expected = _expected()
    rows = {}
    for name in INPUT_TABLES:
        target = folder / f"{name}.parquet"
        if name in names:
            con.execute(f"COPY \"{name}\" TO '{_sql_path(target)}' (FORMAT parquet)")
        else:  # a table added after the database was made: empty, as the DuckDB path reads it
            pq.write_table(expected[name].empty_table(), target)
        rows[name] = con.execute(f"SELECT count(*) FROM read_parquet('{_sql_path(target)}')").fetchone()[0]
    target = folder / "contacts.parquet"
    if "contact_events" in names:
        live = current_contacts(engine.con, as_of=as_of)
        con.execute(f"COPY ({ibis.to_sql(live, dialect='duckdb')}) TO '{_sql_path(target)}' (FORMAT parquet)")
        rows["contacts"] = con.execute(f"SELECT count(*) FROM read_parquet('{_sql_path(target)}')").fetchone()[0]
    else:
        pq.write_table(expected["contacts"].empty_table(), target)
        rows["contacts"] = 0
    info = pa.table({
        "sample_persons": pa.array([store.sample_size(engine)], pa.int64()),
        "contacts_as_of": pa.array([str(as_of) if as_of is not None else None], pa.string()),
        "exported_at": pa.array([dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)], pa.timestamp("us")),
        "database": pa.array([Path(db).name]),
    })
    pq.write_table(info, folder / f"{INFO}.parquet")
    return rows


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# --- Spark: read an exported folder, check it, compute ----------------------------------------

def _loose(dtype: idt.DataType) -> idt.DataType:
    # Parquet keeps no NOT NULL from DuckDB's COPY, and Spark reads every column as nullable;
    # Spark's timestamps have one precision (microseconds), which ibis reports without a scale.
    if dtype.is_timestamp():
        return idt.Timestamp(timezone=dtype.timezone, nullable=True)
    return dtype.copy(nullable=True)


def check_tables(engine: Engine, expected: dict[str, pa.Schema] | None = None) -> None:
    """Every table an exported folder must hold has every column with its type; else an
    InputError naming the table and the column."""
    expected = expected or _expected()
    problems = []
    for name, schema in expected.items():
        have = engine.tables[name].schema()
        for field in schema:
            if field.name not in have:
                problems.append(f"{name}.{field.name}: missing")
                continue
            want = _loose(idt.dtype(field.type))
            got = _loose(have[field.name])
            if got != want:
                problems.append(f"{name}.{field.name}: {got} where {want} is expected")
    if problems:
        raise InputError("the Parquet inputs are not the stored form (write them with `ersattning export-inputs`): "
                         + "; ".join(problems))


def spark_engine(folder: str, master: str | None = None, conf: dict[str, str] | None = None,
                 session=None) -> tuple[Engine, int | None]:
    """A PySpark engine on the exported folder `folder` (a local path or a Hadoop URL) and the
    sample size the folder declares (None: the whole region). Spark reads every table itself."""
    engine = Engine.pyspark(session=session, master=master, conf=conf)
    spark = engine.con._session
    base = str(folder).rstrip("/")
    try:
        info = spark.read.parquet(f"{base}/{INFO}.parquet").select("sample_persons").limit(1).collect()
    except Exception as exc:  # Spark's AnalysisException: the path does not exist
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(f"{folder} is not an exported inputs folder (no {INFO}.parquet): "
                             "write it with `ersattning export-inputs --db DB --parquet DIR`") from None
        raise
    for name in TABLES:
        try:
            engine.read_parquet_inputs(base, [name])
        except Exception as exc:
            if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                raise InputError(f"{folder}: the table {name} is missing ({name}.parquet)") from None
            raise
    check_tables(engine)
    return engine, (info[0]["sample_persons"] if info else None)


def compute_on_spark(engine: Engine, book, month: str):
    """One month's statement lines and statements on the Spark engine (only they are collected)."""
    from ersattning.statements import compute_month

    return compute_month(engine, book, month)


def write_results(result, output: Path) -> None:
    """statement_lines/statements as Parquet (every column, amounts in öre) and as the CSV
    contract the DuckDB path writes."""
    from ersattning.statements import lines_csv_table, statements_csv_table, write_csv

    output.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.lines, output / "statement_lines.parquet")
    pq.write_table(result.statements, output / "statements.parquet")
    write_csv(lines_csv_table(result.lines), output / "statement_lines.csv")
    write_csv(statements_csv_table(result.statements), output / "statements.csv")


def spark_core(db: str | Path, staging: str | Path, master: str | None = None, conf: dict[str, str] | None = None,
               **options):
    """A `Core` on the database `db` whose months are computed on Spark: the database's inputs
    and live contacts are exported to `staging` first (a folder the cluster's executors can
    read: local for local[N], a shared file system for a cluster), then Spark reads them.
    Storing, manual lines, adjustments and the job history stay in the database, as on DuckDB."""
    from ersattning.core import Core

    export_inputs(db, staging)
    engine, _ = spark_engine(str(Path(staging).resolve()), master=master, conf=conf)
    return Core.open(db, compute=lambda month, book: compute_on_spark(engine, book, month), **options), engine

