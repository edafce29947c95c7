"""The job history: one row per long operation (a month's run, a load, a year) with who asked for
it, through what, its progress while it runs, its outcome and what it was computed with.

Rows are written on a connection of their own (a cursor of the operation's): progress is visible
to every other reader while the operation's transaction is open, and a failure's rollback leaves
the job row (then 'failed' with the error's message) in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass

from ersattning.inputs.parse import HIDDEN_PERSON_NUMBER, PERSON_NUMBER_LIKE

VIA = ("cli", "api", "web", "cli→server")
STATUSES = ("running", "done", "failed")
COLUMNS = ("job_id", "kind", "args", "requested_by", "via", "started_at", "finished_at", "status", "progress_done",
           "progress_total", "progress_text", "rulebook", "rulebook_hash", "result_hash", "message")
JOBS_DDL = """
CREATE SEQUENCE IF NOT EXISTS job_seq START 1;
CREATE TABLE IF NOT EXISTS jobs (
    job_id BIGINT PRIMARY KEY DEFAULT nextval('job_seq'), kind VARCHAR NOT NULL, args VARCHAR,
    requested_by VARCHAR, via VARCHAR, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
    status VARCHAR NOT NULL, progress_done BIGINT, progress_total BIGINT, progress_text VARCHAR,
    rulebook VARCHAR, rulebook_hash VARCHAR, result_hash VARCHAR, message VARCHAR
);
"""
_PERSON_NUMBER = re.compile(PERSON_NUMBER_LIKE)
MAX_TEXT = 2000  # a message or progress text longer than this is cut (a row stays readable)


def _now() -> dt.datetime:
    # Naive UTC, as every timestamp in the database.
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _clean(text) -> str | None:
    """Text as the history may keep it: person-number-like runs hidden, cut to MAX_TEXT characters."""
    if text is None:
        return None
    return _PERSON_NUMBER.sub(HIDDEN_PERSON_NUMBER, str(text))[:MAX_TEXT]


def _raw(engine_or_con):
    """The DuckDB connection of an Engine, an Ibis DuckDB backend or a DuckDB connection."""
    import duckdb

    con = engine_or_con
    for _ in range(3):  # Engine → Ibis backend → DuckDB connection
        if isinstance(con, duckdb.DuckDBPyConnection):
            return con
        con = getattr(con, "con", None)
    raise TypeError(f"expected an Engine or a DuckDB connection, not {type(engine_or_con).__name__}")


def ensure_jobs(con) -> None:
    con.execute(JOBS_DDL)


@dataclass
class Job:
    """An open job: `progress` and `finish` update its row on the job's own connection."""

    job_id: int
    _cur: object
    finished: dict | None = None

    def progress(self, done: int, text: str | None = None, total: int | None = None) -> None:
        """`done` of the job's steps are done (`text`: what it is doing now)."""
        if total is None:
            self._cur.execute("UPDATE jobs SET progress_done = ?, progress_text = ? WHERE job_id = ?",
                              [int(done), _clean(text), self.job_id])
        else:
            self._cur.execute("UPDATE jobs SET progress_done = ?, progress_total = ?, progress_text = ? WHERE job_id = ?",
                              [int(done), int(total), _clean(text), self.job_id])

    def fail(self, message: str) -> None:
        """Record the job as 'failed' with `message` when the block ends, without an error raised
        (an operation that refused its inputs and changed nothing)."""
        self.finish(message=message)
        self.finished["status"] = "failed"

    def finish(self, rulebook: str | None = None, rulebook_hash: str | None = None, result_hash: str | None = None,
               message: str | None = None) -> None:
        """What the job computed with and what it gave; recorded as 'done' when the block ends without an error."""
        self.finished = {"rulebook": _clean(rulebook), "rulebook_hash": rulebook_hash, "result_hash": result_hash,
                         "message": _clean(message)}


@contextlib.contextmanager
def job(engine_or_con, kind: str, args: dict | None = None, requested_by: str | None = None, via: str = "cli",
        total: int | None = None):
    """Record an operation in the job history for the block's duration:

        with job(engine, "run", {"month": "2022-03"}, "token:ab12cd34", "api", total=1) as j:
            ...; j.progress(1, "computed"); j.finish(rulebook=..., result_hash=...)

    The row is 'running' while the block runs, 'done' after it, 'failed' with the error's message
    when it raises (the error is raised on). `args` must not hold a person number (any that looks
    like one is hidden anyway)."""
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}")
    # A connection of the job's own: its statements commit at once, whatever transaction the
    # operation opens (and rolls back) on its connection.
    cur = _raw(engine_or_con).cursor()
    try:
        ensure_jobs(cur)
        text = _clean(json.dumps(args or {}, ensure_ascii=False, sort_keys=True, default=str))
        row = cur.execute("INSERT INTO jobs (kind, args, requested_by, via, started_at, status, progress_done, progress_total) "
                          "VALUES (?, ?, ?, ?, ?, 'running', 0, ?) RETURNING job_id",
                          [kind, text, _clean(requested_by), via, _now(), total]).fetchall()
        j = Job(row[0][0], cur)
        try:
            yield j
        except BaseException as exc:
            message = str(exc) or type(exc).__name__
            cur.execute("UPDATE jobs SET status = 'failed', finished_at = ?, message = ? WHERE job_id = ?",
                        [_now(), _clean(message), j.job_id])
            raise
        done = j.finished or {}
        status = done.get("status", "done")
        # Done: every step is done (a job that said no progress still shows complete).
        cur.execute("UPDATE jobs SET status = ?, finished_at = ?, rulebook = ?, rulebook_hash = ?, result_hash = ?, message = ?, "
                    "progress_done = CASE WHEN ? = 'done' THEN coalesce(progress_total, progress_done) ELSE progress_done END "
                    "WHERE job_id = ?",
                    [status, _now(), done.get("rulebook"), done.get("rulebook_hash"), done.get("result_hash"),
                     done.get("message"), status, j.job_id])
    finally:
        cur.close()


def _has_jobs(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'jobs'").fetchall()[0][0])


def list_jobs(engine_or_con, limit: int = 50) -> list[dict]:
    """The latest `limit` jobs, newest first, as dicts of COLUMNS (none when no job was ever recorded)."""
    con = _raw(engine_or_con)
    if not _has_jobs(con):
        return []
    cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs ORDER BY job_id DESC LIMIT ?", [int(limit)])
    return [dict(zip(COLUMNS, row)) for row in cur.fetchall()]


def get_job(engine_or_con, job_id: int) -> dict | None:
    """One job's row, or None."""
    con = _raw(engine_or_con)
    if not _has_jobs(con):
        return None
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE job_id = ?", [int(job_id)]).fetchall()
    return dict(zip(COLUMNS, rows[0])) if rows else None
