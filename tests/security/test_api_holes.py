"""Hostile cases against the HTTP API on a real server (issue 10, points 2, 6, 7 and 10), one test
per hole: a trace bought with a rejected row, money that is not a bounded integer, the cookie as
an API key, expired tokens, and the API's loose ends (empty batch, 405, encodings, schema, /docs)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urljoin

import pytest
from af_region import BAD_PID, KB, contact
from server import start, stop
from typer.testing import CliRunner

from ersattning.statements import MANUAL_COMPONENTS

MANUAL = {"clinic_id": "A1", "month": "2022-03", "kind": "collaboration", "reason": "samverkan med BVC"}


def _manual_body(amount_json: str) -> bytes:
    # Raw JSON text: `Infinity`, `NaN` and 20-digit integers cannot be written with json.dumps.
    return ('{"clinic_id": "A1", "month": "2022-03", "kind": "collaboration", "reason": "x", "amount_ore": %s}'
            % amount_json).encode()


def test_a_rejected_row_on_another_clinics_kombika_does_not_open_its_trace(server):
    a = server.client(server.clinic_a)
    # An invalid row on B's kombika and B's contact id (ids are sequential): as it is, and with the
    # whitespace the register trims, so that it is stored as a rejection of B's contact.
    attack = [contact("b-1", KB, BAD_PID), contact("b-1", f" {KB}\t", BAD_PID)]
    assert a.post("/api/v1/contacts", json={"contacts": attack}).status_code == 200
    r = a.get(f"/api/v1/contacts/{KB}/b-1/trace")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found" and "received" not in r.text
    # B, whose contact it is, and the administrator still see it.
    assert server.client(server.clinic_b).get(f"/api/v1/contacts/{KB}/b-1/trace").json()["status"] == "accepted"
    assert server.client(server.admin).get(f"/api/v1/contacts/{KB}/b-1/trace").status_code == 200


@pytest.mark.parametrize("amount", ["Infinity", "-Infinity", "NaN", "1e30", "99999999999999999999", "10000000000001",
                                    "-10000000000001", "true", "1.0", "12.5", '"100"', "null"])
def test_a_manual_line_amount_is_a_bounded_json_integer_or_422(server, amount):
    r = server.client(server.admin).post("/api/v1/admin/manual-lines", content=_manual_body(amount),
                                         headers={"content-type": "application/json"})
    assert r.status_code == 422, (amount, r.status_code, r.text[:200])
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and "amount_ore" in error["message"]


def test_a_manual_line_amount_at_the_bound_is_taken(server):
    r = server.client(server.admin).post("/api/v1/admin/manual-lines", json={**MANUAL, "amount_ore": -10**13})
    assert r.status_code == 200 and r.json()["amount_ore"] == -10**13


def test_the_api_does_not_take_the_web_cookie_as_a_key(server):
    # Old cookie name with a valid token in it, as the web app used to set it: no key for the API.
    r = server.client(None).get("/api/v1/me", cookies={"ersattning_token": server.admin})
    assert r.status_code == 401
    r = server.client(None).post("/api/v1/admin/months/2022-03/run", json={"issue": True},
                                 cookies={"ersattning_token": server.admin})
    assert r.status_code == 401
    assert server.client(server.admin).get("/api/v1/months").json()["months"][0]["status"] != "issued"


@pytest.fixture(scope="module")
def expiring(tmp_path_factory):
    """A server whose database holds a clinic token that expired yesterday and one that expires next year."""
    made = {}

    def prepare(con):
        from ersattning.api.tokens import create_token

        soon = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
        made["expired"] = create_token(con, clinic_id="A1", expires_at=soon)
        con.execute("UPDATE api_tokens SET expires_at = expires_at - INTERVAL 2 DAY WHERE token_id = ?",
                    [made["expired"].split("_")[1]]).fetchall()
        made["valid"] = create_token(con, clinic_id="A1", expires_at=soon + dt.timedelta(days=365))

    s = start(tmp_path_factory.mktemp("expiring"), prepare=prepare)
    yield s, made
    stop(s)


def test_an_expired_token_is_401(expiring):
    s, made = expiring
    r = s.client(made["expired"]).get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert s.client(made["valid"]).get("/api/v1/me").status_code == 200
    listed = {t["token_id"]: t for t in s.client(s.admin).get("/api/v1/admin/tokens").json()["tokens"]}
    assert listed[made["expired"].split("_")[1]]["expires_at"] < dt.datetime.now(dt.timezone.utc).isoformat()
    assert listed[s.admin.split("_")[1]]["expires_at"] is None


def test_token_create_takes_an_expiry_and_refuses_a_past_one(tmp_path):
    from af_region import build

    from ersattning.cli import app

    build(tmp_path / "t.duckdb").con.disconnect()
    db = str(tmp_path / "t.duckdb")
    runner = CliRunner()
    made = runner.invoke(app, ["token", "create", "--db", db, "--clinic", "A1", "--expires", "2099-01-31"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["token", "list", "--db", db], env={"COLUMNS": "200"})
    assert "2099-01-31 23:59" in listed.output
    assert runner.invoke(app, ["token", "create", "--db", db, "--admin", "--expires", "2020-01-01"]).exit_code != 0
    assert runner.invoke(app, ["token", "create", "--db", db, "--admin", "--expires", "31/01/2099"]).exit_code != 0


def test_an_empty_batch_is_422(server):
    r = server.client(server.clinic_a).post("/api/v1/contacts", json={"contacts": []})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/v1/contacts", {"POST"}),
    ("DELETE", "/api/v1/statements/A1/2022-03", {"GET"}),
    ("PATCH", "/logga-in", {"GET", "POST"}),
    ("POST", "/openapi.json", {"GET", "HEAD"}),
    ("DELETE", "/static/app.css", {"GET", "HEAD"}),
])
def test_a_405_answer_carries_allow(server, method, path, allowed):
    r = server.client(server.admin).request(method, path)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == allowed


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "latin-1"])
def test_a_body_that_is_not_utf8_is_a_documented_400(server, encoding):
    body = '{"contacts": [{"contact_id": "kö-1", "kombika": "11010046M30"}]}'.encode(encoding)
    r = server.client(server.clinic_a).post("/api/v1/contacts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_encoding"
    schema = server.client(None).get("/openapi.json").json()
    for path in ("/api/v1/contacts", "/api/v1/admin/manual-lines", "/api/v1/admin/months/{month}/run"):
        assert "bad_encoding" in schema["paths"][path]["post"]["responses"]["400"]["description"]


def test_the_manual_line_kind_is_an_enum_in_the_schema(server):
    schema = server.client(None).get("/openapi.json").json()
    kind = schema["components"]["schemas"]["ManualLineIn"]["properties"]["kind"]
    assert kind["enum"] == list(MANUAL_COMPONENTS)


def test_docs_fetch_nothing_from_outside(server):
    client = server.client(None)
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(urls) >= 3  # the script, the stylesheet, the icon
    for url in urls:
        assert urljoin(server.url + "/docs", url).startswith(server.url + "/"), url
        assert client.get(url).status_code == 200, url
    # The one inline script runs by the page's nonce; no other inline script may.
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in page.text and "unsafe-inline" not in csp


def test_a_server_error_still_carries_the_security_headers(tmp_path):
    # A bug's 500 is answered outside the app's handlers; it gets the same headers as every answer.
    from af_region import build
    from fastapi.testclient import TestClient

    from ersattning.api import create_app

    build(tmp_path / "e.duckdb").con.disconnect()
    app = create_app(tmp_path / "e.duckdb")

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("a bug")

    r = TestClient(app, raise_server_exceptions=False).get("/api/v1/boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]
