"""A held contact (no residence on the contact date, RULES.md §10) is shown on `/fel` and by
`GET /api/v1/errors` to the clinic owning the kombika, with its code and a Swedish message;
never to another clinic, never with the person number."""

from __future__ import annotations

import pytest
from af_region import KA, contact
from server import start, stop

NOT_IN_PERSONS = "195703311299"  # a valid personnummer the population register does not hold


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("held-page"))
    yield s
    stop(s)


def test_a_held_contact_is_shown_to_its_clinic_only(server):
    c = contact("h-1", KA, NOT_IN_PERSONS, date="2022-03-20", reported_at="2022-03-31T11:00:00")
    assert server.client(server.clinic_a).post("/api/v1/contacts", json={"contacts": [c]}).json()["accepted"] == 1
    assert server.client(server.admin).post("/api/v1/admin/months/2022-03/run", json={}).status_code == 200
    errors = server.client(server.clinic_a).get("/api/v1/errors").json()["errors"]
    held = [e for e in errors if e["kind"] == "held"]
    assert [(e["kombika"], e["contact_id"], e["code"], e["month"]) for e in held] == [(KA, "h-1", "no_residence_on_date", "2022-03")]
    page = server.browser(server.clinic_a).get("/fel")
    assert page.status_code == 200 and "Vilande kontakter" in page.text and "no_residence_on_date" in page.text
    assert NOT_IN_PERSONS not in page.text and NOT_IN_PERSONS not in str(errors)
    other = server.browser(server.clinic_b).get("/fel")
    assert "no_residence_on_date" not in other.text
    assert not [e for e in server.client(server.clinic_b).get("/api/v1/errors").json()["errors"] if e["kind"] == "held"]
    trace = server.client(server.clinic_a).get(f"/api/v1/contacts/{KA}/h-1/trace").json()
    assert trace["held"]["code"] == "no_residence_on_date" and trace["products"] == []
