"""`GET /api/v1/parameters[/{name}]`: the rulebook's parameters for any valid token, the same data as
`ersattning rules list|show` (one function in the rulebook package)."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from ersattning import rulebook
from ersattning.cli import app
from ersattning.rulebook.catalogue import parameter_detail, parameter_list

runner = CliRunner()


def test_every_parameter_is_listed_as_the_cli_lists_it(server):
    r = server.client(server.clinic_a).get("/api/v1/parameters", params={"at": "2022-06-30"})
    assert r.status_code == 200, r.text
    listed = r.json()["parameters"]
    assert listed == parameter_list(rulebook.load(), dt.date(2022, 6, 30))
    cli = runner.invoke(app, ["rules", "list", "--at", "2022-06-30", "--json"])
    assert json.loads(cli.stdout)["parameters"] == listed
    acg = next(p for p in listed if p["name"] == "capitation_acg.rate")
    assert (acg["unit"], acg["value"], acg["values"]) == ("SEK/listed/year", "1200", len(rulebook.load()["capitation_acg.rate"].values))


def test_one_parameter_has_every_dated_value_unit_and_source(server):
    c = server.client(server.clinic_b)
    r = c.get("/api/v1/parameters/capitation_acg.rate", params={"at": "2022-06-30"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out == parameter_detail(rulebook.load(), "capitation_acg.rate", dt.date(2022, 6, 30))
    cli = runner.invoke(app, ["rules", "show", "capitation_acg.rate", "--at", "2022-06-30", "--json"])
    assert json.loads(cli.stdout) == out
    param = rulebook.load()["capitation_acg.rate"]
    assert [(v["start"], v["reference"]) for v in out["values"]] == [(v.start.isoformat(), v.reference) for v in param.values]
    assert out["in_force"]["value"] == "1200" and out["unit"] == "SEK/listed/year"
    # Without ?at: every dated value, no value in force asked for.
    assert "in_force" not in c.get("/api/v1/parameters/capitation_acg.rate").json()
    fee = c.get("/api/v1/parameters/visit_fee.prices.VF_BASE", params={"at": "2022-03-10"}).json()
    assert fee["in_force"]["value"] == "110" and fee["parameter"] == "visit_fee.prices"


def test_parameters_need_a_valid_token_and_refuse_bad_names_and_dates(server):
    assert server.client(None).get("/api/v1/parameters").status_code == 401
    assert server.client("ers_nope_nope").get("/api/v1/parameters/capitation_acg.rate").status_code == 401
    c = server.client(server.admin)
    missing = c.get("/api/v1/parameters/capitation_acg.ratee")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert c.get("/api/v1/parameters/visit_fee.prices.NO_SUCH").status_code == 404
    bad = c.get("/api/v1/parameters", params={"at": "2022-02-30"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["where"] == "query.at"
    assert c.get("/api/v1/parameters/a b").status_code == 422
