"""The web app is Swedish throughout (issue 14, point 1): the pages a clinic and the administrator
read (statement, every line, contacts, rejected contacts, admin) carry no English leftovers such
as Python's None/False/True, fact names like contact_type, seed file names or "SEK (correction)";
and a clinic sees the person numbers it holds, never another clinic's (point 5)."""

from __future__ import annotations

import html
import re

import pytest
from af_region import BAD_PID, KA, KB, P_ADULT, P_CHILD, P_OLD, P_OUT, contact
from server import start, stop

from ersattning.api import persons, svenska
from ersattning.api.tokens import ADMIN, CLINIC, Principal

# What must not be read on a page: Python's words, fact names, file names, English units.
LEFTOVERS = re.compile(r"\b(None|False|True|nan|contact_type|profession|listing_clinic|out_of_county)\b"
                       r"|\.ya?ml\b|\.pdf\b|\b\d{3}_[0-9a-f]{16}\.txt\b|SEK \(|SEK/|\bshare of\b|\breading\b|\bvisits?\b"
                       r"|\bno (clinic|statement|line|contact)\b")


def visible_text(page: str) -> str:
    """The text a reader sees: no markup, script, chart or <code> (identifiers stay as they are)."""
    page = re.sub(r"<(script|style|svg|code|head)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def leftovers(page: str) -> list[str]:
    text = visible_text(page)
    return [text[max(0, m.start() - 40):m.end() + 40] for m in LEFTOVERS.finditer(text)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("swedish-pages"))
    # An issued March and an April with an adjustment and a manual line: every kind of line is on a page.
    admin = s.client(s.admin)
    assert admin.post("/api/v1/admin/months/2022-03/run", json={"issue": True}).status_code == 200
    late = contact("a-9", KA, P_ADULT, date="2022-03-20", reported_at="2022-04-10T09:00:00")
    assert s.client(s.clinic_a).post("/api/v1/contacts", json={"contacts": [late]}).json()["accepted"] == 1
    manual = {"clinic_id": "A1", "month": "2022-04", "kind": "collaboration", "amount_ore": 1250000,
              "reason": "Samverkan", "reference": "ärende 1"}
    assert admin.post("/api/v1/admin/manual-lines", json=manual).status_code in (200, 201)
    assert admin.post("/api/v1/admin/months/2022-04/run", json={}).status_code == 200
    yield s
    stop(s)


def _pages(server, token: str, clinic: str) -> dict[str, str]:
    """Every page `token` reads about `clinic`: statements, each of their lines, the contacts behind
    them and on the rejected list, the list itself."""
    browser, api = server.browser(token), server.client(server.admin)
    klinik = "" if token != server.admin else f"&klinik={clinic}"
    out = {}
    for month in ("2022-03", "2022-04"):
        out[f"/manad?month={month}{klinik}"] = None
        for line in api.get(f"/api/v1/statements/{clinic}/{month}").json()["lines"]:
            out[f"/rad/{line['line_id']}"] = None
    out["/fel" + (f"?klinik={clinic}" if token == server.admin else "")] = None
    for path in list(out):
        r = browser.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        out[path] = r.text
        out.update({link: None for link in re.findall(r'href="(/kontakt/[^"]+)"', r.text)})
    for path, text in out.items():
        if text is None:
            r = browser.get(html.unescape(path))
            assert r.status_code == 200, (path, r.text[:300])
            out[path] = r.text
    return out


def test_clinic_pages_have_no_english_leftovers(server):
    pages = _pages(server, server.clinic_a, "A1")
    assert any(p.startswith("/kontakt/") for p in pages) and any(":ADJ:" in p for p in pages)
    found = {path: bad for path, text in pages.items() if (bad := leftovers(text))}
    assert not found, found


def test_refusals_on_a_page_are_swedish(server):
    browser = server.browser(server.clinic_a)
    for path in ("/manad?klinik=B1", "/manad?month=2022-05", "/rad/B1:2022-03:VF_BASE", f"/kontakt/{KB}/b-1"):
        r = browser.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert not leftovers(r.text), (path, leftovers(r.text))
    assert "Mottagningen B1 finns inte." in visible_text(browser.get("/manad?klinik=B1").text)


def test_admin_pages_have_no_english_leftovers(server):
    pages = _pages(server, server.admin, "B1")
    admin = server.browser(server.admin)
    for path in ("/admin", "/admin?month=2022-04", "/jobs", "/acg?month=2022-03&klinik=A1"):
        pages[path] = admin.get(path).text
    found = {path: bad for path, text in pages.items() if (bad := leftovers(text))}
    assert not found, found


def test_the_scanner_finds_leftovers():
    # The check itself can fail: each kind of leftover is caught, Swedish text is not.
    for english in ("<td>None</td>", "<td>False</td>", "<th>contact_type</th><td>phone</td>", "regler/prices.yaml",
                    "003_887ea947c2495c54.txt, Bilaga 2", "1.000000 (SEK (correction))", "rapport.pdf"):
        assert leftovers(f"<p>{english}</p>"), english
    assert not leftovers("<p>Kontakttyp: telefon; Utomlänspatient: nej; 2 402 listade × ACG-vikt i snitt 1</p>")


def test_facts_sources_and_quantities_read_in_swedish(server):
    page = visible_text(server.browser(server.clinic_b).get(f"/kontakt/{KB}/b-1").text)
    assert "Kontakttyp" in page and "telefon" in page and "sjuksköterska" in page and "Räknas som besök" in page
    line = visible_text(server.browser(server.clinic_a).get("/rad/A1:2022-03:CAP_ACG").text)
    assert "2 listade × ACG-vikt i snitt 1,85" in line.replace("\u00a0", " ")  # (1.2 + 2.5) / 2
    assert "StoCHE: Förändringar av ersättningssystem för husläkaruppdraget" in line and "Bilaga 2" in line
    adjustment = visible_text(server.browser(server.clinic_a).get("/rad/A1:2022-04:ADJ:A1:2022-03:VF_BASE").text)
    assert "rättelse av 2022-03" in adjustment and "1.000000" not in adjustment


def test_error_codes_have_swedish_fix_texts():
    from ersattning.inputs.schema import ERROR_CODES
    from ersattning.register.schema import CONTACT_ERROR_CODES

    assert set(svenska.CONTACT_ERRORS_SV) == set(CONTACT_ERROR_CODES)
    assert set(svenska.INPUT_ERRORS_SV) == set(ERROR_CODES)
    assert svenska.contact_error("bad_contact_type", "'letter' is not a contact type of the contract")[0] == \
        "Okänd kontakttyp. Värde: ”letter”."


def test_every_cited_source_file_has_a_title():
    from pathlib import Path

    rules = Path(svenska.__file__).resolve().parents[1] / "rules"
    cited = {m for f in rules.rglob("*.yaml") for m in re.findall(r"\d{3}_[0-9a-f]{16}\.txt", f.read_text(encoding="utf-8"))}
    assert cited and cited <= set(svenska.source_titles())


# --- point 5: a clinic's own patients ------------------------------------------------------------

def test_clinic_a_sees_its_own_person_numbers_never_clinic_bs(server):
    a = _pages(server, server.clinic_a, "A1")
    b = _pages(server, server.clinic_b, "B1")
    a_text, b_text = " ".join(a.values()), " ".join(b.values())
    # A1's listed patients on its capitation line; the child it saw (a-2) on that contact's page.
    assert P_ADULT in a["/rad/A1:2022-03:CAP_ACG"] and P_OLD in a["/rad/A1:2022-03:CAP_ACG"]
    assert P_CHILD in a[f"/kontakt/{KA}/a-2"]
    # B1 sees its own listed child (billed for a-2's deduction), never A1's patients.
    assert P_CHILD in b_text
    assert P_ADULT not in b_text and P_OLD not in b_text
    for text in (a_text, b_text):
        assert P_OUT not in text and BAD_PID not in text
        for href in re.findall(r'href="([^"]+)"', text):
            assert not any(p in href for p in (P_ADULT, P_OLD, P_CHILD, P_OUT)), href
    # Nor in the server's log or an error page.
    missing = server.browser(server.clinic_b).get(f"/kontakt/{KA}/a-1")
    assert missing.status_code == 404 and P_ADULT not in missing.text
    log = server.log.read_text()
    assert not any(p in log for p in (P_ADULT, P_OLD, P_CHILD, P_OUT, BAD_PID))


def test_only_the_persons_a_clinic_holds_are_shown(tmp_path):
    # The rule itself, on rows a page could hold: B1 never reads A1's patient, the administrator does.
    from af_region import build

    con = build(tmp_path / "af.duckdb").con.con
    assert persons.held_persons(con, "A1", [P_ADULT, P_OLD, P_CHILD, P_OUT]) == {P_ADULT, P_OLD, P_CHILD}
    assert persons.held_persons(con, "B1", [P_ADULT, P_OLD, P_CHILD, P_OUT]) == {P_CHILD}
    rows = [{"person": "p-adult", "person_id": P_ADULT}, {"person": "p-child", "person_id": P_CHILD}]
    persons.show_persons(con, Principal("t", CLINIC, "B1"), rows)
    assert rows == [{"person": "p-adult", "person_shown": "p-adult"}, {"person": "p-child", "person_shown": P_CHILD}]
    rows = [{"person": "p-adult", "person_id": P_ADULT}]
    persons.show_persons(con, Principal("t", ADMIN, None), rows)
    assert rows[0]["person_shown"] == P_ADULT
