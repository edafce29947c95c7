"""The web app (server-rendered, Swedish labels): sign in with a token; a clinic's statement with
a chart, drill-down line → rows → contact trace, rejected contacts, ACG follow-up; the
administrator's load, run, issue, region totals and manual lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ersattning.api import charts, queries
from ersattning.api.app import (
    COOKIE, MONTH, ApiError, Principal, State, add_manual_line, load_inputs, may_see_contact, not_found,
    principal_or_none, run_month, state, visible_clinic,
)
from ersattning.money import sek_text
from ersattning.statements import COMPONENT_LABELS_SV
from ersattning.trace import trace_contact, trace_line

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["sek"] = lambda ore: "" if ore is None else sek_text(ore)
templates.env.filters["q"] = lambda s: quote(str(s), safe="")
templates.env.filters["komp"] = lambda c: COMPONENT_LABELS_SV.get(c, c)

GROUP_LABELS = {"fixed": "Fast ersättning", "variable": "Rörlig ersättning", "goal": "Målrelaterad ersättning",
                "adjustment": "Justeringar", "total": "Totalt"}
STATUS_LABELS = {"draft": "utkast", "issued": "fastställd", None: "ej beräknad", "accepted": "godkänd",
                 "rejected": "avvisad", "cancelled": "makulerad", "unchanged": "oförändrad"}
templates.env.globals.update(GROUP_LABELS=GROUP_LABELS, STATUS_LABELS=STATUS_LABELS)

web = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, who: Principal | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"who": who, **context}, status_code=status_code)


def html_error(request: Request, status: int, message: str) -> HTMLResponse:
    return _render(request, "error.html", principal_or_none(request), status_code=status, status=status, message=message)


def _signed_in(request: Request) -> Principal | None:
    return principal_or_none(request)


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


@web.post("/logga-in", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form(max_length=300)]):
    from ersattning.api.tokens import lookup

    st = state(request)
    with st.lock:
        who = lookup(st.con, token.strip())
    if who is None:
        return _render(request, "login.html", None, status_code=401, message="Okänd nyckel: kontrollera och försök igen.")
    response = RedirectResponse("/admin" if who.admin else "/manad", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=8 * 3600)
    return response


@web.post("/logga-ut")
def logout():
    response = _to_login()
    response.delete_cookie(COOKIE)
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
    chart = charts.components_chart(comps, f"{info['name']} {month}: ersättning per komponent") if comps else ""
    return _render(request, "statement.html", who, clinic=info, month=month, months=_months(st), statement=statement,
                   components=comps, lines=lines, chart=chart)


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
        found = trace_line(st.engine, st.book, line_id, limit=100, offset=100 * sida)
    return _render(request, "line.html", who, t=found, page=sida)


@web.get("/kontakt/{kombika}/{contact_id:path}", response_class=HTMLResponse)
def contact_page(request: Request, kombika: str, contact_id: str):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    with st.lock:
        found = trace_contact(st.engine, st.book, kombika, contact_id)
        if found is None or not may_see_contact(st, who, found):
            raise not_found(f"ingen kontakt {kombika}:{contact_id}")
    return _render(request, "contact.html", who, t=found)


@web.get("/fel", response_class=HTMLResponse)
def errors_page(request: Request, klinik: Annotated[str | None, Query(max_length=64)] = None):
    who = _signed_in(request)
    if who is None:
        return _to_login()
    st = state(request)
    scope = klinik if who.admin else who.clinic_id
    with st.lock:
        errors = queries.errors_to_fix(st.con, scope, None, 1000)
    return _render(request, "errors.html", who, errors=errors, clinic_id=scope)


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
        follow = queries.acg_followup(st.con, info["clinic_id"], month)
    return _render(request, "acg.html", who, clinic=info, month=month, months=_months(st), f=follow,
                   chart=charts.acg_chart(follow["bands"]))


# --- administrator ---------------------------------------------------------------------------------

def _admin(request: Request) -> Principal | RedirectResponse:
    who = _signed_in(request)
    if who is None:
        return _to_login()
    if not who.admin:
        raise ApiError(403, "forbidden", "sidan kräver en administratörsnyckel")
    return who


@web.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, month: Annotated[str | None, Query(pattern=MONTH)] = None, message: str | None = None):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    st = state(request)
    month = _pick_month(st, month)
    with st.lock:
        comps = queries.by_component(st.con, None, month) if month else []
        statements = queries.statements(st.con, None, month) if month else []
        clinics = queries.clinics(st.con)
        status = queries.month_status(st.con, month) if month else None
        manual = _manual(st, month)
    chart = charts.components_chart(comps, f"Regionen {month}: ersättning per komponent") if comps else ""
    return _render(request, "admin.html", who, month=month, months=_months(st), components=comps,
                   total=sum(c["amount_ore"] for c in comps), statements=statements, clinics=clinics, status=status,
                   chart=chart, message=message, manual=manual)


def _manual(st: State, month: str | None) -> list[dict] | None:
    from ersattning import store

    if not hasattr(store, "manual_lines") or month is None:
        return None
    return [{k: queries._plain(v) for k, v in r.items()} for r in store.manual_lines(st.engine, month=month).to_pylist()]


@web.post("/admin/korning")
def admin_run(request: Request, month: Annotated[str, Form(pattern=MONTH)], action: Annotated[str, Form(max_length=20)]):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    out = run_month(state(request), who, month, issue=(action == "issue"))
    text = f"{month}: {STATUS_LABELS.get(out['status'], out['status'])}" + ("" if out["changed"] else " (oförändrad)")
    return RedirectResponse(f"/admin?month={month}&message={quote(text)}", status_code=303)


@web.post("/admin/inlasning")
def admin_load(request: Request, files: Annotated[list[UploadFile], File()]):
    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    out = load_inputs(state(request), files)
    if not isinstance(out, dict):
        return html_error(request, 422, "Indatafilerna har fel; inget lästes in. Kör `ersattning load` för en fellista.")
    text = "Inläst: " + ", ".join(f"{k} {v}" for k, v in out["loaded"].items())
    return RedirectResponse(f"/admin?message={quote(text)}", status_code=303)


@web.post("/admin/manuell-rad")
def admin_manual(request: Request, clinic_id: Annotated[str, Form(max_length=64)], month: Annotated[str, Form(pattern=MONTH)],
                 kind: Annotated[str, Form(max_length=40)], amount_sek: Annotated[str, Form(max_length=30)],
                 reason: Annotated[str, Form(max_length=500)], reference: Annotated[str, Form(max_length=200)] = ""):
    from decimal import Decimal, InvalidOperation

    from ersattning.money import to_ore

    who = _admin(request)
    if isinstance(who, RedirectResponse):
        return who
    try:
        amount = to_ore(Decimal(amount_sek.replace(" ", "").replace(",", ".")))
    except (InvalidOperation, ValueError):
        raise ApiError(422, "bad_amount", "beloppet ska vara kronor, t.ex. 12500 eller -300,50") from None
    add_manual_line(state(request), who, {"clinic_id": clinic_id, "month": month, "kind": kind, "amount_ore": amount,
                                          "reason": reason, "reference": reference})
    return RedirectResponse(f"/admin?month={month}&message={quote('Manuell rad tillagd')}", status_code=303)
