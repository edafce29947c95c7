"""The HTTP API (FastAPI, OpenAPI at /docs): contact intake for patient systems, statements,
errors to fix, traces (AF), follow-up, and the administrator's load / run / issue / manual lines.

Every error is JSON `{"error": {"code", "message"}}`; a clinic sees only its own data (another
clinic's is 404); person numbers never appear in URLs or logs (pseudonyms in traces). The API
authenticates by the `Authorization` header only (the web pages' session cookie is no key here).
`create_app` serves this module's API router and web.py's pages; what both use is in service.py.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Path as PathParam, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from ersattning.api import queries
from ersattning.api.downloads import downloads
from ersattning.api.service import (
    MONTH, ApiError, State, add_manual_line, admin, delete_month, load_inputs, not_found, principal, run_month,
    state, visible_clinic, visible_trace,
)
from ersattning.api.tokens import Principal, list_tokens, revoke_token
from ersattning.api.web import html_error, web
from ersattning.errors import ErsattningError, InputError
from ersattning.inputs.parse import shown
from ersattning.jobs import get_job, list_jobs
from ersattning.register import records_table
from ersattning.rulebook.reform import ReformError
from ersattning.statements import MANUAL_COMPONENTS
from ersattning.store import MAX_MANUAL_ORE
from ersattning.whatif import CaseIn


MAX_BATCH = 5_000
LIMITS = {"/api/v1/contacts": 8 << 20, "/api/v1/admin/inputs": 512 << 20, "/admin/inlasning": 512 << 20}
DEFAULT_LIMIT = 1 << 20
STATIC = Path(__file__).resolve().parent / "static"
# Same origin only; the pages' charts are inline SVG (presentation attributes, no style or script),
# their CSS and script are files under /static; Swagger UI's icons are data: images.
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin")]


Who = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
Month = Annotated[str, PathParam(pattern=MONTH, description="YYYY-MM")]
ClinicId = Annotated[str, PathParam(min_length=1, max_length=64)]


# --- request and response models ---------------------------------------------------------------

class ContactIn(BaseModel):
    """One care contact as the PAS reports it (DESIGN.md contacts contract); all values text."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"example": {
        "contact_id": "V-2022-000123", "kombika": "11010046M30", "person_id": "198005171234", "date": "2022-03-10",
        "contact_type": "clinic_visit", "profession": "doctor", "diagnoses": "J06.9", "actions": None,
        "record_type": "report", "reported_at": "2022-03-10T10:15:00"}})

    contact_id: str | None = Field(None, max_length=200)
    kombika: str | None = Field(None, max_length=200)
    person_id: str | None = Field(None, max_length=200)
    date: str | None = Field(None, max_length=200)
    contact_type: str | None = Field(None, max_length=200)
    profession: str | None = Field(None, max_length=200)
    diagnoses: str | None = Field(None, max_length=2000)
    actions: str | None = Field(None, max_length=2000)
    record_type: str | None = Field(None, max_length=200)
    reported_at: str | None = Field(None, max_length=200)
    first_contact: str | None = Field(None, max_length=200, description="1 = first contact (care-guarantee share), 0 or empty")
    requested_on: str | None = Field(None, max_length=200, description="YYYY-MM-DD: the day the patient first sought care")


class ContactBatch(BaseModel):
    contacts: list[ContactIn] = Field(..., min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} contacts")


class RecordError(BaseModel):
    code: str
    field: str | None = None
    message: str


class RecordResult(BaseModel):
    index: int = Field(description="position of the record in the batch, from 0")
    kombika: str | None
    contact_id: str | None
    status: str = Field(description="accepted, unchanged (already known) or rejected")
    errors: list[RecordError] = []


class IntakeOut(BaseModel):
    batch_id: int | None
    received_at: str
    rows: int
    accepted: int
    rejected: int
    unchanged: int
    results: list[RecordResult]


class RunIn(BaseModel):
    # Strict: issuing is irreversible, so only JSON true issues ("yes", 1 and "true" are refused).
    issue: StrictBool = Field(False, description="freeze the month (an issued month never changes); a JSON boolean")


class ManualLineIn(BaseModel):
    clinic_id: str = Field(..., min_length=1, max_length=64)
    month: str = Field(..., pattern=MONTH)
    kind: Literal[MANUAL_COMPONENTS] = Field(..., description="the manual component")
    # Strict: a JSON integer only (not true, 1.0 or "100"): money is never guessed from another type.
    amount_ore: int = Field(..., ge=-MAX_MANUAL_ORE, le=MAX_MANUAL_ORE, strict=True,
                            description="öre (a JSON integer); negative to reverse a line, and for a penalty "
                            "(penalty_*: a positive amount only reverses an earlier penalty line named by reference)")
    reason: str = Field(..., min_length=1, max_length=500)
    reference: str = Field("", max_length=200)


class ErrorOut(BaseModel):
    error: dict


# --- the application ---------------------------------------------------------------------------

def create_app(db: str | Path, intake_rate: float = 20.0, intake_burst: int = 40, session_hours: float = 8.0) -> FastAPI:
    """The API and the web app on the DuckDB file `db`; a web session lasts `session_hours`."""
    app = FastAPI(
        title="ersattning",
        version="1",
        description="Region Stockholm's vårdval reimbursement: contact intake (GVR), statements (VF), "
                    "reconciliation (AF). Authenticate with `Authorization: Bearer TOKEN`.",
        responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 405: {"model": ErrorOut, "description": (
            "method not allowed: the Allow header lists the route's methods")}, 422: {"model": ErrorOut}},
        docs_url=None, redoc_url=None,  # /docs below, from local files (no CDN)
    )
    app.state.ersattning = State(Path(db), intake_rate, intake_burst, session_hours)
    _handlers(app)
    app.add_middleware(Utf8Json)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    app.include_router(api)
    app.include_router(downloads)
    _docs(app)
    app.include_router(web)
    return app


def _docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package's files, served here: /docs works offline."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url=app.openapi_url, title="ersattning – API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png",
                                   swagger_ui_parameters={"validatorUrl": None}).body.decode()
        # The page's one inline script (Swagger UI's start) runs by a nonce; no other inline script does.
        nonce = secrets.token_urlsafe(16)
        page = page.replace("<script>", f'<script nonce="{nonce}">')
        return HTMLResponse(page, headers={"content-security-policy": f"{CSP}; script-src 'self' 'nonce-{nonce}'"})


JSON_BODY_ERRORS = {
    400: {"model": ErrorOut, "description": "`bad_encoding`: the body is not UTF-8 (JSON must be UTF-8, RFC 8259); "
                                            "`bad_request`: a body that cannot be read (e.g. a bad Content-Length)"},
    413: {"model": ErrorOut, "description": "`too_large`: the body is over the route's limit"},
}


def _error(status: int, code: str, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


def _is_page(request: Request) -> bool:
    """A web-app page (errors as HTML) rather than the API or its documentation (errors as JSON)."""
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/openapi.json", "/docs", "/redoc") or path.startswith("/docs/"))


def _page_error(request: Request, status: int, message: str):
    return html_error(request, status, message)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if _is_page(request):
            return _page_error(request, exc.status, exc.message)
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if _is_page(request) and exc.status_code == 404:
            return _page_error(request, 404, "Sidan finns inte.")
        response = _error(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), str(exc.detail))
        if exc.status_code == 405:
            response.headers["allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # Location and reason only: never the input, which may hold person numbers.
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                   for e in exc.errors()[:20]]
        first = details[0] if details else {"where": "", "problem": "invalid request"}
        if _is_page(request):
            return _page_error(request, 422, f"Ogiltig uppgift: {first['where']}: {first['problem']}")
        return _error(422, "invalid_request", f"{first['where']}: {first['problem']}", details=details)

    @app.exception_handler(ErsattningError)
    async def _refused(request: Request, exc: ErsattningError):
        if isinstance(exc, ReformError):  # a reform checked whole: every problem, each naming its parameter and key
            return _error(422, "bad_reform", str(exc), problems=[p.as_dict() for p in exc.problems])
        return _error(422, "refused", str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        # A bug, not a refusal: JSON like every other error; the message says nothing of the data.
        return _error(500, "internal_error", "the server failed on this request; it is logged")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (the router's own 405 names only one route's).
    Asked of the router itself, method by method, with a fresh scope (the routed one carries the
    partly matched route)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        scope = {"type": "http", "path": request.scope["path"], "method": method, "headers": [],
                 "root_path": request.scope.get("app_root_path", request.scope.get("root_path", ""))}  # a mount's is its own
        found = [route for route in request.app.router.routes if route.matches(scope)[0] == Match.FULL]
        if any(isinstance(route, Mount) for route in found):
            return ["GET", "HEAD"]  # the static files (a mount matches any method; the files answer GET and HEAD)
        if found:
            allowed.append(method)
    return allowed


class SecurityHeaders:
    """The headers every answer carries: a Content-Security-Policy (unless the route set its own),
    no framing, no content sniffing, no Referer to other sites."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        started = False

        async def with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # A bug: answer here, with the headers (the outermost handler would answer without
            # them), and let it go on up to be logged.
            if not started:
                await _error(500, "internal_error", "the server failed on this request; it is logged")(
                    scope, receive, with_headers)
            raise


def _json_body(scope) -> bool:
    """A request whose body FastAPI reads as JSON: a JSON media type, or none at all."""
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return False
    kind = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
    return kind in (b"", b"application/json") or kind.endswith(b"+json")


class Utf8Json:
    """Refuses a JSON body that is not UTF-8 with 400 `bad_encoding` (JSON between systems is UTF-8,
    RFC 8259; Python would otherwise guess UTF-16 or UTF-32 from the first bytes)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _json_body(scope):
            return await self.app(scope, receive, send)
        chunks = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client left
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
        except StarletteHTTPException as exc:  # over the body limit while reading (BodyLimit)
            return await _error(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), str(exc.detail))(
                scope, receive, send)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return await _error(400, "bad_encoding", "the request body is not UTF-8: send the JSON encoded as UTF-8")(
                scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


class BodyLimit:
    """Refuses request bodies over the route's limit with 413 JSON (by Content-Length, and while
    reading a body sent without one)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = LIMITS.get(scope["path"], DEFAULT_LIMIT)
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_large = _error(413, "too_large", f"the request body is over {limit} bytes: send smaller batches")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _error(400, "bad_request", "bad Content-Length")(scope, receive, send)
            if declared > limit:
                return await too_large(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, f"the request body is over {limit} bytes")
            return message

        return await self.app(scope, counted, send)


api = APIRouter(prefix="/api/v1")


@api.get("/me", tags=["access"], summary="Who the token is")
def me(who: Who):
    return {"token_id": who.token_id, "role": who.role, "clinic_id": who.clinic_id}


# --- intake (GVR over HTTP) ----------------------------------------------------------------------

@api.post("/contacts", tags=["intake"], response_model=IntakeOut, responses={429: {"model": ErrorOut}, **JSON_BODY_ERRORS},
          summary="Report a batch of care contacts (same checks and idempotency as file intake)")
def post_contacts(batch: ContactBatch, request: Request, who: Who) -> IntakeOut:
    st = state(request)
    if not st.allow_intake(who.token_id):
        raise ApiError(429, "too_many_requests", "too many batches: slow down (token bucket per token)")
    records = [c.model_dump() for c in batch.contacts]
    return intake_batch(st, who, records)


def intake_batch(st: State, who: Principal, records: list[dict]) -> IntakeOut:
    """Intake of posted records. The register checks that a clinic reports only on its own
    kombika, on the value it stores (`other_clinic_kombika` is stored like every rejection, so
    the clinic sees it among its errors); an administrator's batch has no sender clinic."""
    received = dt.datetime.now().replace(microsecond=0)
    raw = records_table(records)
    with st.lock:
        try:
            res = st.core.intake(raw, f"api:{who.token_id}", received_at=received,
                                 sender_clinic=None if who.admin else who.clinic_id, before_commit=lambda con, batch_id:
                                 con.execute("INSERT INTO api_batches VALUES (?, ?, ?)",
                                             [batch_id, who.token_id, who.clinic_id]).fetchall())
        except ErsattningError as exc:
            raise ApiError(409, "no_master_data", str(exc)) from None
    errs: dict[int, list[RecordError]] = {}
    e = res.errors
    for line, code, field, message in zip(e["line"].to_pylist(), e["code"].to_pylist(), e["field"].to_pylist(),
                                          e["message"].to_pylist()):
        errs.setdefault(line, []).append(RecordError(code=code, field=field, message=message))
    # The key as posted, person numbers hidden (the sender's own text, but never echoed with one).
    kombika, contact_id = (shown(raw[c].combine_chunks(), 200).to_pylist() for c in ("kombika", "contact_id"))
    results = [RecordResult(index=i, kombika=kombika[i], contact_id=contact_id[i], status=str(res.row_status[i]),
                            errors=errs.get(i + 1, [])) for i in range(len(records))]
    return IntakeOut(batch_id=res.batch_id, received_at=received.isoformat(), rows=res.rows, results=results,
                     accepted=res.accepted, rejected=res.rejected, unchanged=res.unchanged)


@api.get("/errors", tags=["intake"], summary="Rejected contacts to fix, with what to do (newest first)")
def get_errors(request: Request, who: Who, batch_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
               clinic_id: Annotated[str | None, Query(max_length=64, description="admin only")] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    st = state(request)
    scope = who.clinic_id if not who.admin else clinic_id
    with st.lock:
        return {"errors": queries.errors_to_fix(st.con, scope, batch_id, limit)}


# --- statements (VF) and reconciliation (AF) ------------------------------------------------------

@api.get("/months", tags=["statements"], summary="Computed months and their status (draft/issued)")
def get_months(request: Request, who: Who):
    st = state(request)
    with st.lock:
        return {"months": queries.months(st.con)}


@api.get("/statements", tags=["statements"], summary="Statements (totals by group); a clinic sees its own")
def get_statements(request: Request, who: Who, month: Annotated[str | None, Query(pattern=MONTH)] = None,
                   clinic_id: Annotated[str | None, Query(max_length=64)] = None):
    st = state(request)
    if not who.admin:
        if clinic_id not in (None, who.clinic_id):
            raise not_found(f"no clinic {clinic_id!r}")
        clinic_id = who.clinic_id
    with st.lock:
        return {"statements": queries.statements(st.con, clinic_id, month)}


@api.get("/statements/{clinic_id}/{month}", tags=["statements"], summary="One clinic's statement: totals, components, lines")
def get_statement(request: Request, who: Who, clinic_id: ClinicId, month: Month):
    st = state(request)
    visible_clinic(st, who, clinic_id)
    with st.lock:
        found = queries.statements(st.con, clinic_id, month)
        if not found:
            raise not_found(f"no statement for {clinic_id} in {month} (run the month first)")
        return {"statement": found[0], "components": queries.by_component(st.con, clinic_id, month),
                "lines": queries.lines(st.con, clinic_id, month)}


@api.get("/lines/{line_id}", tags=["trace"], summary="A statement line's trace: rule values and the rows behind it")
def get_line(request: Request, who: Who, line_id: Annotated[str, PathParam(min_length=1, max_length=300)],
             limit: Annotated[int, Query(ge=1, le=10_000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0):
    st = state(request)
    with st.lock:
        clinic = queries.line_clinic(st.con, line_id)
        if clinic is None or not who.may_see(clinic):
            raise not_found(f"no line {line_id!r}")
        return st.core.trace_line(line_id, limit=limit, offset=offset)


@api.get("/contacts/{kombika}/{contact_id}/trace", tags=["trace"], summary="A contact's path: GVR, ERSMO, HEJ, VF")
def get_contact_trace(request: Request, who: Who, kombika: Annotated[str, PathParam(min_length=1, max_length=64)],
                      contact_id: Annotated[str, PathParam(min_length=1, max_length=200)]):
    st = state(request)
    with st.lock:
        found = visible_trace(st, who, st.core.trace_contact(kombika, contact_id))
        if found is None:
            raise not_found(f"no contact {kombika}:{contact_id}")
        return found


@api.get("/capitation/{clinic_id}/{month}", tags=["follow-up"], summary="Capitation breakdown of a clinic's month")
def get_capitation(request: Request, who: Who, clinic_id: ClinicId, month: Month):
    st = state(request)
    visible_clinic(st, who, clinic_id)
    with st.lock:
        return queries.capitation_breakdown(st.con, clinic_id, month)


@api.get("/acg/{clinic_id}/{month}", tags=["follow-up"], summary="ACG follow-up: the clinic's mean and bands against the region")
def get_acg(request: Request, who: Who, clinic_id: ClinicId, month: Month):
    st = state(request)
    visible_clinic(st, who, clinic_id)
    with st.lock:
        return queries.acg_followup(st.core, clinic_id, month)


# --- the rulebook's parameters and what-if ---------------------------------------------------------

ParamDate = Annotated[dt.date | None, Query(description="YYYY-MM-DD: the values in force that day")]


@api.get("/parameters", tags=["rules"], summary="Every parameter of the rulebook: unit, value in force, number of dated values")
def get_parameters(request: Request, who: Who, at: ParamDate = None):
    from ersattning.rulebook.catalogue import parameter_list

    return {"parameters": parameter_list(_rulebook(request), at)}


@api.get("/parameters/{name}", tags=["rules"], summary="One parameter (or an entry of one): every dated value, unit, source")
def get_parameter(request: Request, who: Who, name: Annotated[str, PathParam(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")],
                  at: ParamDate = None):
    from ersattning.rulebook.catalogue import UnknownParameter, parameter_detail

    try:
        return parameter_detail(_rulebook(request), name, at)
    except UnknownParameter as exc:
        raise not_found(str(exc)) from None


def _rulebook(request: Request):
    """The rulebook the server's core computes with (before any sample scaling): public rules."""
    return state(request).core.chosen


@api.post("/calculate", tags=["rules"], responses=JSON_BODY_ERRORS,
          summary="What-if: price one hypothetical contact or a listed person's month (base rulebook or a reform); nothing stored")
def post_calculate(request: Request, who: Who, body: CaseIn):
    from ersattning.rulebook import apply_reform
    from ersattning.whatif import calculate

    book = _rulebook(request)
    if body.reform is not None:
        book = apply_reform(book, "reform", text=body.reform)
    return calculate(book, body.case(), trace=body.trace)


# --- administrator ---------------------------------------------------------------------------------

@api.get("/admin/totals/{month}", tags=["admin"], summary="Region totals by component")
def get_totals(request: Request, who: Admin, month: Month):
    st = state(request)
    with st.lock:
        comps = queries.by_component(st.con, None, month)
        return {"month": month, "status": queries.month_status(st.con, month), "components": comps,
                "total_ore": sum(c["amount_ore"] for c in comps)}


@api.post("/admin/months/{month}/run", tags=["admin"], summary="Compute a month as a draft, or issue it",
          responses=JSON_BODY_ERRORS)
def post_run(request: Request, who: Admin, month: Month, body: RunIn | None = None):
    st = state(request)
    return run_month(st, who, month, bool(body and body.issue), via="api")


@api.delete("/admin/months/{month}", tags=["admin"], responses={409: {"model": ErrorOut, "description": (
    "`refused`: the month is issued (an issued month is never deleted)")}, 422: {"model": ErrorOut, "description": (
    "`refused`: the month has not been computed")}}, summary="Delete a draft month (its lines, totals and held contacts)")
def delete_draft_month(request: Request, who: Admin, month: Month):
    return delete_month(state(request), who, month, via="api")


@api.post("/admin/inputs", tags=["admin"], summary="Load input files (clinics.csv, persons.csv, …), all or nothing")
def post_inputs(request: Request, who: Admin, files: Annotated[list[UploadFile], File(description="NAME.csv or NAME.parquet")]):
    return load_inputs(state(request), files, who)


@api.get("/jobs", tags=["admin"], summary="The job history: runs and loads, who asked, progress, outcome (newest first)")
def get_jobs(request: Request, who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 50):
    # On the reading connection: a run in progress holds the server's lock, and its progress is
    # what one asks for meanwhile.
    with state(request).reader() as con:
        return {"jobs": [_job_out(j) for j in list_jobs(con, limit)]}


@api.get("/jobs/{job_id}", tags=["admin"], summary="One job: its arguments, progress, outcome and hashes")
def get_one_job(request: Request, who: Admin, job_id: Annotated[int, PathParam(ge=1, le=2**62)]):
    with state(request).reader() as con:
        found = get_job(con, job_id)
    if found is None:
        raise not_found(f"no job {job_id}")
    return _job_out(found)


def _job_out(row: dict) -> dict:
    out = {k: queries._plain(v) for k, v in row.items()}
    out["args"] = json.loads(row["args"]) if row["args"] else {}
    return out


@api.get("/admin/tokens", tags=["admin"], summary="API tokens: id, role, clinic, created and revoked (never the secret)")
def get_tokens(request: Request, who: Admin):
    st = state(request)
    with st.lock:
        return {"tokens": [{k: queries._plain(v) for k, v in t.items()} for t in list_tokens(st.con)]}


@api.post("/admin/tokens/{token_id}/revoke", tags=["admin"], summary="Revoke a token: it signs nobody in from now on")
def post_revoke_token(request: Request, who: Admin, token_id: Annotated[str, PathParam(max_length=64)]):
    st = state(request)
    with st.lock:
        try:
            row = revoke_token(st.con, token_id, revoked_by=f"token:{who.token_id}")
        except InputError:
            raise not_found(f"no token {token_id!r}") from None
    return {k: queries._plain(v) for k, v in row.items()}


@api.get("/admin/manual-lines", tags=["admin"], summary="Manual lines (VF's supplementary invoicing)")
def get_manual_lines(request: Request, who: Admin, month: Annotated[str | None, Query(pattern=MONTH)] = None,
                     clinic_id: Annotated[str | None, Query(max_length=64)] = None):
    st = state(request)
    with st.lock:
        table = st.core.manual_lines(clinic_id=clinic_id, month=month)
    return {"manual_lines": [{k: queries._plain(v) for k, v in r.items()} for r in table.to_pylist()]}


@api.post("/admin/manual-lines", tags=["admin"], summary="Add a manual line (collaboration, geographic coordination, a decided penalty, …)",
          responses=JSON_BODY_ERRORS)
def post_manual_line(request: Request, who: Admin, body: ManualLineIn):
    return add_manual_line(state(request), who, body.model_dump())


