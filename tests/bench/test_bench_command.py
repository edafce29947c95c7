"""`ersattning bench` at a tiny size: every figure of the JSON is there, the year floor agrees with
the engine, --scaling writes its curve and chart; the analysis region is cached. No timings checked."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from ersattning.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory, monkeypatch_module):
    folder = tmp_path_factory.mktemp("bench-cache")
    # The worker processes read ERSATTNING_CACHE; this process's bench module read it on import.
    monkeypatch_module.setenv("ERSATTNING_CACHE", str(folder))
    from ersattning import bench

    monkeypatch_module.setattr(bench, "CACHE", folder)
    return folder


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.slow
def test_bench_json_has_the_year_floor(cache, tmp_path):
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "--persons", "3000", "--runs", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("month_s", "floor_s", "ratio", "year_s", "year_floor_s", "year_ratio", "peak_rss_mb"):
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
    assert figures["floor_matches_engine"] is True
    assert figures["year_floor_matches_engine"] is True
    assert figures["year_floor_max_diff_ore"] <= 6
    assert figures["year_ratio"] == pytest.approx(figures["year_s"] / figures["year_floor_s"], rel=0.02)
    assert "scaling" not in figures and "analysis_years_s" not in figures  # both are asked for


@pytest.mark.slow
def test_bench_scaling_curve_and_chart(cache, tmp_path):
    out = tmp_path / "out" / "bench.json"
    result = runner.invoke(app, ["bench", "--persons", "3000", "--runs", "1", "--no-year", "--scaling",
                                 "--sizes", "3000,6000", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    curve = figures["scaling"]
    assert [p["persons"] for p in curve] == [3000, 6000]
    for point in curve:
        assert set(point) >= {"persons", "contacts", "month_s", "year_s", "month_peak_mb", "year_peak_mb"}
        assert all(point[k] > 0 for k in ("contacts", "month_s", "year_s", "month_peak_mb", "year_peak_mb"))
    assert curve[1]["contacts"] > curve[0]["contacts"]  # a larger region, not the same one twice
    assert set(figures["scaling_exponents"]) == {"month_s", "year_s", "month_peak_mb", "year_peak_mb"}
    assert all(isinstance(k, float) for k in figures["scaling_exponents"].values())
    chart = out.parent / "bench-scaling.svg"
    assert figures["scaling_chart"] == str(chart)
    assert chart.stat().st_size > 0 and chart.read_text().lstrip().startswith("<svg")
    assert "persons^" in result.output


def test_sizes_needs_scaling():
    result = runner.invoke(app, ["bench", "--sizes", "3000"])
    assert result.exit_code != 0 and "--scaling" in result.output


def test_analysis_region_is_generated_once(tmp_path):
    from ersattning.analysis.scenarios import REGION_FILE, synthetic_region

    folder = tmp_path / "region"
    first = synthetic_region(folder, 400, [2022], seed=3)
    stamp = os.stat(folder / "persons.parquet").st_mtime_ns
    assert synthetic_region(folder, 400, [2022], seed=3) == first
    assert os.stat(folder / "persons.parquet").st_mtime_ns == stamp  # reused, not written again
    assert json.loads((folder / REGION_FILE).read_text())["key"] == {"persons": 400, "years": [2022], "seed": 3}
    other = synthetic_region(folder, 500, [2022], seed=3)  # other arguments: generated anew
    assert other["persons"] == 500 and os.stat(folder / "persons.parquet").st_mtime_ns != stamp
