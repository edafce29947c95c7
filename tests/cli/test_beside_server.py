"""The CLI beside a running `ersattning serve` (real processes): two identical copies of the tiny
AF region, one served; every command run on the served copy (sent to the server) prints, exits and
writes what it does on the other copy with no server. A load while the server runs is served at
once; the job history says which commands went through the server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import openpyxl
import pytest
from af_region import KA, P_OLD, P_OUT, build, contact
from server import launch

import ersattning
from ersattning import remote, rulebook
from ersattning.api.tokens import create_token
from ersattning.jobs import list_jobs
from ersattning.store import add_manual_line, open_engine, run_month
from ersattning.trace import person_key

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not remote.supported(), reason="needs Unix sockets with peer credentials")]

SRC = str(Path(ersattning.__file__).resolve().parents[1])
CLIENT_ENV = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "150"}
# The server gets no COLUMNS: the tables it prints for a client are laid out for the client's width.
SERVER_ENV = {k: v for k, v in CLIENT_ENV.items() if k != "COLUMNS"}
CLINICS = ("clinic_id,name,group_id,area_code,opened,closed,org_number\nA1,Vårdcentralen Alfa,GA,0180,2015-01-01,,559900-0014\n"
           "B1,Vårdcentralen Beta,GB,0180,2015-01-01,,\nC9,Vårdcentralen Nio,GA,0180,2022-01-01,,\n")


def cli(cwd: Path, *argv: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "ersattning.cli", *argv], cwd=cwd, env=CLIENT_ENV, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def commands(line_id: str) -> list[list[str]]:
    db = ["--db", "af.duckdb"]  # relative: the client's cwd
    return [
        ["trace", *db, "--line", line_id],
        ["trace", *db, "--contact", f"{KA}:a-1"],
        ["trace", *db, "--line", "no-such-line"],  # exit 2
        ["trace", *db],  # a usage error: exit 2, typer's box laid out for the client
        ["export", *db, "--month", "2022-03", "--format", "xlsx", "--output", "out/xlsx"],
        ["export", *db, "--month", "2022-03", "--format", "ubl", "--output", "out/ubl"],  # B1 has no org number: exit 1
        ["run", *db, "--month", "2022-04"],
        ["report", "contacts.jsonl", *db],
        ["manual", "list", *db],
        ["token", "list", *db],
        ["load", "more", *db],
    ]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Folders a (to be served) and b with identical databases, a contact file and an input folder."""
    root = tmp_path_factory.mktemp("beside")
    engine = build(root / "af.duckdb")
    con = engine.con.con
    con.execute("UPDATE clinics SET org_number = '5599000014' WHERE clinic_id = 'A1'")
    run_month(engine, "2022-03", rulebook.load(), issue=True)
    add_manual_line(engine, clinic_id="A1", month="2022-04", kind="collaboration", amount_ore=1_250_000,
                    reason="Samverkan Q1", reference="ärende 2022/17", user="anna")
    person_key(con)  # the database's pseudonym key, made once: the copies share it
    admin = create_token(con, admin=True)
    create_token(con, clinic_id="B1")
    line_id = con.execute("SELECT line_id FROM statement_lines WHERE clinic_id = 'A1' ORDER BY line_id LIMIT 1").fetchall()[0][0]
    engine.con.disconnect()
    for name in ("a", "b"):
        d = root / name
        (d / "more").mkdir(parents=True)
        shutil.copyfile(root / "af.duckdb", d / "af.duckdb")
        records = [contact("r-1", KA, P_OLD, date="2022-04-04"), contact("r-2", KA, P_OUT, date="2022-04-05")]
        (d / "contacts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        (d / "more" / "clinics.csv").write_text(CLINICS, encoding="utf-8")
    return root, line_id, admin


@pytest.fixture(scope="module")
def results(copies):
    """Every command on a (served) and on b (no server; a stale socket beside it): {argv: (a, b)}."""
    root, line_id, admin = copies
    a, b = root / "a", root / "b"
    url, process = launch(a / "af.duckdb", root / "server.log", env=SERVER_ENV)
    served = {}
    try:
        sock = remote.socket_path(a / "af.duckdb")
        served["socket_mode"] = stat.S_IMODE(os.stat(sock).st_mode)
        served["serve_again"] = cli(a, "serve", "--db", "af.duckdb", "--port", "1")
        for argv in commands(line_id):
            served[tuple(argv)] = cli(a, *argv)
        # After the load (C9 is new) a token for C9 can be made, and the server knows it at once.
        code, token, err = cli(a, "token", "create", "--db", "af.duckdb", "--clinic", "C9")
        assert code == 0, err
        served["me"] = httpx.get(url + "/api/v1/me", headers={"Authorization": f"Bearer {token.strip()}"}).json()
        served["api_jobs"] = httpx.get(url + "/api/v1/jobs", headers={"Authorization": f"Bearer {admin}"}).json()["jobs"]
        served["jobs_cli"] = cli(a, "jobs", "--db", "af.duckdb")
    finally:
        process.terminate()
        process.wait(20)
    served["socket_left"] = sock.exists()
    # b: a stopped server's socket is there, nobody answers it; the CLI runs the commands itself.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(remote.socket_path(b / "af.duckdb")))
    stale.close()
    alone = {tuple(argv): cli(b, *argv) for argv in commands(line_id)}
    return a, b, served, alone, line_id


def test_the_socket_is_the_owners_and_goes_with_the_server(results):
    a, b, served, alone, _ = results
    assert served["socket_mode"] == 0o600
    assert served["socket_left"] is False
    code, out, err = served["serve_again"]
    assert code == 1 and "already served by `ersattning serve`" in err


@pytest.mark.parametrize("index", range(len(commands("LINE"))))
def test_a_command_gives_the_same_output_with_and_without_the_server(results, index):
    a, b, served, alone, line_id = results
    argv = tuple(commands(line_id)[index])
    if served[argv] != alone[argv]:
        import difflib

        diff = "\n".join(difflib.unified_diff("".join(alone[argv][1:]).splitlines(), "".join(served[argv][1:]).splitlines(),
                                              "without the server", "through the server", lineterm=""))
        raise AssertionError(f"{argv}: exit {served[argv][0]} through the server, {alone[argv][0]} without\n{diff}")


def test_the_exit_codes_are_the_commands(results):
    a, b, served, alone, line_id = results
    codes = [served[tuple(argv)][0] for argv in commands(line_id)]
    assert codes == [0, 0, 2, 2, 0, 1, 0, 0, 0, 0, 0]
    assert "nothing to trace: no-such-line" in served[("trace", "--db", "af.duckdb", "--line", "no-such-line")][2]
    assert "Usage: python -m ersattning.cli trace" in served[("trace", "--db", "af.duckdb")][2]


def test_the_files_written_are_the_same(results):
    a, b, *_ = results
    ubl = sorted(p.name for p in (a / "out" / "ubl").iterdir())
    assert ubl and ubl == sorted(p.name for p in (b / "out" / "ubl").iterdir())
    for name in ubl:
        assert (a / "out" / "ubl" / name).read_bytes() == (b / "out" / "ubl" / name).read_bytes()
    assert (a / "contact_errors.csv").read_bytes() == (b / "contact_errors.csv").read_bytes()

    def cells(folder: Path):
        [path] = folder.glob("*.xlsx")
        book = openpyxl.load_workbook(path)
        return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}

    assert cells(a / "out" / "xlsx") == cells(b / "out" / "xlsx")


def test_a_load_beside_the_server_is_served_at_once(results):
    a, b, served, *_ = results
    assert served["me"]["clinic_id"] == "C9"
    kinds = [(j["kind"], j["via"], j["status"]) for j in served["api_jobs"]]
    assert kinds == [("load", "cli→server", "done"), ("run", "cli→server", "done")]


def test_the_job_history_says_how_each_command_came(results):
    a, b, served, *_ = results
    code, out, err = served["jobs_cli"]
    assert code == 0 and out.count("(cli→server)") == 2 and "months=2022-04" in out
    seen = {}
    for name, folder in (("a", a), ("b", b)):
        engine = open_engine(folder / "af.duckdb")
        seen[name] = [(j["kind"], j["args"], j["status"], j["result_hash"], j["via"]) for j in list_jobs(engine)]
        engine.con.disconnect()
    assert [j[:4] for j in seen["a"]] == [j[:4] for j in seen["b"]]
    assert {j[4] for j in seen["a"]} == {"cli→server"} and {j[4] for j in seen["b"]} == {"cli"}
