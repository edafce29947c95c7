"""The command socket in one process (remote.CommandServer and remote.forward, no web server): a
command sent to it gives what the command gives run here, exit code and stderr included; the
socket is 0600 and a stale one is replaced; a request for another database is refused."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading

import pytest
import typer
from af_region import build
from typer.testing import CliRunner

from ersattning import remote
from ersattning.cli import app
from ersattning.engine import serve_engine, unserve_engine
from ersattning.jobs import list_jobs
from ersattning.store import open_engine

pytestmark = pytest.mark.skipif(not remote.supported(), reason="needs Unix sockets with peer credentials")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    db = tmp_path_factory.mktemp("template") / "af.duckdb"
    build(db).con.disconnect()
    return db


@pytest.fixture()
def served(template, tmp_path):
    db = tmp_path / "af.duckdb"
    shutil.copyfile(template, db)
    engine = open_engine(db)
    # A stale socket where the server will listen: a stopped server's, nobody answers it.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(remote.socket_path(db)))
    stale.close()
    serve_engine(db, engine)
    server = remote.CommandServer(db, typer.main.get_command(app), threading.RLock())
    server.start()
    yield db, engine, server
    server.stop()
    unserve_engine(db)
    engine.con.disconnect()


def sent(capsys, db, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = remote.forward(db, list(argv), "ersattning")
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_socket_replaces_a_stale_one_and_is_the_owners_only(served):
    db, _, server = served
    mode = os.stat(server.path)
    assert stat.S_ISSOCK(mode.st_mode) and stat.S_IMODE(mode.st_mode) == 0o600
    assert server.path == db.parent / "af.duckdb.sock"
    assert remote.live_server(db) == os.getpid()


def test_a_command_sent_gives_what_it_gives_here(served, capsys):
    db, engine, _ = served
    line_id = engine.con.con.execute("SELECT line_id FROM statement_lines ORDER BY line_id LIMIT 1").fetchall()[0][0]
    runner = CliRunner()
    for argv in (["trace", "--db", str(db), "--line", line_id], ["trace", "--db", str(db), "--line", "no-such-line"],
                 ["manual", "list", "--db", str(db)], ["trace", "--db", str(db)]):
        code, out, err = sent(capsys, db, *argv)
        # Run here: this process serves the file, so the CLI runs it itself on the served engine.
        here = runner.invoke(app, argv, prog_name="ersattning")
        assert (code, out, err) == (here.exit_code, here.stdout, here.stderr), argv
    assert sent(capsys, db, "trace", "--db", str(db), "--line", "no-such-line")[0] == 2
    assert "nothing to trace: no-such-line" in sent(capsys, db, "trace", "--db", str(db), "--line", "no-such-line")[2]


def test_relative_paths_are_the_clients(served, capsys, tmp_path, monkeypatch):
    db, _, _ = served
    work = tmp_path / "client"
    work.mkdir()
    monkeypatch.chdir(work)
    here = os.getcwd()
    code, out, err = sent(capsys, db, "export", "--db", "../af.duckdb", "--month", "2022-03", "--format", "csv", "--output", "out")
    assert code == 0, err
    assert (work / "out" / "statement_lines.csv").is_file()
    assert "out/statement_lines.csv" in out
    assert os.getcwd() == here  # the server went back to its own cwd


def test_a_run_sent_is_a_job_by_the_clients_login(served, capsys, monkeypatch):
    db, engine, _ = served
    monkeypatch.setenv("LOGNAME", "anna")
    code, out, err = sent(capsys, db, "run", "--db", str(db), "--month", "2022-03")
    assert code == 0, err
    assert out.startswith("2022-03: draft, 2 statements")
    [j] = list_jobs(engine)
    assert (j["kind"], j["via"], j["requested_by"], j["status"], j["progress_done"], j["progress_total"]) == \
        ("run", "cli→server", "anna", "done", 1, 1)
    assert json.loads(j["args"]) == {"months": "2022-03", "issue": False, "reform": None, "as_of": None,
                                     "sample_persons": None}
    assert len(j["result_hash"]) == 64 and len(j["rulebook_hash"]) == 64


def test_a_request_for_another_database_or_garbage_is_refused(served, tmp_path):
    db, _, server = served
    for request in ({"op": "run", "db": str(tmp_path / "other.duckdb"), "argv": ["jobs"], "cwd": "/"}, {"op": "nope"}, "[1]"):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(server.path))
            s.sendall((request if isinstance(request, str) else json.dumps(request)).encode() + b"\n")
            replies = [json.loads(line) for line in s.makefile("rb")]
        assert replies[-1] == {"exit": 2} and replies[0]["e"].startswith("error:")


def test_a_long_database_path_gets_a_socket_in_a_private_folder(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "af.duckdb"
    path = remote.socket_path(deep)
    assert len(os.fsencode(path)) <= remote.MAX_PATH
    assert path.parent.name == f"ersattning-{os.getuid()}" and path == remote.socket_path(deep)
    assert remote.socket_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb.sock"


def test_no_server_no_forwarding(tmp_path):
    assert remote.forward(tmp_path / "none.duckdb", ["jobs"], "ersattning") is None
    assert remote.live_server(tmp_path / "none.duckdb") is None


def test_a_database_held_by_another_process_is_still_a_clear_error(template, tmp_path):
    import subprocess
    import sys

    db = tmp_path / "held.duckdb"
    shutil.copyfile(template, db)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = CliRunner().invoke(app, ["token", "list", "--db", str(db)])
        assert result.exit_code == 1
        assert "is in use by another process that takes no commands" in result.stderr
    finally:
        holder.kill()
        holder.wait()
