"""The web app's trace pages show what paid (issue 11, point 3): a contact's page names the
decision-table row that gave each product; a capitation line lists each person's part of the
basis; an adjustment line links to the line it corrects with what was paid and what it is now."""

from __future__ import annotations

import pytest
from af_region import KA, P_ADULT, contact
from server import start, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("trace-pages"))
    yield s
    stop(s)


def test_a_contact_page_names_the_decision_row_of_each_product(server):
    page = server.browser(server.clinic_a).get(f"/kontakt/{KA}/a-1")
    assert page.status_code == 200, page.text[:300]
    assert "Beslutad av" in page.text and "visit_fee.decision_table" in page.text and "(version 2021-02-01)" in page.text


def test_a_capitation_line_shows_each_persons_part_of_the_basis(server):
    page = server.browser(server.clinic_a).get("/rad/A1:2022-03:CAP_ACG")
    assert page.status_code == 200, page.text[:300]
    assert "Bidrag till underlaget" in page.text and "ersattning.products.capitation" in page.text
    assert "1,2" in page.text and "2,5" in page.text  # P_ADULT's and P_OLD's ACG weights, with a decimal comma


def test_an_adjustment_line_links_to_the_line_it_corrects_with_paid_and_now(server):
    admin = server.client(server.admin)
    assert admin.post("/api/v1/admin/months/2022-03/run", json={"issue": True}).status_code == 200
    late = contact("a-9", KA, P_ADULT, date="2022-03-20", reported_at="2022-04-10T09:00:00")
    assert server.client(server.clinic_a).post("/api/v1/contacts", json={"contacts": [late]}).json()["accepted"] == 1
    assert admin.post("/api/v1/admin/months/2022-04/run", json={}).status_code == 200
    lines = admin.get("/api/v1/statements/A1/2022-04").json()["lines"]
    adjustment = next(ln for ln in lines if ln["line_id"] == "A1:2022-04:ADJ:A1:2022-03:VF_BASE")
    trace = admin.get(f"/api/v1/lines/{adjustment['line_id']}").json()
    behind = trace["behind"]
    assert (behind["kind"], behind["corrects_month"], behind["corrects_line_id"]) == ("adjustment", "2022-03", "A1:2022-03:VF_BASE")
    # Paid for 2 base visits in March; a third came late: now 3, the difference one visit's fee.
    assert behind["now_ore"] - behind["paid_ore"] == behind["difference_ore"] == adjustment["amount_ore"] > 0
    assert behind["now_ore"] * 2 == behind["paid_ore"] * 3
    page = server.browser(server.clinic_a).get(f"/rad/{adjustment['line_id']}")
    assert page.status_code == 200, page.text[:300]
    assert "Utbetalt" in page.text and ">A1:2022-03:VF_BASE</a>" in page.text and 'href="/rad/A1' in page.text
