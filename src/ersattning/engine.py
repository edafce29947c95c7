"""The engine's backends: Ibis over DuckDB (embedded default, a file) or PySpark (optional extra).

Everything in the calculation path is an Ibis expression over whole tables, so the same
code runs on both; `Engine` holds the connection and the named input tables.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa

from ersattning.errors import ErsattningError

INPUT_TABLES = ("clinics", "kombika", "persons", "listings", "risk", "home_care", "goals", "affiliations",
                "medical_service", "requisitions")
#: Input tables added after databases were first made: a database without them reads them as
#: empty (a load creates them), rather than being refused.
LATER_TABLES = ("medical_service", "requisitions")


@contextlib.contextmanager
def in_use_is_an_error(path):
    """Turn DuckDB's file lock (one writing process per database file) into an error that says
    what to do. A running `ersattning serve` takes the CLI's commands itself (ersattning.remote),
    so this is some other process: one that cannot be asked to run them."""
    import duckdb

    try:
        yield
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise ErsattningError(f"{path} is in use by another process that takes no commands (not a running "
                              "`ersattning serve` of this version): stop it first") from None


# --- the database files this process serves ----------------------------------------------------
# `ersattning serve` holds its database file open (DuckDB: one writing process per file) and runs
# the CLI's commands for it (ersattning.remote). Inside that process every opener of the file by
# path (Engine.duckdb, open_duckdb) gets the server's connection instead of a second one: a second
# duckdb.connect of the same file in one process works only with an identical configuration.
_SERVED: dict[str, "Engine"] = {}


def _key(path) -> str | None:
    if path is None or str(path) == ":memory:":
        return None
    return os.path.realpath(path)


def serve_engine(path, engine: "Engine") -> None:
    """Register `engine` as this process's open connection to the database file `path`."""
    _SERVED[_key(path)] = engine


def unserve_engine(path) -> None:
    _SERVED.pop(_key(path), None)


def served_engine(path) -> "Engine | None":
    """The engine this process serves the file `path` with, if it serves it."""
    key = _key(path)
    return _SERVED.get(key) if key else None


def open_duckdb(path):
    """A DuckDB connection to the file `path` that the caller closes: a cursor of the served
    connection when this process serves the file (closing it leaves the server's open), else
    a new connection (the file's lock held by another process is an ErsattningError)."""
    import duckdb

    served = served_engine(path)
    if served is not None:
        return served.con.con.cursor()
    with in_use_is_an_error(path):
        return duckdb.connect(str(path))


@dataclass
class Engine:
    """A backend connection and the input tables it computes on."""

    con: ibis.BaseBackend
    backend: str = "duckdb"
    tables: dict[str, ibis.Table] = field(default_factory=dict)
    #: (first, last) -> the live contacts dated in that period, when they come from a register.
    contacts_between: object = None
    _cached: list = field(default_factory=list, repr=False)
    _local: object = field(default=None, repr=False)

    @classmethod
    def duckdb(cls, path: str | Path | None = None) -> "Engine":
        """DuckDB in memory, or on a database file (created when missing); the served connection
        when this process serves the file (`serve_engine`), with tables of its own."""
        served = served_engine(path)
        if served is not None:
            return cls(served.con, "duckdb")
        with in_use_is_an_error(path):
            con = ibis.duckdb.connect(str(path) if path else ":memory:")
        con.raw_sql("SET preserve_insertion_order = false")
        # DuckDB's default (80 % of RAM) lets its buffer pool grow far past what a month needs;
        # a cap keeps the full region within the 4 GiB target (it spills to disk if needed).
        con.raw_sql(f"SET memory_limit = '{os.environ.get('ERSATTNING_DUCKDB_MEMORY', '3GB')}'")
        return cls(con, "duckdb")

    @classmethod
    def pyspark(cls, session=None, master: str | None = None, conf: dict[str, str] | None = None) -> "Engine":
        """PySpark: on this machine (`local[2]` by default, loopback only, Arrow transfer on) or on
        the cluster at `master` (e.g. spark://host:7077), with `conf`'s Spark settings on top.

        A local master, or a cluster on this machine's loopback, binds the driver to 127.0.0.1;
        a remote cluster's executors must reach the driver, so there Spark's own choice (or
        `spark.driver.host` in `conf`) applies."""
        master = master or "local[2]"
        loopback = master.startswith("local") or "://127.0.0.1" in master or "://localhost" in master
        if loopback:
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        if session is None:
            builder = (
                SparkSession.builder.master(master)
                .appName("ersattning")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="ersattning-spark-"))
            )
            if loopback:
                builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
            for key, value in (conf or {}).items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
        return cls(ibis.pyspark.connect(session), "pyspark")

    def read_parquet_inputs(self, folder: str, names) -> "Engine":
        """Spark reads the tables `names` from `<folder>/<name>.parquet` (a file or a folder of
        parts; a local path or any Hadoop URL, file:// or hdfs://) as temporary views: the
        rows never pass through this process (ersattning.spark checks the columns)."""
        base = str(folder).rstrip("/")
        for name in names:
            self.con._session.read.parquet(f"{base}/{name}.parquet").createOrReplaceTempView(name)
            self.tables[name] = self.con.table(name)
        return self

    def register(self, tables: dict[str, pa.Table]) -> "Engine":
        """Make Arrow tables available to the engine for this connection (temporary; to store
        them in the database file, `store.store_inputs`, which uses `persist`)."""
        for name, table in tables.items():
            if self.backend == "pyspark":
                # A temporary view over a DataFrame made from Arrow: nothing is written to a
                # Spark warehouse on disk (ibis' PySpark backend has no temporary tables).
                self.con._session.createDataFrame(table).createOrReplaceTempView(name)
                self.tables[name] = self.con.table(name)
            else:
                self.tables[name] = self.con.create_table(name, table, temp=True, overwrite=True)
        return self

    def persist(self, tables: dict[str, pa.Table]) -> None:
        """Replace the stored tables `tables` inside the caller's open DuckDB transaction.

        DuckDB's DDL is transactional: until COMMIT the old tables are what every reader and
        a restart after a crash see (the new rows are not in the write-ahead log before COMMIT).
        ibis' create_table(overwrite=True) is not used: it drops and renames outside any
        transaction, one table at a time. Call `attach(tables)` after COMMIT.
        """
        con = self.con.con
        for name, table in tables.items():
            view = f"_persist_{name}"
            con.register(view, table)
            try:
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "{view}"')
            finally:
                con.unregister(view)

    def attach(self, names) -> "Engine":
        """Use the stored tables `names` (after `persist` committed)."""
        self.tables.update({n: self.con.table(n) for n in names})
        return self

    def table_names(self) -> set[str]:
        """Tables in the DuckDB database (ibis' list_tables() calls an API DuckDB 2.0 removed)."""
        return {r[0] for r in self.con.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}

    def attach_stored(self) -> "Engine":
        """Use the input tables already stored in the database file."""
        existing = self.table_names()
        missing = [n for n in INPUT_TABLES if n not in existing and n not in LATER_TABLES]
        if missing:
            from ersattning.errors import InputError

            raise InputError(f"the database has no {', '.join(missing)}: run `ersattning load DIR --db PATH` first")
        self.tables.update({n: self.con.table(n) for n in INPUT_TABLES if n in existing})
        return self

    def contacts(self, first, last) -> ibis.Table | None:
        """The contacts to price for first..last: the register's live view, or a given table."""
        if self.contacts_between is not None:
            return self.contacts_between(first, last)
        return self.tables.get("contacts")

    def cache(self, expr: ibis.Table) -> ibis.Table:
        """Compute an intermediate table once (a temporary table, or a cached DataFrame on Spark).

        Released by `release_cached()` when the run is done.
        """
        if self.backend == "pyspark":
            # ibis' PySpark cache() compiles the expression without registering its in-memory
            # tables (memtables) as views first, as its execute does.
            self.con._run_pre_execute_hooks(expr)
        cached = expr.cache()
        self._cached.append(cached)
        return cached

    def release_cached(self) -> None:
        while self._cached:
            self._cached.pop().release()

    def local_sql(self):
        """A DuckDB connection for SQL over small Arrow tables the caller registers (an analysis's
        weights and summed lines): this engine's own on DuckDB; beside Spark, an in-memory one of
        this process, as those tables are already collected."""
        if self.backend == "duckdb":
            return self.con.con
        if self._local is None:
            import duckdb

            self._local = duckdb.connect()
        return self._local

    def __getitem__(self, name: str) -> ibis.Table:
        return self.tables[name]
