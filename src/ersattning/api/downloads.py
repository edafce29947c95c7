"""Downloads of a clinic's month (lines as CSV for Swedish Excel, the XLSX workbook, the PDF
månadsbesked, the e-invoice XML) and the administrator's ZIP of a whole month, for the API (a
bearer token) and the web app (its session): the same files through both."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Request
from fastapi.responses import RedirectResponse, Response

from ersattning.api.service import MONTH, ApiError, State, admin, not_found, principal, state, visible_clinic
from ersattning.api.tokens import Principal
from ersattning.api.web import web_session
from ersattning.export import ExportError, ExportResult, load_month, write_month, write_ubl
from ersattning.export.csv import swedish_lines_csv
from ersattning.export.pdf import month_statement_pdf
from ersattning.export.xlsx import write_month_xlsx
from ersattning.statements import component_groups, component_labels
from ersattning.store import stored_rulebook

KINDS = ("csv", "xlsx", "pdf", "xml")
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf", "xml": "application/xml", "zip": "application/zip"}
Kind = Literal["csv", "xlsx", "pdf", "xml"]
Month = Annotated[str, PathParam(pattern=MONTH, description="YYYY-MM")]
ClinicId = Annotated[str, PathParam(min_length=1, max_length=64)]

FILES = {200: {"description": "the file, as an attachment", "content": {m: {} for m in MEDIA.values()}}}

downloads = APIRouter()


def _attachment(body: bytes, kind: str, name: str) -> Response:
    return Response(body, media_type=MEDIA[kind], headers={"content-disposition": f'attachment; filename="{name}"',
                                                            "cache-control": "no-store"})


def clinic_file(st: State, clinic_id: str, month: str, kind: str) -> tuple[bytes, str]:
    """One clinic's month as `kind` (csv, xlsx, pdf, xml): the bytes and the file's name."""
    with st.lock:
        try:
            data = load_month(st.con, month, clinic_id)
        except ExportError:
            raise not_found(f"no statement for {clinic_id} in {month} (run the month first)") from None
        book = stored_rulebook(st.con, month)
    labels, groups = component_labels(book), component_groups(book)
    if kind == "csv":
        return swedish_lines_csv(data, labels), f"rader_{clinic_id}_{month}{'_UTKAST' if data.is_draft else ''}.csv"
    if kind == "pdf":
        return (month_statement_pdf(data, clinic_id, labels, groups),
                f"manadsbesked_{clinic_id}_{month}{'_UTKAST' if data.is_draft else ''}.pdf")
    with tempfile.TemporaryDirectory(prefix="ersattning-download-") as folder:
        try:
            if kind == "xlsx":
                path = write_month_xlsx(data, Path(folder), clinic_id, book=book)
            else:
                # A draft's e-invoice says UTKAST in its note and name: never one to send.
                result = ExportResult(draft=data.is_draft)
                write_ubl(data, Path(folder), result, strict=True)
                if not result.files:
                    raise ApiError(409, "nothing_to_invoice", f"{clinic_id} has no lines in {month}: nothing to invoice")
                path = result.files[0]
        except ExportError as exc:
            raise ApiError(409, "refused", str(exc)) from None
        return path.read_bytes(), path.name


def month_zip(st: State, month: str) -> tuple[bytes, str]:
    """The whole month: the contract CSVs, the workbook, every clinic's e-invoice and PDF, and a
    list of the clinics that could not be invoiced (and why)."""
    sink = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="ersattning-zip-") as folder:
        out = Path(folder)
        with st.lock:
            try:
                data = load_month(st.con, month)
            except ExportError as exc:
                raise not_found(str(exc)) from None
            book = stored_rulebook(st.con, month)
            write_month(st.con, month, "csv", out)
            write_month(st.con, month, "xlsx", out)
            invoices = write_month(st.con, month, "ubl", out / "e-fakturor", draft=True)
        labels, groups = component_labels(book), component_groups(book)
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(out).as_posix())
            for clinic_id in data.statements["clinic_id"].to_pylist():
                zf.writestr(f"manadsbesked/manadsbesked_{clinic_id}_{month}.pdf",
                            month_statement_pdf(data, clinic_id, labels, groups))
            notes = [f"{cid}: ej fakturerad: {why}" for cid, why in {**invoices.refused, **invoices.skipped}.items()]
            status = "UTKAST: månaden är inte fastställd; e-fakturorna får inte skickas" if data.is_draft else "fastställd"
            zf.writestr("LASMIG.txt", "\n".join([f"Månad {month}: {status}", *notes]) + "\n")
    return sink.getvalue(), f"ersattning_{month}{'_UTKAST' if data.is_draft else ''}.zip"


# --- the API -------------------------------------------------------------------------------------

_SUMMARIES = {"csv": "the month's lines as CSV for Swedish Excel (UTF-8 with BOM, semicolons, decimal commas)",
              "xlsx": "the month's statement as an Excel workbook", "pdf": "the PDF månadsbesked (summary and lines)",
              "xml": "the e-invoice (PEPPOL BIS Billing 3.0 UBL); a draft month's is marked UTKAST"}


@downloads.get("/api/v1/statements/{clinic_id}/{month}/download/{kind}", tags=["statements"], responses={
    **FILES, 409: {"description": "`refused`: no e-invoice can be written (e.g. no org number)"}},
    summary="Download one clinic's month: csv, xlsx, pdf (månadsbesked) or xml (e-invoice)",
    description="; ".join(f"`{k}`: {v}" for k, v in _SUMMARIES.items()), response_class=Response)
def api_clinic_file(request: Request, who: Annotated[Principal, Depends(principal)], clinic_id: ClinicId, month: Month,
                    kind: Kind):
    st = state(request)
    visible_clinic(st, who, clinic_id)
    body, name = clinic_file(st, clinic_id, month, kind)
    return _attachment(body, kind, name)


@downloads.get("/api/v1/admin/months/{month}/export.zip", tags=["admin"], responses=FILES, response_class=Response,
               summary="The whole month as one ZIP: statement_lines.csv, statements.csv, the workbook, "
                       "every clinic's e-invoice and PDF månadsbesked")
def api_month_zip(request: Request, who: Annotated[Principal, Depends(admin)], month: Month):
    body, name = month_zip(state(request), month)
    return _attachment(body, "zip", name)


# --- the web app (the session's principal) -------------------------------------------------------

def _web_principal(request: Request) -> Principal | None:
    session = web_session(request)
    return session.principal if session else None


def _in_swedish(exc: ApiError, clinic_id: str, month: str) -> ApiError:
    """The refusal as the web page says it (the API's stays English, like all its messages)."""
    if exc.status == 404:
        return ApiError(404, exc.code, f"Ingen beräknad ersättning för {clinic_id} {month}.")
    if "org_number" in exc.message:
        return ApiError(exc.status, exc.code, f"E-fakturan kan inte skrivas: {clinic_id} saknar organisationsnummer "
                                              "i mottagningsregistret (clinics.csv).")
    if exc.code == "nothing_to_invoice":
        return ApiError(exc.status, exc.code, f"{clinic_id} har inga rader {month}: det finns inget att fakturera.")
    return exc


@downloads.get("/ladda-ned/{clinic_id}/{month}/{kind}", include_in_schema=False)
def web_clinic_file(request: Request, clinic_id: ClinicId, month: Month, kind: Kind):
    who = _web_principal(request)
    if who is None:
        return RedirectResponse("/logga-in", status_code=303)
    st = state(request)
    try:
        visible_clinic(st, who, clinic_id)
        body, name = clinic_file(st, clinic_id, month, kind)
    except ApiError as exc:
        raise _in_swedish(exc, clinic_id, month) from None
    return _attachment(body, kind, name)


@downloads.get("/admin/export/{month}", include_in_schema=False)
def web_month_zip(request: Request, month: Month):
    who = _web_principal(request)
    if who is None:
        return RedirectResponse("/logga-in", status_code=303)
    if not who.admin:
        raise ApiError(403, "forbidden", "sidan kräver en administratörsnyckel")
    try:
        body, name = month_zip(state(request), month)
    except ApiError as exc:
        raise ApiError(exc.status, exc.code, f"{month} är inte beräknad: det finns inget att ladda ned.") from None
    return _attachment(body, "zip", name)
