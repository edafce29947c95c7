"""The job history (jobs.py) and its views: a failed operation is recorded 'failed' with its message
while its transaction is rolled back; progress is visible to another connection while the job is
open; the API's /jobs routes and the /jobs page are the administrator's only, and answer while a
run holds the server's lock."""

from __future__ import annotations

import json
import threading

import duckdb
import pytest
from af_region import build
from fastapi.testclient import TestClient

from ersattning.api import create_app
from ersattning.api.tokens import create_token
from ersattning.jobs import get_job, job, list_jobs
from ersattning.store import transaction


@pytest.fixture()
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "j.duckdb"))
    c.execute("CREATE TABLE t (x INTEGER)")
    yield c
    c.close()


def test_a_job_that_ends_well_is_done_with_its_hashes(con):
    with job(con, "run", {"month": "2022-03", "issue": True}, "token:ab12cd34", "api", total=3) as j:
        j.progress(1, "capitation")
        j.finish(rulebook="rules/", rulebook_hash="r" * 64, result_hash="h" * 64)
    row = get_job(con, j.job_id)
    assert (row["status"], row["kind"], row["via"], row["requested_by"]) == ("done", "run", "api", "token:ab12cd34")
    # Done: all steps done, whatever the last progress said.
    assert (row["progress_done"], row["progress_total"], row["progress_text"]) == (3, 3, "capitation")
    assert (row["rulebook"], row["rulebook_hash"], row["result_hash"]) == ("rules/", "r" * 64, "h" * 64)
    assert json.loads(row["args"]) == {"month": "2022-03", "issue": True}
    assert row["finished_at"] >= row["started_at"] and row["message"] is None


def test_a_failure_is_recorded_and_its_transaction_rolled_back(con):
    with pytest.raises(ValueError, match="no rate for 2031"):
        with job(con, "run", {"month": "2031-01"}, "anna", "cli", total=1) as j:
            with transaction(con):
                con.execute("INSERT INTO t VALUES (1)")
                j.progress(0, "half way")
                raise ValueError("no rate for 2031")
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]  # the operation's write is undone
    row = get_job(con, j.job_id)  # the job row is not
    assert (row["status"], row["message"], row["progress_text"]) == ("failed", "no rate for 2031", "half way")
    assert row["finished_at"] is not None


def test_progress_is_seen_by_another_connection_while_the_job_runs(con):
    other = con.cursor()
    with job(con, "load", {"files": ["clinics.csv"]}, "anna", "cli", total=4) as j:
        with transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            j.progress(2, "persons")
            seen = other.execute("SELECT status, progress_done, progress_total, progress_text FROM jobs WHERE job_id = ?",
                                 [j.job_id]).fetchall()
            assert seen == [("running", 2, 4, "persons")]
            assert other.execute("SELECT count(*) FROM t").fetchall() == [(0,)]  # the operation's rows are not
    assert other.execute("SELECT status FROM jobs").fetchall() == [("done",)]


def test_a_person_number_never_reaches_the_history(con):
    with pytest.raises(RuntimeError):
        with job(con, "load", {"folder": "in/198005171234"}, "anna", "cli"):
            raise RuntimeError("bad row for 19800517-1234")
    [row] = list_jobs(con)
    assert "1234" not in row["args"] + row["message"]
    assert "[personnummer]" in row["args"] and "[personnummer]" in row["message"]


def test_the_list_is_newest_first_and_limited(con):
    assert list_jobs(con) == [] and get_job(con, 1) is None  # no history yet
    for month in ("2022-01", "2022-02", "2022-03"):
        with job(con, "run", {"month": month}, "anna", "cli"):
            pass
    assert [json.loads(r["args"])["month"] for r in list_jobs(con, 2)] == ["2022-03", "2022-02"]
    with pytest.raises(ValueError):
        with job(con, "run", {}, "anna", "by pigeon"):
            pass


# --- the API's routes and the web page -----------------------------------------------------------

@pytest.fixture()
def site(tmp_path):
    db = tmp_path / "af.duckdb"
    engine = build(db)
    tokens = {"admin": create_token(engine.con.con, admin=True), "clinic": create_token(engine.con.con, clinic_id="A1")}
    engine.con.disconnect()
    app = create_app(db)
    return TestClient(app), app.state.ersattning, tokens


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_lists_jobs_for_the_administrator_only(site):
    client, st, tokens = site
    r = client.post("/api/v1/admin/months/2022-03/run", headers=bearer(tokens["admin"]), json={"issue": False})
    assert r.status_code == 200, r.text
    jobs = client.get("/api/v1/jobs", headers=bearer(tokens["admin"])).json()["jobs"]
    assert [(j["kind"], j["via"], j["status"], j["args"]) for j in jobs] == [("run", "api", "done", {
        "months": "2022-03", "issue": False, "reform": None, "as_of": None, "sample_persons": None})]
    admin_id = tokens["admin"][4:12]
    assert jobs[0]["requested_by"] == f"token:{admin_id}" and len(jobs[0]["result_hash"]) == 64
    one = client.get(f"/api/v1/jobs/{jobs[0]['job_id']}", headers=bearer(tokens["admin"]))
    assert one.status_code == 200 and one.json() == jobs[0]
    assert client.get("/api/v1/jobs/999", headers=bearer(tokens["admin"])).status_code == 404
    for route in ("/api/v1/jobs", f"/api/v1/jobs/{jobs[0]['job_id']}"):
        assert client.get(route, headers=bearer(tokens["clinic"])).status_code == 403
        assert client.get(route).status_code == 401


def test_a_refused_run_is_a_failed_job(site):
    client, st, tokens = site
    r = client.post("/api/v1/admin/months/2099-01/run", headers=bearer(tokens["admin"]))
    assert r.status_code == 422
    [j] = client.get("/api/v1/jobs", headers=bearer(tokens["admin"])).json()["jobs"]
    assert j["status"] == "failed" and j["message"] == r.json()["error"]["message"]


def test_jobs_answer_while_a_run_holds_the_lock(site):
    client, st, tokens = site
    answers = []
    with st.lock:  # as a month's run does, to its end
        with job(st.engine, "run", {"month": "2022-03"}, "anna", "cli→server", total=2) as j:
            j.progress(1, "2022-03 capitation")
            asking = threading.Thread(target=lambda: answers.append(client.get("/api/v1/jobs", headers=bearer(tokens["admin"]))))
            asking.start()
            asking.join(30)
            assert not asking.is_alive(), "the jobs route waited for the server's lock"
    [seen] = answers[0].json()["jobs"]
    assert (seen["status"], seen["progress_done"], seen["progress_total"], seen["progress_text"]) == \
        ("running", 1, 2, "2022-03 capitation")


def signed_in(client: TestClient, token: str) -> TestClient:
    client.headers["origin"] = "http://testserver"
    r = client.post("/logga-in", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def test_the_jobs_page_is_the_administrators(site):
    client, st, tokens = site
    with job(st.engine, "load", {"files": ["clinics.csv"]}, "anna", "cli→server", total=3) as j:
        j.progress(1, "clinics")
        page = signed_in(client, tokens["admin"]).get("/jobs")
        assert page.status_code == 200
        html = page.text
        for label in ("Jobb", "Startat", "Klart", "Av", "Status", "Förlopp", "Regelbok", "Resultat (hash)"):
            assert f"<th scope=\"col\">{label}</th>" in html
        assert "inläsning" in html and "pågår" in html and "anna" in html and 'http-equiv="refresh"' in html
        assert '<a href="/jobs">Jobb</a>' in client.get("/admin").text
    assert 'http-equiv="refresh"' not in client.get("/jobs").text  # nothing runs: no reloading
    assert "klart" in client.get("/jobs").text
    clinic = signed_in(TestClient(client.app), tokens["clinic"])
    assert clinic.get("/jobs").status_code == 403
    assert TestClient(client.app).get("/jobs", follow_redirects=False).status_code == 303  # to the sign-in page
