"""`ersattning bench-api`: contact intake over HTTP, timed against a local server (a benchmark,
not a test; DESIGN.md target ≥ 2 000 contacts/s in batches of 1 000)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console


def run_api_bench(contacts: int, batch: int, persons: int, console: Console, folder: Path | None = None) -> dict:
    import httpx

    from ersattning.api.tokens import create_token
    from ersattning.bench import make_contacts
    from ersattning.inputs import read_inputs
    from ersattning.store import open_engine, store_inputs
    from ersattning.synth import generate

    folder = Path(folder or tempfile.mkdtemp(prefix="ersattning-bench-api-"))
    with console.status(f"Synthetic region of {persons} persons…"):
        generate(folder / "input", persons=persons, seed=2022, first_year=2021, last_year=2022, fmt="csv",
                 contact_years=[])
        inputs = read_inputs(folder / "input").require_clean()
        db = folder / "bench.duckdb"
        engine = open_engine(db)
        store_inputs(engine, inputs.tables)
        token = create_token(engine.con.con, admin=True, created_by="bench-api")
        engine.con.disconnect()
    table = make_contacts(contacts, inputs.tables["kombika"], inputs.tables["clinics"], dt.date.today() - dt.timedelta(days=1))
    rows = table.to_pylist()
    bodies = [json.dumps({"contacts": rows[i:i + batch]}).encode() for i in range(0, len(rows), batch)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "ersattning.cli", "serve", "--db", str(db), "--port", str(port),
                               "--intake-rate", "1000", "--intake-burst", "1000"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        accepted = 0
        headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            start = time.perf_counter()
            for body in bodies:
                r = client.post("/api/v1/contacts", content=body)
                r.raise_for_status()
                accepted += r.json()["accepted"]
            seconds = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(10)
    figures = {"contacts": contacts, "batch": batch, "accepted": accepted, "seconds": round(seconds, 2),
               "api_intake_per_s": round(contacts / seconds)}
    console.print(f"API intake: {contacts} contacts in batches of {batch}: {seconds:.1f} s, "
                  f"{figures['api_intake_per_s']} contacts/s ({accepted} accepted; target ≥ 2 000/s)")
    return figures
