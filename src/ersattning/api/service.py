"""What the API's routes and the web app's pages share: the server's state, who is asking, what a
principal may see, refusals (`ApiError`), and the operations both offer (run, load, manual lines).

The two routers (`app.api`, `web.web`) import this module and never each other.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, UploadFile
from fastapi.responses import JSONResponse

from ersattning import store
from ersattning.core import Core
from ersattning.api import queries
from ersattning.api.tokens import Principal, ensure_tokens, lookup
from ersattning.engine import INPUT_TABLES
from ersattning.synth.region import SAMPLE_FILE
from ersattning.errors import ErsattningError
from ersattning.jobs import ensure_jobs
from ersattning.register import ensure_log
from ersattning.statements import MANUAL_COMPONENTS
from ersattning.trace import person_key

MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"  # 1900-2099: months a statement can have


class ApiError(Exception):
    """A refusal with an HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def not_found(what: str = "not found") -> ApiError:
    return ApiError(404, "not_found", what)


class Bucket:
    """A token bucket: `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst, self.level, self.at = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        if self.level >= 1:
            self.level -= 1
            return True
        return False


class State:
    """The server's one database connection (DuckDB, serialised by a lock), rulebook and buckets.

    `lock` is taken by every route that uses `con`, and by each CLI command the server runs for a
    client (ersattning.remote); a run or a load holds it to the end. `reader()` is a second
    connection to the same database for what must not wait for them: who a token or a session
    is, and the job history with its progress (it sees what is committed)."""

    def __init__(self, db: Path, intake_rate: float, intake_burst: int, session_hours: float = 8.0):
        self.db = Path(db).resolve()
        self.session_hours = session_hours
        # The one core every route and page calls: the rulebook is decided there, once.
        self.core = Core.open(self.db)
        self.engine = self.core.engine
        self.con = self.engine.con.con
        self.lock = threading.RLock()
        self._reader = self.con.cursor()
        self._reader_lock = threading.Lock()
        self.rate, self.burst = intake_rate, intake_burst
        self.buckets: dict[str, Bucket] = {}
        self.pending: dict[tuple, dict] = {}  # pending_fixes' answers while the database is unchanged
        with self.lock:
            ensure_tokens(self.con)
            ensure_log(self.con)
            self.con.execute(queries.BATCHES_DDL).fetchall()
            ensure_jobs(self.con)
            person_key(self.con)

    @contextlib.contextmanager
    def reader(self):
        """The reading connection, one request at a time (never waits for `lock`)."""
        with self._reader_lock:
            yield self._reader

    def allow_intake(self, token_id: str) -> bool:
        with self.lock:
            bucket = self.buckets.setdefault(token_id, Bucket(self.rate, self.burst))
            return bucket.take()


def state(request: Request) -> State:
    return request.app.state.ersattning


def bearer_token(request: Request) -> str | None:
    """The token of the Authorization header: the API's only credential (a cookie is never one,
    so a page on another site cannot make a browser call the API as its user)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def principal_or_none(request: Request) -> Principal | None:
    token = bearer_token(request)
    if not token:
        return None
    st = state(request)
    with st.reader() as con:
        return lookup(con, token)


def principal(request: Request) -> Principal:
    who = principal_or_none(request)
    if who is None:
        raise ApiError(401, "unauthorized", "a valid API token is required: Authorization: Bearer TOKEN "
                                            "(create one with `ersattning token create`)")
    return who


def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.admin:
        raise ApiError(403, "forbidden", "this needs an administrator token")
    return who


def visible_clinic(st: State, who: Principal, clinic_id: str) -> str:
    """The clinic if this principal may see it and it exists; else 404 (never 403: no probing)."""
    if not who.may_see(clinic_id):
        raise not_found(f"no clinic {clinic_id!r}")
    with st.lock:
        if not queries.clinic_exists(st.con, clinic_id):
            raise not_found(f"no clinic {clinic_id!r}")
    return clinic_id


def visible_trace(st: State, who: Principal, found: dict | None) -> dict | None:
    """What of a contact's trace this principal may see (None: nothing, a 404).

    The administrator sees all; a clinic sees a contact on its own kombika or one it is billed
    for (`clinics`: the kombika's clinic and every payee). Sending a row, even one that was
    rejected, on another clinic's kombika gives no right to anything. On a kombika no clinic owns
    (unknown to the register) a clinic sees the trace only when it sent every row of it itself
    (its own rejected rows, to fix them; they are also on its list of errors).
    """
    if found is None or who.admin or who.clinic_id in found["clinics"]:
        return found
    if found["clinic_id"] is not None:
        return None
    batches = {r["batch_id"] for r in found["received"]} | {r["batch_id"] for r in found["rejections"]}
    if not batches:
        return None
    marks = ", ".join("?" * len(batches))
    own = st.con.execute(f"SELECT count(DISTINCT batch_id) FROM api_batches WHERE clinic_id = ? AND batch_id IN ({marks})",
                         [who.clinic_id, *batches]).fetchall()[0][0]
    return found if own == len(batches) else None


PENDING_KEPT = 256  # answers remembered at most (each is one clinic's list, a page's worth)


def pending_fixes(st: State, clinic_id: str | None, month: str | None = None, code: str | None = None) -> dict:
    """`queries.pending_fixes`, remembered until the database changes: a batch received (the
    register) or any job (a load, run, issue or deletion: master data, held contacts, months).
    Pricing compiles the engine's expressions, which takes seconds whatever the data; a page
    shown again needs none of that."""
    with st.lock:
        stamp = st.con.execute("SELECT (SELECT coalesce(max(batch_id), 0) FROM contact_batches), "
                               "(SELECT coalesce(max(job_id), 0) FROM jobs)").fetchall()[0]
        key = (clinic_id, month, code, *stamp)
        found = st.pending.get(key)
        if found is None:
            found = queries.pending_fixes(st.core, clinic_id, month, code)
            if len(st.pending) >= PENDING_KEPT:
                st.pending.clear()
            st.pending[key] = found
        return found


def run_month(st: State, who: Principal, month: str, issue: bool, via: str = "api") -> dict:
    with st.lock:
        try:
            done, = st.core.run([month], issue=issue, user=f"token:{who.token_id}", via=via)
        except ErsattningError as exc:
            raise ApiError(422, "refused", str(exc)) from None
        status, result = done.status, done.result
        out = {"month": month, "status": status, "changed": result is not None}
        if result is not None:
            out.update(statements=result.statements.num_rows, lines=result.lines.num_rows,
                       total_ore=int(sum(result.statements["total_ore"].to_pylist())),
                       adjustments=store.adjustment_summary(result.lines))
        return out


_INPUT_NAME = re.compile(r"^(%s)\.(csv|parquet)$" % "|".join(INPUT_TABLES))


def load_inputs(st: State, files: list[UploadFile], who: Principal | None = None, via: str = "api",
                problem_limit: int | None = 100) -> dict:
    """Load the uploaded files; refused inputs give a 422 JSONResponse listing the first
    `problem_limit` problems (None: all of them, for the web page)."""
    folder = Path(tempfile.mkdtemp(prefix="ersattning-upload-"))
    try:
        for f in files:
            name = Path(f.filename or "").name
            if not _INPUT_NAME.match(name) and name != SAMPLE_FILE:
                raise ApiError(422, "bad_file_name", f"{name!r} is not an input file: use NAME.csv or NAME.parquet with "
                                                     f"NAME one of {', '.join(INPUT_TABLES)}, or {SAMPLE_FILE}")
            with open(folder / name, "wb") as out:
                shutil.copyfileobj(f.file, out)
        with st.lock:
            # One transaction; the files not uploaded keep their stored tables (store.load_folder).
            # The sample setting as `ersattning load` decides it (core.sample_setting): a sample.yaml
            # sent says it; persons sent without one are the whole region; else it is kept.
            try:
                result = st.core.load(folder, who=f"token:{who.token_id}" if who else None, via=via)
            except ValueError as exc:
                raise ApiError(422, "bad_sample", str(exc)) from None
        if len(result.errors):
            problems = (result.errors if problem_limit is None else result.errors.slice(0, problem_limit)).to_pylist()
            return JSONResponse({"error": {"code": "invalid_inputs", "message": f"{len(result.errors)} problem(s) in the "
                                 "input files; nothing was loaded", "problems": problems, "count": len(result.errors)}},
                                status_code=422)
        return {"loaded": {name: after for name, (_, after) in result.replaced.items()},
                "replaced": {name: {"before": before, "after": after} for name, (before, after) in result.replaced.items()},
                "kept": result.kept, "adjustments": store.adjustment_summary(result.adjustments)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def add_manual_line(st: State, who: Principal, fields: dict) -> dict:
    if fields["kind"] not in MANUAL_COMPONENTS:
        raise ApiError(422, "bad_kind", f"kind must be one of {', '.join(MANUAL_COMPONENTS)}")
    with st.lock:
        if not queries.clinic_exists(st.con, fields["clinic_id"]):
            raise not_found(f"no clinic {fields['clinic_id']!r}")
        try:
            row = st.core.add_manual_line(user=f"token:{who.token_id}", **fields)
        except ErsattningError as exc:
            raise ApiError(422, "refused", str(exc)) from None
    return {k: queries._plain(v) for k, v in row.items()}


def delete_month(st: State, who: Principal, month: str, via: str = "api") -> dict:
    """Remove a draft month (an issued one is refused: it is paid and never removed)."""
    with st.lock:
        try:
            return st.core.delete_month(month, user=f"token:{who.token_id}", via=via)
        except ErsattningError as exc:
            raise ApiError(409 if store.month_status(st.engine, month) == "issued" else 422, "refused", str(exc)) from None


def start_run(st: State, who: Principal, month: str, issue: bool, via: str = "web") -> threading.Thread:
    """Run (or issue) `month` in the background as a job (its progress and outcome are in the job
    history); an implausible month is refused here, before anything starts. Returns once the job
    is on record (or the run is over), so the job page that follows shows it."""
    try:
        store.check_month(st.core.book, month)
    except ErsattningError as exc:
        raise ApiError(422, "refused", str(exc)) from None
    with st.reader() as con:
        before = con.execute("SELECT coalesce(max(job_id), 0) FROM jobs").fetchall()[0][0]

    def work():
        with contextlib.suppress(ApiError):  # a refusal is on record in the job row
            run_month(st, who, month, issue, via=via)

    thread = threading.Thread(target=work, name=f"run-{month}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        with st.reader() as con:
            if con.execute("SELECT count(*) FROM jobs WHERE job_id > ?", [before]).fetchall()[0][0]:
                break
        time.sleep(0.05)
    return thread
