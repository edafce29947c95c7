"""A real server for the API and web tests: the tiny AF region in a DuckDB file, tokens, and
`ersattning serve` (uvicorn) in a subprocess on 127.0.0.1 and a free port; its log is kept."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from af_region import build

from ersattning.api.tokens import create_token


@dataclass
class Server:
    url: str
    db: Path
    log: Path
    clinic_a: str
    clinic_b: str
    admin: str
    rate_token: str
    spare: str  # revoked by a test
    process: subprocess.Popen

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, burst: int = 30, rate: float = 2.0, args: tuple[str, ...] = (), prepare=None) -> Server:
    """`args`: more `ersattning serve` options; `prepare(con)`: changes to the database before it starts."""
    db = folder / "af.duckdb"
    engine = build(db)
    con = engine.con.con
    tokens = dict(clinic_a=create_token(con, clinic_id="A1"), clinic_b=create_token(con, clinic_id="B1"),
                  admin=create_token(con, admin=True), rate_token=create_token(con, clinic_id="B1"),
                  spare=create_token(con, clinic_id="A1"))
    if prepare is not None:
        prepare(con)
    engine.con.disconnect()
    port = free_port()
    log = folder / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "ersattning.cli", "serve", "--db", str(db), "--port", str(port),
         "--intake-rate", str(rate), "--intake-burst", str(burst), *args],
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server stopped:\n" + log.read_text())
        try:
            if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("the server did not start:\n" + log.read_text())
    return Server(url, db, log, process=process, **tokens)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
