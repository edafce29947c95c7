"""The administrator's web app in a real browser (Playwright on Debian's chromium) at a phone's and
a desktop's width: a load's problem list in the page, a run as a job with its progress and
history, an implausible month refused, a draft month deleted (an issued one never), manual lines
with the duplicate warning, tokens listed and revoked, the clinic table sorted and filtered, the
month's downloads (CSV, XLSX, PDF, e-invoice, the ZIP of all clinics) read back against the
statement; every page without sideways scrolling at 360 px and without serious accessibility
violations (axe-core, injected from tests/web/node_modules: offline). Screenshots go to
out/test-artifacts/web/admin-WIDTH-WHAT.png."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from server import start, stop

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (390, 1280)
ORG = {"A1": "556677-8899", "B1": "556012-3456"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                reason="chromium is installed by `make test` (apt-get install chromium)")


def _org_numbers(con):
    for clinic, number in ORG.items():
        con.execute("UPDATE clinics SET org_number = ? WHERE clinic_id = ?", [number, clinic])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("admin-web"), prepare=_org_numbers)
    yield s
    stop(s)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser, server, width, bypass_csp=False):
    # bypass_csp: only for axe-core, which Playwright injects as an inline script the policy refuses.
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True, bypass_csp=bypass_csp)
    page = context.new_page()
    page.outside, page.refused = [], []
    page.on("request", lambda req: page.outside.append(req.url) if not req.url.startswith(server.url) else None)
    page.on("console", lambda msg: page.refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: dialog.accept())
    return context, page


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def page(request, browser, server):
    context, page = _page(browser, server, request.param)
    page.width = request.param
    yield page
    context.close()
    assert not page.outside, f"the page fetched from outside: {page.outside}"
    assert not page.refused, f"the Content-Security-Policy refused: {page.refused}"


def sign_in(page, server, token):
    page.goto(server.url + "/logga-in")
    page.fill("#token", token)
    page.click("#logga-in")
    page.wait_for_load_state()


def shot(page, what):
    page.screenshot(path=str(ARTIFACTS / f"admin-{page.width}-{what}.png"), full_page=True)


def csrf_of(page):
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_a_failed_load_shows_every_problem_in_the_page(page, server):
    sign_in(page, server, server.admin)
    bad = "clinic_id,name,group_id,area_code,opened\n" + "".join(f"X{i},Namn {i},GA,0180,inte-ett-datum\n" for i in range(150))
    page.set_input_files("#indatafiler", files=[{"name": "clinics.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    page.click("#las-in")
    page.wait_for_selector("#fellista")
    assert "inget lästes in" in page.inner_text("#felmeddelande")
    assert "ersattning load" not in page.inner_text("body")  # no command line the server has locked
    count = int(page.inner_text("#fellista-rubrik").split("(")[1].split(")")[0].replace("\u00a0", ""))
    assert count >= 150 and page.locator("#fellista tbody tr").count() == count  # all of them, not the first 100
    assert "clinics" in page.inner_text("#fellista tbody tr:first-child")
    page.locator("#inlasning").scroll_into_view_if_needed()
    shot(page, "inlasning")


def test_an_implausible_month_is_refused_before_it_runs(page, server):
    sign_in(page, server, server.admin)
    page.fill("#korning input[name=month]", "2030-01")
    page.click("#berakna")
    page.wait_for_selector("#felmeddelande")
    assert "2030-01 ligger efter innevarande månad" in page.inner_text("#felmeddelande")
    shot(page, "implausibel-manad")
    with server.client(server.admin) as api:
        assert all(m["month"] != "2030-01" for m in api.get("/api/v1/months").json()["months"])


def test_a_run_is_a_job_with_progress_and_history_and_a_draft_month_can_be_deleted(page, server):
    sign_in(page, server, server.admin)
    page.fill("#korning input[name=month]", "2022-02")
    page.click("#berakna")
    page.wait_for_url("**/jobs")
    page.wait_for_selector("#jobb tbody tr:first-child .status.done")
    row = page.inner_text("#jobb tbody tr:first-child")
    assert "beräkning" in row and "2022-02" in row and "webb" in row and "token:" in row
    assert page.locator("#jobb tbody tr:first-child progress").get_attribute("value") == "1"
    assert page.locator("#jobb tbody tr:first-child code").count() == 2  # the rulebook's hash and the result's
    shot(page, "jobb")
    page.goto(server.url + "/admin?month=2022-02")
    assert page.inner_text("#manadsstatus") == "utkast"
    page.check("#bekrafta-borttagning")
    page.click("#ta-bort-utkast")
    page.wait_for_url("**/admin")
    assert "Utkastet 2022-02 är borttaget" in page.inner_text("#meddelande")
    shot(page, "ta-bort-utkast")
    with server.client(server.admin) as api:
        assert all(m["month"] != "2022-02" for m in api.get("/api/v1/months").json()["months"])
        assert api.get("/api/v1/jobs").json()["jobs"][0]["kind"] == "delete"
    page.goto(server.url + "/jobs")
    assert "borttaget utkast" in page.inner_text("#jobb tbody tr:first-child")


def test_a_manual_line_warns_on_an_exact_duplicate(page, server):
    sign_in(page, server, server.admin)
    reason = f"Samverkan {page.width}"
    for _ in range(2):
        page.goto(server.url + "/admin?month=2022-03")
        page.select_option("#manuell select[name=clinic_id]", "A1")
        page.fill("#manuell input[name=month]", "2022-03")
        page.select_option("#manuell select[name=kind]", "collaboration")
        page.fill("#manuell input[name=amount_sek]", "1 250,50")
        page.fill("#manuell input[name=reason]", reason)
        page.click("#lagg-till")
        page.wait_for_load_state()
    assert "En likadan rad finns redan" in page.inner_text("#dubblettvarning")
    page.locator("#dubblettvarning").scroll_into_view_if_needed()
    shot(page, "dubblett")
    with server.client(server.admin) as api:
        def mine():
            return [m for m in api.get("/api/v1/admin/manual-lines", params={"month": "2022-03"}).json()["manual_lines"]
                    if m["reason"] == reason]
        assert len(mine()) == 1  # the warning added nothing
        page.click("#lagg-till-anda")
        page.wait_for_url("**/admin?month=2022-03")
        assert [m["amount_ore"] for m in mine()] == [125050, 125050]


def test_tokens_are_listed_and_one_is_revoked(page, server):
    victim = server.spare if page.width == WIDTHS[0] else server.rate_token
    sign_in(page, server, server.admin)
    with server.client(server.admin) as api:
        tokens = api.get("/api/v1/admin/tokens").json()["tokens"]
    victim_id = next(t["token_id"] for t in tokens if f"{t['token_id']}_" in victim)
    assert page.locator("#nyckellista tbody tr").count() == len(tokens)
    assert victim not in page.content()  # the secret is never shown
    page.click(f"#nyckel-{victim_id} button")
    page.wait_for_url("**/admin#nycklar")
    assert "nej" not in page.inner_text(f"#nyckel-{victim_id} td:nth-child(6)")
    page.locator("#nycklar").scroll_into_view_if_needed()
    shot(page, "nycklar")
    with server.client(victim) as api:
        assert api.get("/api/v1/me").status_code == 401


def test_the_clinic_table_sorts_filters_and_shows_status_per_month(page, server):
    sign_in(page, server, server.admin)
    page.goto(server.url + "/admin?month=2022-03")
    table = "#mottagningar"
    assert page.locator(f"{table} thead th").filter(has_text="2022-03").count() == 1
    assert page.locator(f"{table} tbody tr:first-child td .status").first.inner_text() in ("utkast", "fastställd")
    page.click(f"{table} thead th:nth-child(7) button")  # Totalt, ascending
    page.click(f"{table} thead th:nth-child(7) button")  # descending
    assert page.locator(f"{table} thead th:nth-child(7)").get_attribute("aria-sort") == "descending"
    totals = [int(v) for v in page.locator(f"{table} tbody td:nth-child(7)").evaluate_all("els => els.map(e => e.dataset.value)")]
    assert totals == sorted(totals, reverse=True) and len(totals) == 2
    page.fill("#filter-mottagning", "beta")
    assert page.locator(f"{table} tbody tr:visible").count() == 1
    assert "B1" in page.inner_text(f"{table} tbody tr:visible")
    assert page.inner_text("#antal-mottagningar") == "1 av 2 mottagningar visas"
    page.fill("#filter-mottagning", "")
    page.select_option("#filter-status", "none")
    assert page.locator(f"{table} tbody tr:visible").count() == 0
    page.select_option("#filter-status", "")
    # One colour per component: the swatch's colour is the one api/colours.py defines, also in the chart.
    from ersattning.api.colours import COMPONENT_COLOURS
    swatch = page.locator("#region .swatch").first
    assert swatch.get_attribute("data-colour") in COMPONENT_COLOURS.values()
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.locator(".chart svg[role=img] title").count() == 1 and "Besöksersättning" in page.locator(".chart svg desc").text_content()
    page.locator(table).scroll_into_view_if_needed()
    shot(page, "mottagningar")


def _download(page, selector):
    with page.expect_download() as info:
        page.click(selector)
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def _sek(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100)


def test_the_statements_downloads_read_back_to_the_statement(page, server):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    sign_in(page, server, server.admin)
    page.goto(server.url + "/manad?month=2022-03&klinik=A1")
    with server.client(server.admin) as api:
        statement = api.get("/api/v1/statements/A1/2022-03").json()
    total = statement["statement"]["total_ore"]
    assert page.locator("#nedladdningar a").count() == 4
    shot(page, "nedladdningar")

    name, body = _download(page, "#ladda-csv")
    assert name.endswith(".csv") and body.startswith(b"\xef\xbb\xbf")  # the BOM Swedish Excel needs for UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == len(statement["lines"])
    assert sum(_sek(r["Belopp (kr)"]) for r in rows) == total
    assert all("." not in r["Belopp (kr)"] for r in rows) and any("," in r["Belopp (kr)"] for r in rows)
    assert "Besöksersättning" in {r["Komponent"] for r in rows}

    name, body = _download(page, "#ladda-xlsx")
    wb = load_workbook(io.BytesIO(body))
    amounts = [c for ws in wb.worksheets[1:] for row in ws.iter_rows(min_row=2) for c in row[6:7] if c.value is not None]
    assert amounts and all(c.number_format == "#,##0.00" for c in amounts)

    name, body = _download(page, "#ladda-pdf")
    reader = PdfReader(io.BytesIO(body))
    first = reader.pages[0].extract_text()
    from ersattning.export.pdf import kronor
    assert "Månadsbesked 2022-03" in first and "Vårdcentralen Alfa (A1)" in first and "UTKAST" in first
    assert kronor(total).replace("\u00a0", " ") in first.replace("\u00a0", " ")
    lines_text = "".join(p.extract_text() for p in reader.pages[1:]).replace("\u00a0", " ")
    assert f"Rader ({len(statement['lines'])})" in lines_text and kronor(total).replace("\u00a0", " ") in lines_text

    name, body = _download(page, "#ladda-xml")
    assert name == "invoice_A1_2022-03_UTKAST.xml" and b"UTKAST" in body and b"5566778899" in body
    response = page.goto(server.url + "/ladda-ned/A1/2021-01/pdf")
    assert response.status == 404 and "Ingen beräknad ersättning för A1 2021-01" in page.inner_text("main")


def test_a_clinic_downloads_only_its_own_month(browser, server):
    context, page = _signed_in_page(browser, server, 390, "clinic")
    page.goto(server.url + "/manad?month=2022-03")
    name, body = _download(page, "#ladda-pdf")
    assert name.startswith("manadsbesked_A1_2022-03") and body.startswith(b"%PDF")
    assert page.goto(server.url + "/ladda-ned/B1/2022-03/csv").status == 404
    with server.client(server.clinic_a) as api:
        assert api.get("/api/v1/statements/B1/2022-03/download/csv").status_code == 404
        r = api.get("/api/v1/statements/A1/2022-03/download/csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert api.get("/api/v1/admin/months/2022-03/export.zip").status_code == 403
    page.screenshot(path=str(ARTIFACTS / "admin-390-mottagning-nedladdning.png"), full_page=True)
    context.close()


def test_the_month_zip_holds_every_clinics_invoice(page, server):
    sign_in(page, server, server.admin)
    page.goto(server.url + "/admin?month=2022-03")
    name, body = _download(page, "#ladda-zip")
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    for clinic in ORG:
        assert any(n.startswith("e-fakturor/") and f"_{clinic}_2022-03" in n for n in names), names
        assert f"manadsbesked/manadsbesked_{clinic}_2022-03.pdf" in names
    assert {"statement_lines.csv", "statements.csv", "LASMIG.txt"} <= set(names)
    with server.client(server.admin) as api:
        r = api.get("/api/v1/admin/months/2022-03/export.zip")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert api.get("/api/v1/admin/months/2021-01/export.zip").status_code == 404
        paths = api.get("/openapi.json").json()["paths"]
        assert "/api/v1/statements/{clinic_id}/{month}/download/{kind}" in paths
        assert "/api/v1/admin/months/{month}/export.zip" in paths


def _pages(server) -> list[tuple[str, str, str]]:
    """(who, path, name) for every page one can reach."""
    with server.client(server.admin) as api:
        line = api.get("/api/v1/statements/A1/2022-03").json()["lines"][0]["line_id"]
    from urllib.parse import quote
    return [("", "/logga-in", "inloggning"), ("admin", "/admin?month=2022-03", "admin"), ("admin", "/jobs", "jobb"),
            ("clinic", "/manad?month=2022-03", "manadsbesked"), ("clinic", f"/rad/{quote(line, safe='')}", "rad"),
            ("clinic", "/kontakt/11010046M30/a-2", "kontakt"), ("clinic", "/fel", "fel"), ("clinic", "/acg?month=2022-03", "acg"),
            ("clinic", "/finns-inte", "felsida"), ("", "/docs", "docs")]


def _signed_in_page(browser, server, width, who, bypass_csp=False):
    context, page = _page(browser, server, width, bypass_csp)
    page.width = width
    if who:
        sign_in(page, server, server.admin if who == "admin" else server.clinic_a)
    return context, page


def test_no_page_scrolls_sideways_at_360_px(browser, server):
    wide = {}
    for who in ("", "admin", "clinic"):
        context, page = _signed_in_page(browser, server, 360, who)
        for owner, path, name in _pages(server):
            if owner != who:
                continue
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 360:
                wide[path] = width
            page.screenshot(path=str(ARTIFACTS / f"admin-360-{name}.png"), full_page=True)
        context.close()
    assert not wide, f"pages wider than 360 px: {wide}"


def test_every_page_has_no_serious_accessibility_violation(browser, server):
    assert AXE.is_file(), "axe-core is installed by `make install-test` (npm ci --prefix tests/web)"
    found, report = {}, {}
    for who in ("", "admin", "clinic"):
        context, page = _signed_in_page(browser, server, 1280, who, bypass_csp=True)
        for owner, path, name in _pages(server):
            if owner != who or name == "docs":  # Swagger UI's own page is not ours to fix
                continue
            page.goto(server.url + path)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})")
            report[name] = {"violations": [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]],
                            "passes": len(result["passes"])}
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            if bad:
                found[path] = bad
        if not who:  # the check can fail: an image without a text alternative is caught
            page.evaluate("document.body.appendChild(document.createElement('img')).src = '/static/app.css'")
            planted = page.evaluate("axe.run(document, {runOnly: ['wcag2a']})")
            assert "image-alt" in {v["id"] for v in planted["violations"] if v["impact"] == "critical"}
        context.close()
    (ARTIFACTS / "axe-report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    assert not found, f"serious or critical accessibility violations: {found}"


def test_an_issued_month_is_never_deleted(browser, server):
    # Issuing is irreversible: once, at the desktop width, after the tests that need the draft.
    context, page = _signed_in_page(browser, server, WIDTHS[-1], "admin")
    page.goto(server.url + "/admin?month=2022-03")
    page.click("#faststall")
    page.wait_for_url("**/jobs")
    page.wait_for_selector("#jobb tbody tr:first-child .status.done")
    page.goto(server.url + "/admin?month=2022-03")
    assert page.inner_text("#manadsstatus") == "fastställd" and page.locator("#ta-bort").count() == 0
    shot(page, "faststalld")
    with server.client(server.admin) as api:
        r = api.delete("/api/v1/admin/months/2022-03")
        assert r.status_code == 409 and "never deleted" in r.json()["error"]["message"]
        assert api.delete("/api/v1/admin/months/2019-05").status_code == 422  # not computed
    # The form refuses it too (posted by hand: the page offers no button for it).
    r = page.request.post(server.url + "/admin/ta-bort-manad", form={"csrf": csrf_of(page), "month": "2022-03", "confirm": "ja"},
                          headers={"origin": server.url})
    assert r.status == 409 and "fastställd" in r.text()
    context.close()


def test_keyboard_focus_is_visible(browser, server):
    context, page = _signed_in_page(browser, server, 390, "admin")
    page.goto(server.url + "/admin")
    page.keyboard.press("Tab")  # the skip link comes first and shows itself
    assert page.evaluate("document.activeElement.textContent") == "Till innehållet"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
    for _ in range(3):
        page.keyboard.press("Tab")
        style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; })()")
        assert style[0] == "solid" and float(style[1].rstrip("px")) >= 2, style
    page.screenshot(path=str(ARTIFACTS / "admin-390-fokus.png"))
    context.close()
