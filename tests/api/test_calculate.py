"""What-if for one case (`POST /api/v1/calculate`, `ersattning calculate`): the month run's own lines for
the case, under the rulebook or a reform; bad fields refused naming the field, no person number shown."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
from typer.testing import CliRunner

from ersattning import rulebook
from ersattning.cli import app
from ersattning.engine import Engine
from ersattning.ids import classify
from ersattning.inputs import read_inputs
from ersattning.money import round_half_away
from ersattning.register import read_contacts
from ersattning.statements import compute_month
from ersattning.whatif import Case, calculate, case_components, case_lines, person_id

runner = CliRunner()
KEYS = ("line_id", "clinic_id", "month", "component", "product_code", "quantity", "unit_price_ore", "amount_ore", "rule",
        "persons")

# A physical doctor's visit by a 70-year-old man listed at another clinic (2022-03).
VISIT = Case(date=dt.date(2022, 3, 10), age=70, sex="M", contact_type="clinic_visit", profession="doctor",
             listing="other", acg_weight=Decimal("1.3"), cni=Decimal("0.9"))
# An 80-year-old woman listed at the clinic in March 2022: that month's capitation.
LISTED = Case(date=dt.date(2022, 3, 15), age=80, acg_weight=Decimal("1.3"), cni=Decimal("0.9"))


def _case_folder(tmp_path, case: Case, pid: str, born: str, listed_at: str):
    """The case's input files written out by hand, as a region would send them."""
    d = tmp_path / "input"
    d.mkdir()
    files = {
        "clinics.csv": "clinic_id,name,group_id,area_code,opened,closed\n"
                       "WHATIF01,What-if clinic,G1,0180-04,2000-01-01,\nWHATIF02,Another clinic,G2,0180-04,2000-01-01,\n"
                       "WHATIF03,A clinic of the same group,G1,0180-04,2000-01-01,\n",
        "kombika.csv": "kombika,clinic_id,assignment,valid_from,valid_to\nWHATIF00001,WHATIF01,hlv,2000-01-01,\n",
        "persons.csv": f"person_id,birth_date,sex,county_code,area_code,valid_from,valid_to,born_abroad\n"
                       f"{pid},{born},{case.sex},01,0180-04,,,0\n",
        "listings.csv": f"person_id,clinic_id,valid_from,valid_to\n{pid},{listed_at},2022-03-01,\n",
        "risk.csv": f"person_id,month,acg_weight,cni\n{pid},2022-03,{case.acg_weight},{case.cni}\n",
    }
    if case.contact_type:
        files["contacts.csv"] = ("contact_id,kombika,person_id,date,contact_type,profession,diagnoses,actions,record_type,"
                                 f"reported_at\nWHATIF-CONTACT,WHATIF00001,{pid},{case.date},{case.contact_type},"
                                 f"{case.profession},,,report,\n")
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def _month_run(folder, book, month: str):
    """The normal month computation on the case's files (the stateless `statements` path)."""
    inputs = read_inputs(folder, book=book).require_clean()
    engine = Engine.duckdb().register(inputs.tables)
    if (folder / "contacts.csv").is_file():
        contacts, errors = read_contacts(folder / "contacts.csv", inputs.tables, today=dt.date.today())
        assert errors.num_rows == 0
        engine.register({"contacts": contacts})
    return compute_month(engine, book, month).lines


def _rows(lines) -> list[tuple]:
    return [tuple(str(r[k]) if isinstance(r[k], Decimal) else r[k] for k in KEYS) for r in lines]


def test_a_contact_is_priced_as_the_month_run_prices_it(tmp_path):
    book = rulebook.load()
    pid = person_id(VISIT)
    assert pid.startswith("19510401") and classify(pa.array([pid]))[0].as_py() == "personnummer"  # 70 all March 2022
    month = _month_run(_case_folder(tmp_path, VISIT, pid, "1951-04-01", "WHATIF02"), book, "2022-03")
    expected = case_lines(month, case_components(book, VISIT))
    out = calculate(book, VISIT)
    assert [tuple(r[k] for k in KEYS) for r in out["lines"]] == _rows(expected.to_pylist())
    by = {(r["clinic_id"], r["product_code"]): r["amount_ore"] for r in out["lines"]}
    # 2022: base fee 110 SEK; +300 for another clinic's listed patient; −300 on the listing clinic (RULES.md §3, §10).
    prices = book.at(dt.date(2022, 3, 10)).value("visit_fee.prices")
    assert by[("WHATIF01", "VF_BASE")] == int(prices["VF_BASE"] * 100) == 11000
    assert sum(a for (c, _), a in by.items() if c == "WHATIF01") == 11000 + 30000
    assert sum(a for (c, _), a in by.items() if c == "WHATIF02") == -30000
    assert out["total_ore"] == 11000
    trace = out["trace"]
    assert trace["facts"]["listing"] == "other" and trace["facts"]["age"] == 70
    assert {p["product_code"] for p in trace["products"]} == {code for _, code in by}
    assert all(p["decision"]["table"].endswith(".decision_table") for p in trace["products"])


def test_a_listed_persons_month_is_the_month_runs_capitation(tmp_path):
    book = rulebook.load()
    pid = person_id(LISTED)
    month = _month_run(_case_folder(tmp_path, LISTED, pid, "1941-04-01", "WHATIF01"), book, "2022-03")
    expected = case_lines(month, case_components(book, LISTED))
    out = calculate(book, LISTED)
    assert [tuple(r[k] for k in KEYS) for r in out["lines"]] == _rows(expected.to_pylist())
    # By hand from the rulebook on 2022-03-31: 1/12 of the yearly amounts (and March's temporary uplifts).
    rules = book.at(dt.date(2022, 3, 31))

    def yearly(name):
        return rules.value(f"{name}.rate") + (rules.value(f"{name}.temporary_uplift") or 0)

    band = dict(((lo, a) for lo, _, a in rules.value("capitation_age.amounts")))[75]
    uplift = dict(((lo, a) for lo, _, a in rules.value("capitation_age.temporary_uplift")))[75]
    by = {r["product_code"]: r["amount_ore"] for r in out["lines"]}
    assert by["CAP_AGE_75_PLUS"] == round_half_away((band + uplift) * 100 / 12, 0)
    assert by["CAP_ACG"] == round_half_away(Decimal("1.3") * yearly("capitation_acg") * 100 / 12, 0)
    assert by["CAP_CNI"] == round_half_away(Decimal("0.9") * yearly("capitation_cni") * 100 / 12, 0)
    assert band == 1217  # FFU 2022, 75 and over
    assert all(r["clinic_id"] == "WHATIF01" and r["persons"] == 1 for r in out["lines"])
    assert set(out["trace"]["rules"]) == {r["line_id"] for r in out["lines"]}


def test_the_api_prices_a_case_under_the_rulebook_and_a_reform(server):
    c = server.client(server.clinic_a)  # any valid token: the rules are public
    r = c.post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40, "contact_type": "clinic_visit",
                                          "profession": "doctor"})
    assert r.status_code == 200, r.text
    assert [(x["product_code"], x["amount_ore"]) for x in r.json()["lines"]] == [("VF_BASE", 11000)]
    base = r.json()
    lines_only = c.post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40, "contact_type": "clinic_visit",
                                                   "profession": "doctor", "trace": False}).json()
    assert lines_only["lines"] == base["lines"] and lines_only["trace"] is None and base["trace"]["products"]
    body = {"date": "2022-03-15", "age": 40, "acg_weight": "1.5", "cni": "1"}
    plain = c.post("/api/v1/calculate", json=body).json()
    reform = "parameters:\n  capitation_acg.rate:\n    values:\n      2022-01-01: {value: 2400, reference: a proposal}\n"
    raised = c.post("/api/v1/calculate", json={**body, "reform": reform})
    assert raised.status_code == 200, raised.text
    acg = {x["product_code"]: x for x in plain["lines"]}["CAP_ACG"]
    acg2 = {x["product_code"]: x for x in raised.json()["lines"]}["CAP_ACG"]
    # The temporary uplift of March 2022 still adds to the rate the reform sets: 2400 − 1200 more a year.
    assert acg2["unit_price_ore"] - acg["unit_price_ore"] == 120000
    assert acg2["amount_ore"] == round_half_away(Decimal("1.5") * acg2["unit_price_ore"] / 12, 0)
    assert "capitation_acg.rate@2022-01-01" in acg2["rule"]
    # Nothing is stored: the server's months are what they were.
    assert base["month"] == "2022-03" and server.client(server.admin).get("/api/v1/months").status_code == 200


def test_the_api_refuses_bad_fields_naming_them_and_echoes_no_person_number(server):
    c = server.client(server.clinic_b)
    pnr = "198005171234"
    cases = [({"date": "2022-02-30", "age": 40}, "body.date"),
             ({"date": "2022-03-10", "age": -1}, "body.age"),
             ({"date": "2022-03-10", "age": 40, "contact_type": "clinic_visit"}, "body.profession"),
             ({"date": "2022-03-10", "age": 40, "contact_type": "teleport", "profession": "doctor"}, "body.contact_type"),
             ({"date": "2022-03-10", "age": 40, "person_id": pnr}, "body.person_id"),
             ({"date": "2022-03-10", "age": 40, "listing": pnr}, "body.listing"),
             ({"date": "2022-03-10", "age": 40, "acg_weight": "lots"}, "body.acg_weight")]
    for body, where in cases:
        r = c.post("/api/v1/calculate", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["details"][0]["where"] == where, r.text
        assert pnr not in r.text
    bad = c.post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40, "reform": "parameters:\n  nope.nope:\n    values: {}\n"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_reform"
    assert bad.json()["error"]["problems"][0]["parameter"] == "nope.nope"
    ok = c.post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40, "contact_type": "video", "profession": "nurse"})
    assert ok.status_code == 200
    assert person_id(Case(date=dt.date(2022, 3, 10), age=40)) not in ok.text  # the made-up number is never shown
    assert server.client(None).post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40}).status_code == 401


def test_the_cli_calculates_the_same_case(tmp_path):
    args = ["calculate", "--date", "2022-03-10", "--age", "70", "--sex", "M", "--contact-type", "clinic_visit",
            "--profession", "doctor", "--listing", "other", "--acg-weight", "1.3", "--cni", "0.9", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["lines"] == calculate(rulebook.load(), VISIT)["lines"]
    bad = runner.invoke(app, ["calculate", "--date", "2022-03-10", "--age", "70", "--contact-type", "clinic_visit"])
    assert bad.exit_code == 2 and "profession" in bad.output
    table = runner.invoke(app, args[:-1], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "VF_BASE" in table.stdout and "total 110.00 SEK" in table.stdout


def test_a_case_without_a_price_in_the_month_has_no_lines():
    # A telephone contact is not a visit from 2021-02-01 and gets no base fee (visit_fee.decision_table).
    out = calculate(rulebook.load(), Case(date=dt.date(2022, 3, 10), age=40, contact_type="phone", profession="nurse"))
    assert out["lines"] == [] and out["total_ore"] == 0


def test_an_unlisted_patients_visit_gets_the_supplement():
    # Unlisted: the input set has a risk row and no listing (the validator's risk check has nothing to test).
    book = rulebook.load()
    out = calculate(book, Case(date=dt.date(2022, 3, 10), age=40, contact_type="clinic_visit", profession="nurse",
                               listing="none"))
    by = {r["product_code"]: r["amount_ore"] for r in out["lines"]}
    price = book.at(dt.date(2022, 3, 10)).value("supplement_unlisted.prices")["SUP_UNLISTED"]
    assert by == {"VF_BASE": 11000, "SUP_UNLISTED": int(price * 100)}
    assert out["trace"]["facts"]["listing"] == "none"


def test_a_case_the_month_or_the_inputs_refuse_is_422_saying_why(server):
    c = server.client(server.clinic_a)
    future = c.post("/api/v1/calculate", json={"date": "2999-01-10", "age": 40})
    assert future.status_code == 422 and "after the current month" in future.json()["error"]["message"]
    early = c.post("/api/v1/calculate", json={"date": "2022-03-10", "age": 40, "clinic_opened": "2022-05-01"})
    assert early.status_code == 422 and "listings.valid_from: listing_outside_clinic" in early.json()["error"]["message"]
