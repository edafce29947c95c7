"""The web app in a real browser (Playwright driving Debian's chromium, headless): a clinic signs
in, opens its statement, drills down line → contact, sees its rejected contacts and its ACG
follow-up; the administrator issues a month; /docs works offline. No page fetches anything from
outside or breaks the Content-Security-Policy. Screenshots go to out/test-artifacts/web/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server import start, stop

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                reason="chromium is installed by `make test` (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("web"))
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


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    outside, refused = [], []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(server.url) else None)
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not outside, f"the page fetched from outside: {outside}"
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def sign_in(page, server, token):
    page.goto(server.url + "/")
    assert page.url.endswith("/logga-in")
    page.fill("#token", token)
    page.click("#logga-in")


def test_a_clinic_drills_down_from_its_statement_to_a_contact(page, server):
    sign_in(page, server, server.clinic_a)
    page.wait_for_url("**/manad")
    assert "Månadsbesked: Vårdcentralen Alfa (A1)" in page.inner_text("h1")
    assert page.inner_text("#status") == "utkast"
    assert page.locator(".chart svg").count() == 1  # rendered on the server
    total = page.inner_text("#totalt")
    page.screenshot(path=str(ARTIFACTS / "1-manadsbesked.png"), full_page=True)

    page.click("#rader >> text=VF_BASE")
    page.wait_for_url("**/rad/**")
    assert "Bakom raden: 2 kontakter" in page.inner_text("body")
    assert page.inner_text("#belopp") == "220,00 SEK"  # 2 visits × 110 SEK (RULES.md §3)
    page.screenshot(path=str(ARTIFACTS / "2-rad.png"), full_page=True)

    page.click("#bakom >> text=a-2")
    page.wait_for_url("**/kontakt/**")
    assert page.inner_text("#kontaktstatus") == "godkänd"
    products = page.inner_text("#produkter")
    assert "VF_BASE" in products and "SUP_OTHER_CLINIC" in products and "DED_OWN_ELSEWHERE" in products
    page.screenshot(path=str(ARTIFACTS / "3-kontakt.png"), full_page=True)

    page.goto(server.url + "/manad?month=2022-03")
    assert page.inner_text("#totalt") == total


def test_a_clinic_sees_its_rejected_contacts_and_its_acg_follow_up(page, server):
    sign_in(page, server, server.clinic_a)
    page.wait_for_url("**/manad")
    page.click("text=Avvisade kontakter")
    page.wait_for_url("**/fel")
    rows = page.inner_text("#avvisade")
    assert "bad_person_id" in rows and "a-3" in rows and "Luhn" in rows
    page.screenshot(path=str(ARTIFACTS / "4-avvisade.png"), full_page=True)
    page.click("text=ACG-uppföljning")
    page.wait_for_url("**/acg")
    assert page.inner_text("#acg-mottagning") == "1,85" and page.inner_text("#acg-region") == "1,37"  # Swedish, two decimals
    page.screenshot(path=str(ARTIFACTS / "5-acg.png"), full_page=True)


def test_a_clinic_cannot_open_another_clinics_pages(page, server):
    sign_in(page, server, server.clinic_a)
    page.wait_for_url("**/manad")
    response = page.goto(server.url + "/rad/B1%3A2022-03%3ACAP_ACG")
    assert response.status == 404 and "Hittades inte" in page.inner_text("h1")
    assert page.goto(server.url + "/admin").status == 403


def test_the_administrator_issues_a_month(page, server):
    sign_in(page, server, server.admin)
    page.wait_for_url("**/admin")
    assert page.inner_text("#manadsstatus") == "utkast"
    assert "Besöksersättning" in page.inner_text("#region")  # visit_fee, labelled in Swedish
    page.on("dialog", lambda dialog: dialog.accept())  # issuing asks first: it is irreversible
    page.fill("input[name=month]", "2022-03")
    page.click("#faststall")
    page.wait_for_url("**/jobs")  # the run is a job: its progress and outcome are in the history
    assert page.inner_text("#meddelande").startswith("2022-03: fastställs som ett jobb")
    page.wait_for_selector("#jobb tbody tr:first-child .status.done")
    page.goto(server.url + "/admin?month=2022-03")
    assert page.inner_text("#manadsstatus") == "fastställd"
    page.screenshot(path=str(ARTIFACTS / "6-admin-faststalld.png"), full_page=True)
    page.click("#faststall")  # issuing again changes nothing
    page.wait_for_url("**/jobs")
    page.wait_for_selector("#jobb tbody tr:first-child .status.done")
    page.goto(server.url + "/admin?month=2022-03")
    assert page.inner_text("#manadsstatus") == "fastställd"


def test_a_clinic_picks_a_month_with_the_month_selector(page, server):
    # The selector submits itself from /static/app.js (the policy allows no inline handler).
    sign_in(page, server, server.clinic_a)
    page.wait_for_url("**/manad")
    page.select_option("select[name=month]", "2022-03")
    page.wait_for_url("**/manad?month=2022-03**")
    assert "Månadsbesked" in page.inner_text("h1")


def test_the_api_docs_work_offline(page, server):
    page.goto(server.url + "/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 15  # every operation, drawn by Swagger UI from local files
    page.screenshot(path=str(ARTIFACTS / "7-docs.png"))
