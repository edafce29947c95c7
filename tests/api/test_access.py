"""Access: a clinic sees only its own contacts, statements and traces (another clinic's are 404
by every route); the administrator sees all; person numbers never reach the server's log."""

from __future__ import annotations

import pytest
from af_region import BAD_PID, KA, KB, P_ADULT, P_CHILD, P_OLD, P_OUT, contact

B_ROUTES = [
    "/api/v1/statements/B1/2022-03",
    "/api/v1/capitation/B1/2022-03",
    "/api/v1/acg/B1/2022-03",
    "/api/v1/lines/B1:2022-03:CAP_ACG",
    "/api/v1/lines/B1:2022-03:DED_OWN_ELSEWHERE",
    f"/api/v1/contacts/{KB}/b-1/trace",
    "/api/v1/statements/NO_SUCH_CLINIC/2022-03",
]


@pytest.mark.parametrize("route", B_ROUTES)
def test_clinic_a_cannot_read_clinic_b(server, route):
    r = server.client(server.clinic_a).get(route)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert server.client(server.admin).get(route).status_code == (404 if "NO_SUCH" in route else 200)


def test_lists_are_cut_to_the_clinic(server):
    a = server.client(server.clinic_a)
    assert {s["clinic_id"] for s in a.get("/api/v1/statements").json()["statements"]} == {"A1"}
    assert a.get("/api/v1/statements", params={"clinic_id": "B1"}).status_code == 404
    assert {e["clinic_id"] for e in a.get("/api/v1/errors", params={"clinic_id": "B1"}).json()["errors"]} <= {"A1", None}
    assert {s["clinic_id"] for s in server.client(server.admin).get("/api/v1/statements").json()["statements"]} == {"A1", "B1"}


def test_admin_routes_need_the_admin_role(server):
    a = server.client(server.clinic_a)
    for method, route in (("get", "/api/v1/admin/totals/2022-03"), ("post", "/api/v1/admin/months/2022-03/run"),
                          ("get", "/api/v1/admin/manual-lines"), ("post", "/api/v1/admin/manual-lines"),
                          ("get", "/api/v1/admin/tokens"), ("post", "/api/v1/admin/tokens/x/revoke")):
        r = getattr(a, method)(route)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", route


def test_a_contact_is_visible_to_the_clinic_that_reported_it_and_the_clinic_billed_for_it(server):
    # a-1 at A1 concerns A1 only; a-2 at A1 is billed to B1 too (seed 002: −300 to the listing clinic).
    b = server.client(server.clinic_b)
    assert b.get(f"/api/v1/contacts/{KA}/a-1/trace").status_code == 404
    assert b.get(f"/api/v1/contacts/{KA}/a-3/trace").status_code == 404
    t = b.get(f"/api/v1/contacts/{KA}/a-2/trace").json()
    assert "B1:2022-03:DED_OWN_ELSEWHERE" in [p["line_id"] for p in t["products"]]


def test_zz_no_person_number_in_the_server_log(server):
    # Named to run after the module's other tests; the API tests' traffic is in the same log.
    server.client(server.clinic_a).get(f"/api/v1/contacts/{KA}/a-1/trace")
    log = server.log.read_text()
    assert "GET /api/v1/" in log
    assert not [p for p in (P_ADULT, P_OLD, P_CHILD, P_OUT, BAD_PID) if p in log]


def test_a_revoked_token_signs_nobody_in_and_stays_on_record(server):
    spare = server.client(server.spare)
    assert spare.get("/api/v1/statements").status_code == 200
    token_id = server.spare.split("_")[1]
    admin = server.client(server.admin)
    listed = {t["token_id"]: t for t in admin.get("/api/v1/admin/tokens").json()["tokens"]}
    assert listed[token_id]["revoked_at"] is None and "hash" not in listed[token_id]
    revoked = admin.post(f"/api/v1/admin/tokens/{token_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"].startswith("token:")
    assert spare.get("/api/v1/statements").status_code == 401
    assert admin.post("/api/v1/admin/tokens/nosuch/revoke").status_code == 404
    assert {t["token_id"] for t in admin.get("/api/v1/admin/tokens").json()["tokens"]} >= {token_id}


def test_a_clinic_traces_its_own_rejected_rows_on_a_kombika_no_clinic_owns(server):
    # Unknown to the register: the sender sees what it sent (to fix it), another clinic nothing.
    a = server.client(server.clinic_a)
    out = a.post("/api/v1/contacts", json={"contacts": [contact("u-1", "99999999X99", P_ADULT)]}).json()
    assert [e["code"] for e in out["results"][0]["errors"]] == ["unknown_kombika"]
    t = a.get("/api/v1/contacts/99999999X99/u-1/trace")
    assert t.status_code == 200 and [r["code"] for r in t.json()["rejections"]] == ["unknown_kombika"]
    assert server.client(server.clinic_b).get("/api/v1/contacts/99999999X99/u-1/trace").status_code == 404
