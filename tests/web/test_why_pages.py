"""The clinic's "why" pages on the why region (tests/why_region.py, amounts worked out by hand there):
the month page compares with February and March 2021 in words, draws the twelve months, shows the
adjustment line's paid and now with links, and the money waiting for fixes per error code; /fel
lists one row per contact (earlier attempts folded), filters by month and code, downloads as CSV
for Swedish Excel; the contact page says which line paid a contact corrected after its month was
issued. Playwright at a phone's and a desktop's width, screenshots in out/test-artifacts/web/why-*."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from af_region import KA, P_ADULT
from server import Server, launch, stop
from why_region import LATE, NOT_IN_PERSONS, build_why

from ersattning.api.tokens import create_token

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
WIDTHS = (390, 1280)
NB = "\u00a0"
ADJ = "A1:2022-03:ADJ:A1:2022-02:VF_BASE"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("why-web")
    db = folder / "why.duckdb"
    engine = build_why(db)
    con = engine.con.con
    tokens = dict(clinic_a=create_token(con, clinic_id="A1"), clinic_b=create_token(con, clinic_id="B1"),
                  admin=create_token(con, admin=True), rate_token=create_token(con, clinic_id="B1"),
                  spare=create_token(con, clinic_id="A1"))
    engine.con.disconnect()
    url, process = launch(db, folder / "server.log")
    s = Server(url, db, folder / "server.log", process=process, **tokens)
    yield s
    stop(s)


def test_the_month_page_explains_the_month_in_words(server):
    page = server.browser(server.clinic_a).get("/manad?month=2022-03")
    assert page.status_code == 200
    text = page.text
    assert f"Mot 2022-02: Besöksersättning minskade med 110,00{NB}kr (−33{NB}%): 1 färre besök" in text
    assert f"Mot 2022-02: Tillägg, annan mottagnings listade är ny: 300,00{NB}kr" in text
    assert 'id="trend"' in text and "<title>A1: ersättning per månad, tolv månader till 2022-03</title>" in text
    assert "summa per månad: 2022-02 " in text
    # The adjustment line: what February's line was paid and what it is now, with links.
    assert f"utbetalt 330,00{NB}kr … nu 440,00{NB}kr" in text
    assert 'href="/rad/A1%3A2022-02%3AVF_BASE"' in text and 'href="/manad?month=2022-02"' in text
    # The money waiting for fixes: 430 kr, bad_person_id not priceable.
    assert f'id="vantar-summa">430,00{NB}kr<' in text and "1 kontakt kan inte prissättas" in text
    assert P_ADULT not in text and NOT_IN_PERSONS not in text


def test_fel_has_one_row_per_contact_filters_and_the_csv(server):
    b = server.browser(server.clinic_a)
    page = b.get("/fel").text
    assert page.count("<details>") == 1 and "Tidigare försök (1)" in page and "bad_profession" in page
    assert f'id="vantar-summa">430,00{NB}kr<' in page
    only = b.get("/fel", params={"kod": "bad_person_id"}).text
    assert "a-3" in only and "/kontakt/11010046M30/a-4" not in only and f'id="vantar-summa">0,00{NB}kr<' in only
    assert "felet gäller personnummer" in only
    assert "a-3" not in b.get("/fel", params={"month": "2022-02"}).text
    r = b.get("/fel/ladda-ned", params={"month": "2022-03"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    got = {row["Kontakt"]: row["Ersättning om rättad (kr)"] for row in rows}
    assert got == {"a-3": "", "a-4": "110,00", "a-6": "110,00", "h-1": "210,00"}
    assert next(row for row in rows if row["Kontakt"] == "h-1")["Typ"] == "vilande"
    assert P_ADULT not in r.text and NOT_IN_PERSONS not in r.text
    assert b.get("/fel", params={"kod": "X;Y"}).status_code == 422


def test_the_contact_page_says_where_a_corrected_contact_was_paid(server):
    page = server.browser(server.clinic_a).get(f"/kontakt/{KA}/{LATE}").text
    assert "månaden ej beräknad" not in page
    assert "som justering 2022-03" in page and f'href="/rad/{ADJ.replace(":", "%3A")}"' in page
    assert "rättar" in page and 'href="/rad/A1%3A2022-02%3AVF_BASE"' in page


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                    reason="chromium is installed by `make test` (apt-get install chromium)")
@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"{w}px")
def test_the_why_flow_in_a_browser(server, width):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
        page = context.new_page()
        outside = []
        page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(server.url) else None)
        page.goto(server.url + "/logga-in")
        page.fill("#token", server.clinic_a)
        page.click("#logga-in")
        page.wait_for_url("**/manad")
        page.goto(server.url + "/manad?month=2022-03")
        assert "1 färre besök" in page.inner_text("#forklaringar")
        assert page.locator("#trend svg[role=img] title").count() == 1
        page.screenshot(path=str(ARTIFACTS / f"why-{width}-manad.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.click("#vantar a:has-text('Visa kontakterna')")
        page.wait_for_url("**/fel?month=2022-03")
        page.click("text=Tidigare försök (1)")
        assert "bad_profession" in page.inner_text("#avvisade details")
        page.select_option("#filter-kod", "bad_diagnosis")
        page.click("#filter button")
        page.wait_for_url("**kod=bad_diagnosis**")
        assert page.inner_text("#vantar-summa") == f"220,00{NB}kr"
        page.screenshot(path=str(ARTIFACTS / f"why-{width}-fel.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        with page.expect_download() as download:
            page.click("#ladda-ned-fel")
        assert download.value.suggested_filename == "fel_A1_2022-03_bad_diagnosis.csv"
        page.goto(server.url + f"/kontakt/{KA}/{LATE}")
        page.click(f"#produkter a:has-text('{ADJ}')")
        page.wait_for_url("**/rad/**")
        assert page.inner_text("#belopp") == "110,00 SEK"
        page.screenshot(path=str(ARTIFACTS / f"why-{width}-justering.png"), full_page=True)
        context.close()
        browser.close()
    assert not outside, f"the page fetched from outside: {outside}"


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                    reason="chromium is installed by `make test` (apt-get install chromium)")
def test_the_why_pages_have_no_serious_accessibility_violation(server):
    assert AXE.is_file(), "axe-core is installed by `make install-test` (npm ci --prefix tests/web)"
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        # bypass_csp: only for axe-core, which Playwright injects as an inline script the policy refuses.
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.goto(server.url + "/logga-in")
        page.fill("#token", server.clinic_a)
        page.click("#logga-in")
        page.wait_for_url("**/manad")
        for path in ("/manad?month=2022-03", "/fel", "/fel?month=2022-03&kod=bad_diagnosis", f"/kontakt/{KA}/{LATE}"):
            page.goto(server.url + path)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            if bad:
                found[path] = bad
        context.close()
        browser.close()
    assert not found, f"serious or critical accessibility violations: {found}"
