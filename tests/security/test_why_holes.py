"""Hostile cases against the "why" pages (issue 14, points 3 and 4): the money waiting for fixes on
/fel, its CSV download /fel/ladda-ned and the month page's comparison show a clinic only its own
contacts, whatever `klinik` it sends; signed out they open nothing; no person number is in them."""

from __future__ import annotations

import csv
import io

from af_region import BAD_PID, KA, KB, P_ADULT, contact


def _csv_contacts(response) -> set[str]:
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    return {r["Kontakt"] for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")}


def test_the_pending_money_and_its_csv_are_the_clinics_own(server):
    assert "a-3" in server.browser(server.clinic_a).get("/fel").text
    b = server.browser(server.clinic_b)
    for params in ({}, {"klinik": "A1"}, {"klinik": "A1", "kod": "bad_person_id"}, {"month": "2022-03"}):
        page = b.get("/fel", params=params)
        assert page.status_code == 200 and "a-3" not in page.text, params
        assert "a-3" not in _csv_contacts(b.get("/fel/ladda-ned", params=params)), params
    assert "a-3" in _csv_contacts(server.browser(server.clinic_a).get("/fel/ladda-ned"))
    assert "a-3" in _csv_contacts(server.browser(server.admin).get("/fel/ladda-ned", params={"klinik": "A1"}))


def test_another_clinics_month_page_is_not_found(server):
    b = server.browser(server.clinic_b)
    r = b.get("/manad", params={"month": "2022-03", "klinik": "A1"})
    assert r.status_code == 404 and "Vårdcentralen Alfa" not in r.text and "Pengar som väntar" not in r.text


def test_signed_out_the_new_pages_open_nothing(server):
    anonymous = server.browser(None)
    for path in ("/fel/ladda-ned", "/fel?kod=bad_person_id", "/manad?month=2022-03"):
        r = anonymous.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/logga-in", path
    # The API's bearer token is no key to the web app's download.
    r = server.client(server.clinic_a).get("/fel/ladda-ned", follow_redirects=False)
    assert r.status_code == 303


def test_rows_sent_on_another_clinics_kombika_are_never_priced_for_the_sender(server):
    attack = [contact("x-1", KB, P_ADULT, diagnoses="XX"), contact("x-2", KA, BAD_PID, diagnoses="XX")]
    assert server.client(server.clinic_a).post("/api/v1/contacts", json={"contacts": attack}).status_code == 200
    r = server.browser(server.clinic_a).get("/fel/ladda-ned")
    rows = {row["Kontakt"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";")}
    assert rows["x-1"]["Kan prissättas"] == "nej" and rows["x-1"]["Ersättning om rättad (kr)"] == ""
    for text in (r.text, server.browser(server.clinic_a).get("/fel").text, server.browser(server.clinic_b).get("/fel").text):
        assert P_ADULT not in text and BAD_PID not in text
