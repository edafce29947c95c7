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

    def browser(self, token: str | None = None, https: bool = False) -> httpx.Client:
        """A browser's view of the web app: its cookies, its Origin on every POST; signed in with
        `token` through the sign-in form. `https`: as behind a TLS proxy on this host
        (X-Forwarded-Proto, which uvicorn trusts from 127.0.0.1)."""
        origin = self.url.replace("http://", "https://") if https else self.url
        headers = {"origin": origin, **({"x-forwarded-proto": "https"} if https else {})}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60, follow_redirects=False)
        if token is not None:
            assert client.get("/logga-in").status_code == 200
            r = client.post("/logga-in", data={"token": token})
            assert r.status_code == 303, r.text[:300]
        return client


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
    log = folder / "server.log"
    url, process = launch(db, log, ("--intake-rate", str(rate), "--intake-burst", str(burst), *args))
    return Server(url, db, log, process=process, **tokens)


def launch(db: Path, log: Path, args=(), env=None) -> tuple[str, subprocess.Popen]:
    """`ersattning serve --db DB` on a free port, its output in `log`; (its url, the process) once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ersattning.cli", "serve", "--db", str(db), "--port", str(port), *args],
                               stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
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
    return url, process


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
