"""A month computed through the CLI on a standalone Spark cluster (a master and a worker started
here from the pyspark package) gives the same statement lines as the DuckDB path.

The region goes the administrator's way: `load` and `report` validate it into a database,
`export-inputs` writes the stored form as Parquet, `statements --engine spark --spark-master
spark://…` has the cluster read it; the DuckDB path reads the same files statelessly.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra is installed by `make test`")
if not shutil.which("java"):
    pytest.skip("Java is needed for a Spark cluster", allow_module_level=True)

import ersattning
from ersattning.synth import generate

pytestmark = pytest.mark.spark

MONTH = "2022-03"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ)
    env.update(SPARK_HOME=os.path.dirname(pyspark.__file__), PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
               PYTHONPATH=str(Path(ersattning.__file__).parents[1]))
    return env


def _alive_workers(webui: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("spark-logs")
    env = _env()
    spark_class = str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")
    port, webui, worker_ui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(webui)], env=env, stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
             "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(logs / "work")],
            env=env, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 90
        while _alive_workers(webui) < 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the Spark worker did not register with the master:\n" + (logs / "worker.log").read_text()[-2000:])
            time.sleep(1)
        yield url
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "ersattning.cli", *args], env=_env(), cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_month_on_a_standalone_cluster_matches_duckdb(cluster, tmp_path):
    region = tmp_path / "region"
    generate(region, persons=3000, seed=11, first_year=2021, last_year=2022, fmt="parquet")
    db, exported = tmp_path / "region.duckdb", tmp_path / "parquet"
    _cli("statements", "--input", str(region), "--month", MONTH, "--output", str(tmp_path / "duckdb"), cwd=tmp_path)
    _cli("load", str(region), "--db", str(db), "--errors", str(tmp_path / "input_errors.csv"), cwd=tmp_path)
    _cli("report", str(region / "contacts.parquet"), "--db", str(db), cwd=tmp_path)
    _cli("export-inputs", "--db", str(db), "--parquet", str(exported), cwd=tmp_path)
    done = _cli("statements", "--engine", "spark", "--spark-master", cluster, "--input", exported.resolve().as_uri(),
                "--month", MONTH, "--output", str(tmp_path / "spark"), cwd=tmp_path)
    assert cluster in done.stdout
    for name in ("statement_lines.csv", "statements.csv"):
        on_duckdb, on_spark = _rows(tmp_path / "duckdb" / name), _rows(tmp_path / "spark" / name)
        assert len(on_duckdb) > 20
        assert on_spark == on_duckdb, name
    assert (tmp_path / "spark" / "statement_lines.parquet").is_file()
    components = {r["component"] for r in _rows(tmp_path / "spark" / "statement_lines.csv")}
    assert {"capitation_age", "capitation_acg", "visit_fee"} <= components
