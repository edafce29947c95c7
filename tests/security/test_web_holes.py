"""Hostile cases against the web app on a real server (issue 10, points 2, 6 and 7), one test per
hole, as a browser would send them (httpx, following the sign-in form): cross-site posts, the
cookie, sessions, headers, planted messages, the manual-line form's amounts and contact pages."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from af_region import BAD_PID, KB, contact
from server import start, stop

EVIL = "https://evil.example"


def browser(server, token: str | None = None, https: bool = False) -> httpx.Client:
    """A browser's view of the site: its cookies, its Origin on every POST; signed in with `token`.
    `https`: as behind a TLS proxy on this host (X-Forwarded-Proto, which uvicorn trusts from 127.0.0.1)."""
    origin = server.url.replace("http://", "https://") if https else server.url
    headers = {"origin": origin, **({"x-forwarded-proto": "https"} if https else {})}
    client = httpx.Client(base_url=server.url, headers=headers, timeout=60, follow_redirects=False)
    if token is not None:
        assert client.get("/logga-in").status_code == 200
        r = client.post("/logga-in", data={"token": token})
        assert r.status_code == 303, r.text[:300]
    return client


def csrf(client: httpx.Client, path: str = "/admin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def month_status(server, month: str = "2022-03") -> str | None:
    months = server.client(server.admin).get("/api/v1/months").json()["months"]
    return {m["month"]: m["status"] for m in months}.get(month)


def test_a_contact_page_is_not_opened_by_a_rejected_row_on_another_clinics_kombika(server):
    attack = [contact("b-1", KB, BAD_PID), contact("b-1", f" {KB}\t", BAD_PID)]
    assert server.client(server.clinic_a).post("/api/v1/contacts", json={"contacts": attack}).status_code == 200
    a = browser(server, server.clinic_a)
    r = a.get(f"/kontakt/{KB}/b-1")
    assert r.status_code == 404 and "Hittades inte" in r.text and "GVR" not in r.text
    # Its own list of errors does not link there either.
    assert f'href="/kontakt/{KB}/b-1"' not in a.get("/fel").text
    assert browser(server, server.clinic_b).get(f"/kontakt/{KB}/b-1").status_code == 200


@pytest.mark.parametrize("headers", [{"origin": EVIL}, {"origin": "null"}, {"origin": None, "referer": EVIL + "/admin"},
                                     {"origin": None}])
def test_a_post_from_another_site_is_refused(server, headers):
    admin = browser(server, server.admin)
    token = csrf(admin)
    forged = {k: v for k, v in headers.items() if v is not None}
    for k, v in headers.items():
        if v is None:
            admin.headers.pop(k, None)
    admin.headers.update(forged)
    r = admin.post("/admin/korning", data={"csrf": token, "month": "2022-03", "action": "issue"})
    assert r.status_code == 403
    r = admin.post("/logga-in", data={"token": server.admin})  # login CSRF: signing a victim in as someone
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert month_status(server) == "draft"


def test_a_post_with_the_right_referer_and_no_origin_is_taken(server):
    admin = browser(server, server.admin)
    token = csrf(admin)
    admin.headers.pop("origin")
    r = admin.post("/admin/korning", data={"csrf": token, "month": "2022-03", "action": "draft"},
                   headers={"referer": server.url + "/admin"})
    assert r.status_code == 303


@pytest.mark.parametrize("route, data", [
    ("/admin/korning", {"month": "2022-03", "action": "issue"}),
    ("/admin/manuell-rad", {"clinic_id": "A1", "month": "2022-03", "kind": "collaboration", "amount_sek": "100",
                            "reason": "planterad"}),
    ("/logga-ut", {}),
])
@pytest.mark.parametrize("sent", [None, "", "x" * 43])
def test_a_post_without_the_sessions_csrf_token_is_refused(server, route, data, sent):
    admin = browser(server, server.admin)
    body = data if sent is None else {**data, "csrf": sent}
    r = admin.post(route, data=body)
    assert r.status_code == 403, (route, r.status_code)
    assert admin.get("/admin").status_code == 200  # still signed in: the refused logout ended nothing
    assert month_status(server) == "draft"
    assert "planterad" not in admin.get("/admin?month=2022-03").text


def test_an_upload_without_the_csrf_token_is_refused(server):
    admin = browser(server, server.admin)
    r = admin.post("/admin/inlasning", files={"files": ("clinics.csv", b"clinic_id,name,group_id,area_code,opened\n")})
    assert r.status_code == 403


def test_another_sessions_csrf_token_does_not_do(server):
    one, other = browser(server, server.admin), browser(server, server.admin)
    r = other.post("/admin/korning", data={"csrf": csrf(one), "month": "2022-03", "action": "issue"})
    assert r.status_code == 403 and month_status(server) == "draft"


def test_the_cookie_holds_a_session_id_not_the_token(server):
    client = browser(server)
    client.get("/logga-in")
    r = client.post("/logga-in", data={"token": server.clinic_a})
    cookie = r.headers["set-cookie"]
    value = client.cookies["ersattning_session"]
    assert server.clinic_a not in cookie and not value.startswith("ers_") and len(value) >= 40
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "secure" not in cookie.lower()
    assert "ersattning_token" not in client.cookies
    # The session id is no API key either.
    assert server.client(value).get("/api/v1/me").status_code == 401


def test_a_session_cookie_is_secure_over_https(server):
    client = browser(server, https=True)
    client.get("/logga-in")
    r = client.post("/logga-in", data={"token": server.clinic_a})
    assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()


def test_logging_out_ends_the_session_on_the_server(server):
    client = browser(server, server.clinic_a)
    old = client.cookies["ersattning_session"]
    assert client.get("/manad").status_code == 200
    assert client.post("/logga-ut", data={"csrf": csrf(client, "/manad")}).status_code == 303
    # The old cookie, kept by an attacker or a shared computer, opens nothing now.
    replay = httpx.Client(base_url=server.url, cookies={"ersattning_session": old}, follow_redirects=False)
    r = replay.get("/manad")
    assert r.status_code == 303 and r.headers["location"] == "/logga-in"


def test_revoking_a_token_ends_its_sessions(server):
    client = browser(server, server.spare)
    assert client.get("/manad").status_code == 200
    token_id = server.spare.split("_")[1]
    assert server.client(server.admin).post(f"/api/v1/admin/tokens/{token_id}/revoke").status_code == 200
    r = client.get("/manad")
    assert r.status_code == 303 and r.headers["location"] == "/logga-in"


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """A server whose web sessions last 3.6 seconds."""
    s = start(tmp_path_factory.mktemp("short"), args=("--session-hours", "0.001"))
    yield s
    stop(s)


def test_a_session_expires(short):
    client = browser(short, short.clinic_a)
    assert client.get("/fel").status_code == 200
    time.sleep(4)
    r = client.get("/fel")
    assert r.status_code == 303 and r.headers["location"] == "/logga-in"


HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


@pytest.mark.parametrize("path", ["/logga-in", "/manad", "/kontakt/x/y", "/static/app.css", "/api/v1/me",
                                  "/api/v1/nowhere", "/openapi.json", "/docs"])
def test_every_answer_carries_the_security_headers(server, path):
    r = browser(server, server.clinic_a).get(path)
    assert {k: r.headers.get(k) for k in HEADERS} == HEADERS, path
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


@pytest.mark.parametrize("token, path", [("clinic_a", "/manad"), ("clinic_a", "/fel"), ("clinic_a", "/acg"),
                                         ("clinic_a", "/rad/A1%3A2022-03%3AVF_BASE"), ("clinic_a", "/kontakt/11010046M30/a-2"),
                                         ("admin", "/admin"), (None, "/logga-in")])
def test_the_pages_need_no_inline_script_or_style(server, token, path):
    # The policy allows no inline script or style: a page that had one would break, or need a hole in it.
    r = browser(server, getattr(server, token) if token else None).get(path)
    assert r.status_code == 200, (path, r.status_code)
    html = r.text
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"


def test_admin_shows_no_message_from_the_url(server):
    admin = browser(server, server.admin)
    planted = "Betala 250000 kr till bankgiro 123-4567"
    page = admin.get("/admin", params={"message": planted}).text
    assert "bankgiro" not in page and 'id="meddelande"' not in page
    # Its own message after an action still shows, once.
    r = admin.post("/admin/korning", data={"csrf": csrf(admin), "month": "2022-03", "action": "draft"})
    assert r.status_code == 303 and "message" not in r.headers["location"]
    assert '<p class="message" id="meddelande">2022-03: utkast' in admin.get(r.headers["location"]).text
    assert 'id="meddelande"' not in admin.get(r.headers["location"]).text


@pytest.mark.parametrize("amount", ["Infinity", "-Infinity", "inf", "nan", "NaN", "1e30", "1E3", "99999999999999999999",
                                    "100000000000.01", "-100000000000.01", "1.005", "12,345", "1 25", "0x10", "١٢٣",
                                    "--5", "5-", "", " ", "1.2.3", "12 500,5,0"])
def test_the_manual_line_form_refuses_a_bad_amount_with_422_and_a_message(server, amount):
    admin = browser(server, server.admin)
    r = admin.post("/admin/manuell-rad", data={"csrf": csrf(admin), "clinic_id": "A1", "month": "2022-03",
                                               "kind": "collaboration", "amount_sek": amount, "reason": "prov"})
    assert r.status_code == 422, (amount, r.status_code)
    assert 'id="felmeddelande"' in r.text and "belopp" in r.text.lower(), r.text[:500]


@pytest.mark.parametrize("amount, ore", [("1 250,50", 125050), ("-300,5", -30050), ("+12500", 1250000),
                                         ("100000000000", 10**13), ("1\u00a0000.05", 100005)])
def test_the_manual_line_form_takes_kronor_as_people_write_them(server, amount, ore):
    admin = browser(server, server.admin)
    reason = f"form {amount}"
    r = admin.post("/admin/manuell-rad", data={"csrf": csrf(admin), "clinic_id": "A1", "month": "2022-04",
                                               "kind": "collaboration", "amount_sek": amount, "reason": reason})
    assert r.status_code == 303, r.text[:300]
    lines = server.client(server.admin).get("/api/v1/admin/manual-lines", params={"month": "2022-04"}).json()["manual_lines"]
    assert [m["amount_ore"] for m in lines if m["reason"] == reason] == [ore]


def test_an_upload_with_the_csrf_token_gets_through_to_the_load(server):
    # The guard reads the CSRF field of a multipart form too: a bad file name is the load's own refusal.
    admin = browser(server, server.admin)
    r = admin.post("/admin/inlasning", data={"csrf": csrf(admin)}, files={"files": ("notes.txt", b"x")})
    assert r.status_code == 422
