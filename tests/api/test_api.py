"""The HTTP API against a real server: intake per record with the register's checks and
idempotency, statements and traces, the administrator's run and issue, 4xx JSON for bad requests."""

from __future__ import annotations

import pytest
from af_region import KA, KB, P_ADULT, contact
from server import start, stop

from ersattning.register import CONTACT_ERROR_CODES


def test_without_a_valid_token_everything_is_401_json(server):
    for token in (None, "ers_nope_nope", "Bearer"):
        r = server.client(token).get("/api/v1/statements")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_a_batch_gets_a_result_per_record_and_a_resent_contact_is_unchanged(server):
    a = server.client(server.clinic_a)
    batch = [contact("n-1", KA, P_ADULT, date="2022-03-20", contact_type="video"),
             contact("n-2", KA, P_ADULT, contact_type="teleport"),
             contact("n-3", KB, P_ADULT),
             contact("n-4", "99999999X99", P_ADULT),
             contact("n-5", KA, P_ADULT, date="2999-01-01")]
    r = a.post("/api/v1/contacts", json={"contacts": batch})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows"], out["accepted"], out["rejected"], out["unchanged"]) == (5, 1, 4, 0)
    codes = [[e["code"] for e in res["errors"]] for res in out["results"]]
    assert [res["status"] for res in out["results"]] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert codes == [[], ["bad_contact_type"], ["other_clinic_kombika"], ["unknown_kombika"], ["future_date"]]
    again = a.post("/api/v1/contacts", json={"contacts": batch[:1]}).json()
    assert (again["accepted"], again["unchanged"], again["results"][0]["status"]) == (0, 1, "unchanged")

    errors = a.get("/api/v1/errors", params={"batch_id": out["batch_id"]}).json()["errors"]
    assert {e["code"] for e in errors} == {"bad_contact_type", "other_clinic_kombika", "unknown_kombika", "future_date"}
    assert all(e["what_to_do"] == CONTACT_ERROR_CODES[e["code"]] for e in errors)
    # The rows on an unknown kombika and on B's are the sender's to fix: A sees them, B does not.
    b_errors = server.client(server.clinic_b).get("/api/v1/errors").json()["errors"]
    assert not [e for e in b_errors if e["batch_id"] == out["batch_id"]]
    trace = a.get(f"/api/v1/contacts/{KA}/n-1/trace").json()
    assert trace["status"] == "accepted" and trace["products"][0]["product_code"] == "VF_BASE"
    # Received after March was computed: not on a line yet, and the line's trace does not count it.
    assert trace["after_run"] and trace["products"][0]["line_id"] is None


def test_a_clinic_reads_its_statement_and_drills_down_to_a_contact(server):
    a = server.client(server.clinic_a)
    s = a.get("/api/v1/statements/A1/2022-03").json()
    assert s["statement"]["total_ore"] == sum(line["amount_ore"] for line in s["lines"])
    assert sum(c["amount_ore"] for c in s["components"]) == s["statement"]["total_ore"]
    base = next(line for line in s["lines"] if line["product_code"] == "VF_BASE")
    assert (base["quantity"], base["amount_ore"]) == ("2.000000", 2 * 110_00)  # RULES.md §3: 110 SEK a visit
    line = a.get(f"/api/v1/lines/{base['line_id']}").json()
    assert [r["contact_id"] for r in line["behind"]["rows"]] == ["a-1", "a-2"]
    trace = a.get(f"/api/v1/contacts/{KA}/a-2/trace").json()
    assert base["line_id"] in [p["line_id"] for p in trace["products"]]
    cap = a.get("/api/v1/capitation/A1/2022-03").json()
    assert {ln["component"] for ln in cap["lines"]} >= {"capitation_age", "capitation_acg", "capitation_cni"}
    acg = a.get("/api/v1/acg/A1/2022-03").json()
    # A1 lists weights 1.2 and 2.5, the region also 0.4 (tests/af_region.py)
    assert (acg["clinic_mean"], acg["region_mean"], acg["clinic_persons"], acg["region_persons"]) == ("1.8500", "1.3667", 2, 3)
    assert sum(b["clinic_persons"] for b in acg["bands"]) == 2


def test_the_administrator_runs_and_issues_a_month_and_an_issued_month_stays(server):
    admin = server.client(server.admin)
    r = admin.post("/api/v1/admin/months/2022-04/run", json={"issue": False}).json()
    assert (r["status"], r["changed"]) == ("draft", True)
    r = admin.post("/api/v1/admin/months/2022-04/run", json={"issue": True}).json()
    assert (r["status"], r["changed"]) == ("issued", True)
    r = admin.post("/api/v1/admin/months/2022-04/run", json={"issue": False}).json()
    assert (r["status"], r["changed"]) == ("issued", False)
    months = {m["month"]: m["status"] for m in server.client(server.clinic_a).get("/api/v1/months").json()["months"]}
    assert months["2022-04"] == "issued"
    totals = admin.get("/api/v1/admin/totals/2022-04").json()
    assert totals["status"] == "issued" and totals["total_ore"] == sum(c["amount_ore"] for c in totals["components"])
    assert admin.get("/api/v1/statements/B1/2022-04").status_code == 200


def test_bad_requests_are_4xx_json_never_500(server):
    a = server.client(server.clinic_a)
    cases = [
        a.post("/api/v1/contacts", content=b'{"contacts": [', headers={"content-type": "application/json"}),
        a.post("/api/v1/contacts", json={"contacts": [{"contact_id": 5}]}),
        a.post("/api/v1/contacts", json={"nothing": []}),
        a.post("/api/v1/contacts", json={"contacts": [{}] * 5001}),
        a.post("/api/v1/contacts", content=b"x" * (9 << 20), headers={"content-type": "application/json"}),
        a.get("/api/v1/statements/A1/2022-13"),
        a.get("/api/v1/statements", params={"month": "march"}),
        a.get("/api/v1/lines/" + "x" * 400),
        a.get("/api/v1/nowhere"),
        a.post("/api/v1/admin/months/2022-05/run"),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text[:200])
        assert set(r.json()["error"]) >= {"code", "message"}
    assert [r.status_code for r in cases] == [422, 422, 422, 422, 413, 422, 422, 422, 404, 403]
    # A validation error names where, never echoes the value (it may be a person number).
    r = a.post("/api/v1/contacts", json={"contacts": [{"person_id": int(P_ADULT)}]})
    assert r.status_code == 422 and P_ADULT not in r.text


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """A server of its own with a small bucket: a burst of 5, refilled one post in ten seconds."""
    s = start(tmp_path_factory.mktemp("rate"), burst=5, rate=0.1)
    yield s
    stop(s)


def test_intake_is_rate_limited_per_token_with_429_json(slow_server):
    server = slow_server
    b = server.client(server.rate_token)
    batch = {"contacts": [contact("rate-1", KB, P_ADULT, date="2022-05-02")]}  # accepted once, then unchanged
    # A burst of 5 refilled every ten seconds: posting until the bucket is empty meets a 429
    # within 40 posts unless each post takes over eight seconds (40 posts > 5 + 0.1 × 40 × d);
    # the shared server's bucket of 30 at 2 a second failed once a post took half a second.
    statuses = []
    while len(statuses) < 40 and 429 not in statuses:
        statuses.append(b.post("/api/v1/contacts", json=batch).status_code)
    assert statuses[0] == 200 and 429 in statuses and statuses.index(429) >= 5
    r = b.post("/api/v1/contacts", json=batch)
    if r.status_code == 429:
        assert r.json()["error"]["code"] == "too_many_requests"
    # Another token is not slowed down by this one.
    assert server.client(server.clinic_b).post("/api/v1/contacts", json=batch).status_code == 200


def test_the_openapi_schema_and_docs_are_served(server):
    schema = server.client(None).get("/openapi.json").json()
    assert "/api/v1/contacts" in schema["paths"] and "/api/v1/lines/{line_id}" in schema["paths"]
    assert server.client(None).get("/docs").status_code == 200


def test_the_administrator_adds_a_manual_line_and_it_is_traced_to_its_entry(server):
    admin = server.client(server.admin)
    body = {"clinic_id": "A1", "month": "2022-03", "kind": "collaboration", "amount_ore": 1_250_00,
            "reason": "samverkan med BVC", "reference": "avtal 12"}
    row = admin.post("/api/v1/admin/manual-lines", json=body)
    assert row.status_code == 200, row.text
    manual_id = row.json()["manual_id"]
    listed = admin.get("/api/v1/admin/manual-lines", params={"month": "2022-03"}).json()["manual_lines"]
    assert [m["manual_id"] for m in listed] == [manual_id]
    lines = server.client(server.clinic_a).get("/api/v1/statements/A1/2022-03").json()["lines"]
    line = next(ln for ln in lines if ln["rule"] == f"manual:{manual_id}")
    assert line["amount_ore"] == 1_250_00
    behind = server.client(server.clinic_a).get(f"/api/v1/lines/{line['line_id']}").json()["behind"]
    assert behind["kind"] == "manual" and behind["rows"][0]["reason"] == "samverkan med BVC"
    # Refused: an issued month (2022-04 was issued above), an unknown kind, a clinic's token.
    r = admin.post("/api/v1/admin/manual-lines", json={**body, "month": "2022-04"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "refused"
    assert admin.post("/api/v1/admin/manual-lines", json={**body, "kind": "bonus"}).status_code == 422
    assert server.client(server.clinic_a).post("/api/v1/admin/manual-lines", json=body).status_code == 403


def test_a_decided_penalty_through_the_api_is_negative_and_a_positive_one_is_refused(server):
    # 003 Bilaga 1 "Vite för bristande inrapportering": a manual line of kind penalty_reporting.
    admin = server.client(server.admin)
    body = {"clinic_id": "A1", "month": "2022-03", "kind": "penalty_reporting", "amount_ore": 300_000,
            "reason": "bristande inrapportering", "reference": "beslut 7"}
    r = admin.post("/api/v1/admin/manual-lines", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "refused"
    assert "amount_ore must be negative for penalty_reporting" in r.json()["error"]["message"]
    row = admin.post("/api/v1/admin/manual-lines", json={**body, "amount_ore": -300_000})
    assert row.status_code == 200 and row.json()["amount_ore"] == -300_000
