"""The web app (server-rendered, Swedish labels): sign in with a token; a clinic's statement with
a chart, drill-down line → rows → contact trace, rejected contacts, ACG follow-up; the
administrator's load, run, issue, region totals and manual lines.

Signing in starts a server-side session (web_sessions): the cookie holds its random id, never the
token. Every POST must come from this site (Origin, else Referer) and carry the session's CSRF
secret in the form field `csrf`."""

from __future__ import annotations

import hmac
import json
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ersattning.api import charts, format, persons, queries, svenska
from ersattning.api.colours import COMPONENT_COLOURS
from ersattning.api.service import (
    MONTH, ApiError, State, add_manual_line, delete_month, load_inputs, not_found, pending_fixes, start_run, state,
    visible_clinic, visible_trace,
)
from ersattning.api.tokens import (
    Principal, Session, end_session, find_session, list_tokens, lookup, revoke_token, set_flash, start_session,
)
from ersattning.errors import InputError
from ersattning.jobs import list_jobs
from ersattning.money import sek_text
from ersattning.statements import COMPONENT_LABELS_SV, MANUAL_COMPONENTS
from ersattning.store import MAX_MANUAL_ORE


SESSION_COOKIE = "ersattning_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
format.install(templates.env)
svenska.install(templates.env)
templates.env.filters["sek"] = lambda ore: format.kronor(ore, unit=False)
templates.env.filters["q"] = lambda s: quote(str(s), safe="")
templates.env.filters["komp"] = lambda c: COMPONENT_LABELS_SV.get(c, c)

GROUP_LABELS = {"fixed": "Fast ersättning", "variable": "Rörlig ersättning", "goal": "Målrelaterad ersättning",
                "adjustment": "Justeringar", "total": "Totalt"}
STATUS_LABELS = svenska.STATUS_LABELS
templates.env.globals.update(GROUP_LABELS=GROUP_LABELS, STATUS_LABELS=STATUS_LABELS, MANUAL_KINDS=MANUAL_COMPONENTS)



def web_session(request: Request) -> Session | None:
    """The live session of the request's cookie (looked up once per request), or None."""
    if not hasattr(request.state, "web_session"):
        st = state(request)
        with st.reader() as con:  # not st.lock: the jobs page shows a run's progress while it holds that
            request.state.web_session = find_session(con, request.cookies.get(SESSION_COOKIE))
    return request.state.web_session


def _own_origin(request: Request) -> str:
    # The scheme as uvicorn sees it (X-Forwarded-Proto only from the proxies it trusts), the Host sent.
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def same_origin(request: Request) -> bool:
    """The request comes from a page of this server: its Origin, or its Referer when a browser sent
    no Origin, is this server's origin. Neither header: refused (every browser sends one on a POST)."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower() == _own_origin(request)


async def guard(request: Request) -> None:
    """Every state-changing request to the web app: from this site, and (signed in) with the session's
    CSRF secret. Without a session the route only sends the browser to the sign-in page."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise ApiError(403, "forbidden", "Begäran kom inte från den här webbplatsen och avvisades.")
    session = web_session(request)
    if session is None or request.url.path == "/logga-in":
        return
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise ApiError(403, "forbidden", "Formuläret saknar en giltig säkerhetskod: ladda om sidan och försök igen.")


web = APIRouter(include_in_schema=False, dependencies=[Depends(guard)])


def _render(request: Request, name: str, who: Principal | None, status_code: int = 200, **context) -> HTMLResponse:
    session = web_session(request)
    return templates.TemplateResponse(request, name, {"who": who, "csrf": session.csrf if session else "", **context},
                                      status_code=status_code)


def html_error(request: Request, status: int, message: str) -> HTMLResponse:
    return _render(request, "error.html", _signed_in(request), status_code=status, status=status,
                   message=svenska.page_error(message))


def _signed_in(request: Request) -> Principal | None:
    session = web_session(request)
    return session.principal if session else None


def _to_login() -> RedirectResponse:
    return RedirectResponse("/logga-in", status_code=303)


def _months(st: State) -> list[dict]:
    with st.lock:
        return queries.months(st.con)


def _pick_month(st: State, month: str | None) -> str | None:
    if month:
        return month
    found = _months(st)
    return found[0]["month"] if found else None


def _clinic_for(st: State, who: Principal, klinik: str | None) -> str:
    if who.admin:
        if not klinik:
            raise ApiError(404, "not_found", "välj en mottagning på administratörssidan")
        return visible_clinic(st, who, klinik)
    return visible_clinic(st, who, klinik or who.clinic_id)


@web.get("/", response_class=HTMLResponse)
def home(request: Request):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    return RedirectResponse("/admin" if who.admin else "/manad", status_code=303)


@web.get("/logga-in", response_class=HTMLResponse)
def login_page(request: Request):
    return _render(request, "login.html", None, message=None)


def _cookie_flags(request: Request) -> dict:
    # Secure when the browser reached us over HTTPS (directly, or through a proxy uvicorn trusts).
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https", "path": "/"}


@web.post("/logga-in", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form(max_length=300)]):
    st = state(request)
    with st.lock:
        who = lookup(st.con, token.strip())
        if who is not None:
            old = web_session(request)
            if old is not None:  # a new id at every sign-in: a planted cookie never becomes a session
                end_session(st.con, old.key)
            session_id, _ = start_session(st.con, who, st.session_hours)
    if who is None:
        return _render(request, "login.html", None, status_code=401, message="Okänd nyckel: kontrollera och försök igen.")
    response = RedirectResponse("/admin" if who.admin else "/manad", status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(st.session_hours * 3600), **_cookie_flags(request))
    return response


@web.post("/logga-ut")
def logout(request: Request):
    session = web_session(request)
    if session is not None:
        st = state(request)
        with st.lock:
            end_session(st.con, session.key)
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    return response


def _clinic_page(request: Request, month: str | None, klinik: str | None):
    """A clinic page's common start: the signed-in principal (or the sign-in redirect), the
    state, the clinic shown (its own, or the one an administrator picked) and the month."""
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    clinic = _clinic_for(st, who, klinik)
    month = _pick_month(st, month)
    with st.lock:
        info = queries.clinics(st.con, clinic)[0]
    return who, st, info, month


@web.get("/manad", response_class=HTMLResponse)
def statement_page(request: Request, month: Annotated[str | None, Query(pattern=MONTH)] = None,
                   klinik: Annotated[str | None, Query(max_length=64)] = None):
    page = _clinic_page(request, month, klinik)
    if isinstance(page, RedirectResponse):
        return page
    who, st, info, month = page
    clinic = info["clinic_id"]
    with st.lock:
        statement = (queries.statements(st.con, clinic, month) or [None])[0] if month else None
        comps = queries.by_component(st.con, clinic, month) if month else []
        lines = queries.lines(st.con, clinic, month) if month else []
        why = _why(st, clinic, month) if statement else {}
    chart = charts.components_chart(comps, f"{info['name']} {month}: ersättning per komponent") if comps else ""
    return _render(request, "statement.html", who, clinic=info, month=month, months=_months(st), statement=statement,
                   components=comps, lines=lines, chart=chart, **why)


def _why(st: State, clinic: str, month: str) -> dict:
    """"Varför fick vi det här?": the month against the previous one and last year's, the
    twelve months' trend, what each adjustment line corrects and the money waiting for fixes."""
    trend = queries.trend(st.con, clinic, month)
    return {"comparison": queries.month_comparison(st.con, clinic, month),
            "trend_chart": charts.trend_chart(trend, f"{clinic}: ersättning per månad, tolv månader till {month}"),
            "adjustments": queries.adjustment_lines(st.con, clinic, month),
            "pending": pending_fixes(st, clinic, month)}


@web.get("/rad/{line_id:path}", response_class=HTMLResponse)
def line_page(request: Request, line_id: str, sida: Annotated[int, Query(ge=0, le=10**6)] = 0):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    with st.lock:
        clinic = queries.line_clinic(st.con, line_id)
        if clinic is None or not who.may_see(clinic):
            raise not_found(f"ingen rad {line_id}")
        found = persons.show_trace_persons(st.con, who, st.core.trace_line(line_id, limit=100, offset=100 * sida,
                                                                              keep_ids=True))
    return _render(request, "line.html", who, t=found, page=sida)


@web.get("/kontakt/{kombika}/{contact_id:path}", response_class=HTMLResponse)
def contact_page(request: Request, kombika: str, contact_id: str):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    with st.lock:
        found = visible_trace(st, who, st.core.trace_contact(kombika, contact_id, keep_ids=True))
        if found is None:
            raise not_found(f"ingen kontakt {kombika}:{contact_id}")
        persons.show_trace_persons(st.con, who, found)
    return _render(request, "contact.html", who, t=found)


CODE = r"^[a-z0-9_]{1,64}$"


@web.get("/fel", response_class=HTMLResponse)
def errors_page(request: Request, klinik: Annotated[str | None, Query(max_length=64)] = None,
                month: Annotated[str | None, Query(pattern=MONTH)] = None,
                kod: Annotated[str | None, Query(pattern=CODE)] = None):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    scope = klinik if who.admin else who.clinic_id
    with st.lock:
        errors = queries.errors_to_fix(st.con, scope, None, 1000)
        pending = pending_fixes(st, scope, month or None, kod or None)
    return _render(request, "errors.html", who, errors=errors, clinic_id=scope, pending=pending, month=month, code=kod)


#: /fel as CSV for Swedish Excel: one row per contact (its latest attempt), what it would pay.
PENDING_CSV_COLUMNS = {"kind": "Typ", "month": "Månad", "kombika": "Kombika", "contact_id": "Kontakt",
                       "codes": "Felkoder", "fields": "Fält", "messages": "Meddelande", "fixed": "Rättad",
                       "priceable": "Kan prissättas", "amount_ore": "Ersättning om rättad (kr)", "reason": "Varför inte"}


@web.get("/fel/ladda-ned")
def errors_download(request: Request, klinik: Annotated[str | None, Query(max_length=64)] = None,
                    month: Annotated[str | None, Query(pattern=MONTH)] = None,
                    kod: Annotated[str | None, Query(pattern=CODE)] = None):
    import pyarrow as pa
    from fastapi.responses import Response

    from ersattning.export.csv import swedish_csv

    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    scope = klinik if who.admin else who.clinic_id
    with st.lock:
        found = pending_fixes(st, scope, month or None, kod or None)["contacts"]
    kinds = {"rejected": "avvisad", "held": "vilande"}
    table = pa.table({
        "kind": pa.array([kinds[c["kind"]] for c in found], pa.string()),
        **{k: pa.array([c[k] for c in found], pa.string()) for k in ("month", "kombika", "contact_id", "reason")},
        **{k: pa.array([", ".join(str(x) for x in c[k] if x) for c in found], pa.string()) for k in ("codes", "fields", "messages")},
        "fixed": pa.array([c["fixed"] for c in found], pa.bool_()),
        "priceable": pa.array([c["priceable"] for c in found], pa.bool_()),
        "amount_ore": pa.array([c["amount_ore"] for c in found], pa.int64()),
    })
    name = re.sub(r"[^A-Za-z0-9_-]", "", f"fel_{scope or 'alla'}{'_' + month if month else ''}{'_' + kod if kod else ''}") + ".csv"
    return Response(swedish_csv(table, PENDING_CSV_COLUMNS), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@web.get("/acg", response_class=HTMLResponse)
def acg_page(request: Request, month: Annotated[str | None, Query(pattern=MONTH)] = None,
             klinik: Annotated[str | None, Query(max_length=64)] = None):
    page = _clinic_page(request, month, klinik)
    if isinstance(page, RedirectResponse):
        return page
    who, st, info, month = page
    if month is None:
        raise not_found("ingen beräknad månad ännu")
    with st.lock:
        follow = queries.acg_followup(st.core, info["clinic_id"], month)
    return _render(request, "acg.html", who, clinic=info, month=month, months=_months(st), f=follow,
                   chart=charts.acg_chart(follow["bands"]))


# --- administrator ---------------------------------------------------------------------------------

JOB_STATUS_SV = {"running": "pågår", "done": "klart", "failed": "misslyckades"}
JOB_KIND_SV = {"run": "beräkning", "load": "inläsning", "year": "helår", "delete": "borttaget utkast"}
JOB_VIA_SV = {"cli": "kommandorad", "api": "API", "web": "webb", "cli→server": "kommandorad via servern"}
templates.env.globals.update(JOB_STATUS_SV=JOB_STATUS_SV, JOB_KIND_SV=JOB_KIND_SV, JOB_VIA_SV=JOB_VIA_SV)

def _admin(request: Request) -> Principal | RedirectResponse:
    who = _signed_in(request)
    if who is None:
        return _to_login()
    if not who.admin:
        raise ApiError(403, "forbidden", "sidan kräver en administratörsnyckel")
    return who


@web.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request):
    """The job history; reloads itself every few seconds while a job runs. Read on the server's
    reading connection, so it shows a run's progress while that run holds the server's lock."""
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    with state(request).reader() as con:
        jobs = list_jobs(con, 100)
    for j in jobs:
        j["args_text"] = svenska.job_args(json.loads(j["args"] or "{}"))
    running = any(j["status"] == "running" for j in jobs)
    return _render(request, "jobs.html", who, jobs=jobs, running=running, message=_take_flash(request))


@web.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, month: Annotated[str | None, Query(pattern=MONTH)] = None):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    return _admin_view(request, who, month, message=_take_flash(request))


STATUS_MONTHS = 6  # the clinic table's status columns: the latest computed months


def _admin_view(request: Request, who: Principal, month: str | None, message: str | None = None,
                error: str | None = None, status_code: int = 200, **extra) -> HTMLResponse:
    st = state(request)
    month = _pick_month(st, month)
    with st.lock:
        comps = queries.by_component(st.con, None, month) if month else []
        every = queries.statements(st.con)
        clinics = queries.clinics(st.con)
        status = queries.month_status(st.con, month) if month else None
        manual = _manual(st, month)
        tokens = list_tokens(st.con)
    months = _months(st)
    shown = [m["month"] for m in months[:STATUS_MONTHS]]
    # Status per clinic and month: the month's status where the clinic has a statement in it.
    status_of = {(s["clinic_id"], s["month"]): s["status"] for s in every}
    amounts = {s["clinic_id"]: s for s in every if s["month"] == month}
    table = [{**c, "statement": amounts.get(c["clinic_id"]),
              "statuses": [status_of.get((c["clinic_id"], m)) for m in shown]} for c in clinics]
    chart = charts.components_chart(comps, f"Regionen {month}: ersättning per komponent") if comps else ""
    return _render(request, "admin.html", who, status_code=status_code, month=month, months=months,
                   components=comps, total=sum(c["amount_ore"] for c in comps), clinics=clinics,
                   clinic_table=table, status_months=shown, status=status, chart=chart, message=message, error=error,
                   manual=manual, tokens=tokens, colours=COMPONENT_COLOURS, **extra)


def _flash(request: Request, text: str) -> None:
    """A message for the session's next page: only text the server wrote, never one from a URL."""
    st = state(request)
    with st.lock:
        set_flash(st.con, web_session(request).key, text)


def _take_flash(request: Request) -> str | None:
    session = web_session(request)
    if session is None or session.flash is None:
        return None
    st = state(request)
    with st.lock:
        set_flash(st.con, session.key, None)
    return session.flash


def _manual(st: State, month: str | None) -> list[dict] | None:
    from ersattning import store

    if not hasattr(store, "manual_lines") or month is None:
        return None
    return [{k: queries._plain(v) for k, v in r.items()} for r in st.core.manual_lines(month=month).to_pylist()]


@web.post("/admin/korning")
def admin_run(request: Request, month: Annotated[str, Form(pattern=MONTH)], action: Annotated[str, Form(max_length=20)]):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    issue = action == "issue"
    try:
        start_run(state(request), who, month, issue=issue, via="web")
    except ApiError as exc:
        return _admin_view(request, who, None, error=f"{month} kan inte beräknas: {_refusal_sv(exc.message)}",
                           status_code=exc.status)
    _flash(request, f"{month}: {'fastställs' if issue else 'utkast beräknas'} som ett jobb; förloppet syns nedan.")
    return RedirectResponse("/jobs", status_code=303)


_REFUSALS_SV = ((re.compile(r"^(\S+) is after the current month \((\S+)\).*"),
                 r"\1 ligger efter innevarande månad (\2): en månad kan beräknas först från sin första dag."),
                (re.compile(r"^(\S+) is before the rulebook's first date \((\S+)\).*"),
                 r"\1 ligger före regelbokens första datum (\2): det finns inga regler att räkna med."),
                (re.compile(r"^(\S+) is issued: an issued month is never deleted.*"),
                 r"\1 är fastställd: en fastställd månad tas aldrig bort (rättelser kommer på en senare månad)."),
                (re.compile(r"^(\S+) has not been computed.*"), r"\1 är inte beräknad: det finns inget att ta bort."))


def _refusal_sv(message: str) -> str:
    """The store's refusal in Swedish where it is one the administrator meets here."""
    for pattern, text in _REFUSALS_SV:
        if pattern.match(message):
            return pattern.sub(text, message)
    return message


@web.post("/admin/ta-bort-manad")
def admin_delete_month(request: Request, month: Annotated[str, Form(pattern=MONTH)],
                       confirm: Annotated[str, Form(max_length=10)] = ""):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    if confirm != "ja":
        return _admin_view(request, who, month, error="Kryssa i att utkastet ska tas bort.", status_code=422)
    try:
        out = delete_month(state(request), who, month, via="web")
    except ApiError as exc:
        return _admin_view(request, who, None, error=f"Borttagningen avvisades: {_refusal_sv(exc.message)}",
                           status_code=exc.status)
    _flash(request, f"Utkastet {month} är borttaget ({out['deleted_lines']} rader).")
    return RedirectResponse("/admin", status_code=303)


@web.post("/admin/nycklar/{token_id}/sparra")
def admin_revoke(request: Request, token_id: str):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    st = state(request)
    with st.lock:
        try:
            revoke_token(st.con, token_id[:64], revoked_by=f"token:{who.token_id}")
        except InputError:
            raise not_found(f"ingen nyckel {token_id}") from None
    _flash(request, f"Nyckeln {token_id} är spärrad: den loggar inte in någon längre.")
    return RedirectResponse("/admin#nycklar", status_code=303)


@web.post("/admin/inlasning")
def admin_load(request: Request, files: Annotated[list[UploadFile], File()]):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    try:
        out = load_inputs(state(request), files, who, via="web", problem_limit=MAX_PROBLEMS_SHOWN)
    except ApiError as exc:
        return _admin_view(request, who, None, error=f"Filerna lästes inte in: {exc.message}", status_code=exc.status)
    if not isinstance(out, dict):  # refused inputs: every problem in the page, nothing was loaded
        found = json.loads(out.body)["error"]
        return _admin_view(request, who, None, status_code=422, problems=found["problems"], problem_count=found["count"],
                           error=f"Indatafilerna har {found['count']} fel; inget lästes in. Rätta felen nedan och läs in igen.")
    _flash(request, "Inläst: " + ", ".join(f"{k} {v}" for k, v in out["loaded"].items()))
    return RedirectResponse("/admin", status_code=303)


# Kronor as people write them: 12500, -300,50, 1 250 000.00 (space, no-break or narrow no-break
# space between thousands); at most two decimals; no exponent, inf or nan; ASCII digits only.
_SEK = re.compile(r"[+-]?(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)(?:[.,][0-9]{1,2})?")
_AMOUNT_HELP = "beloppet ska vara kronor med högst två decimaler, t.ex. 12500, -300,50 eller 1 250 000"


def parse_sek(text: str) -> int:
    """A form's amount in kronor as öre, exactly; ValueError (with a Swedish message) if it is not one."""
    text = text.strip()
    if not _SEK.fullmatch(text):
        raise ValueError(f"Ogiltigt belopp: {_AMOUNT_HELP}.")
    sign = -1 if text.startswith("-") else 1
    whole, _, decimals = re.sub(r"[ \u00a0\u202f+-]", "", text).replace(",", ".").partition(".")
    ore = sign * (int(whole) * 100 + int(decimals.ljust(2, "0")))
    if abs(ore) > MAX_MANUAL_ORE:
        raise ValueError(f"Beloppet är för stort: högst {sek_text(MAX_MANUAL_ORE)} kronor åt något håll.")
    return ore


MAX_PROBLEMS_SHOWN = 10_000  # a page stays usable; the count says how many there are in all

_MANUAL_ERRORS_SV = {"bad_kind": "Okänt slag av manuell rad.", "not_found": "Okänd mottagning."}


@web.post("/admin/manuell-rad")
def admin_manual(request: Request, clinic_id: Annotated[str, Form(max_length=64)], month: Annotated[str, Form(pattern=MONTH)],
                 kind: Annotated[str, Form(max_length=40)], reason: Annotated[str, Form(max_length=500)],
                 amount_sek: Annotated[str, Form(max_length=60)] = "", reference: Annotated[str, Form(max_length=200)] = "",
                 duplicate_ok: Annotated[str, Form(max_length=10)] = ""):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    try:
        amount = parse_sek(amount_sek)
    except ValueError as exc:
        return _admin_view(request, who, month, error=str(exc), status_code=422)
    fields = {"clinic_id": clinic_id, "month": month, "kind": kind, "amount_ore": amount, "reason": reason,
              "reference": reference}
    if duplicate_ok != "ja":
        st = state(request)
        with st.lock:
            same = [m for m in st.core.manual_lines(clinic_id=clinic_id, month=month).to_pylist()
                    if (m["kind"], m["amount_ore"], m["reason"], m["reference"] or "") == (kind, amount, reason, reference)]
        if same:  # an exact duplicate is most often a form sent twice: ask before paying it twice
            return _admin_view(request, who, month, status_code=409, duplicate={**fields, "amount_sek": amount_sek,
                                                                               "existing": same[0]["manual_id"]})
    try:
        add_manual_line(state(request), who, fields)
    except ApiError as exc:
        text = _MANUAL_ERRORS_SV.get(exc.code, f"Raden avvisades: {exc.message}")
        return _admin_view(request, who, month, error=text, status_code=exc.status)
    _flash(request, "Manuell rad tillagd")
    return RedirectResponse(f"/admin?month={month}", status_code=303)
