"""The synthetic region: deterministic, valid by the input contracts, calibrated to RULES.md §9."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ersattning.ids import PERSONNUMMER, RESERVNUMMER, SAMORDNINGSNUMMER, classify
from ersattning.synth import FILES, generate, load_areas
from ersattning.synth.clinics import goals_table, make_clinics

PERSONS = 20_000
SHARED_AREAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "areas.csv"  # ../shared beside the repo


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("region")
    summary = generate(folder, persons=PERSONS, seed=7)
    return folder, summary, {name: _read(folder, name) for name in FILES}


def _covering(df: pd.DataFrame, date: str) -> pd.DataFrame:
    return df[(df.valid_from <= date) & (df.valid_to.isna() | (df.valid_to >= date))]


def _residents(persons: pd.DataFrame, date: str) -> pd.DataFrame:
    r = _covering(persons, date)
    return r[(r.county_code == "01") & ~r.person_id.str.startswith("99")]


def _age(birth: pd.Series, date: str) -> np.ndarray:
    b = pd.to_datetime(birth)
    d = pd.Timestamp(date)
    return (d.year - b.dt.year - ((b.dt.month * 100 + b.dt.day) > d.month * 100 + d.day)).to_numpy()


def _risk_as_of(risk: pd.DataFrame, month: str) -> pd.DataFrame:
    """Each person's row in force in `month`: the latest at or before it."""
    r = risk[risk.month <= month].sort_values("month")
    return r.groupby("person_id").tail(1).set_index("person_id")


def test_same_seed_gives_identical_bytes(tmp_path):
    for fmt in ("csv", "parquet"):
        a, b = tmp_path / f"a_{fmt}", tmp_path / f"b_{fmt}"
        generate(a, persons=3_000, seed=11, fmt=fmt)
        generate(b, persons=3_000, seed=11, fmt=fmt)
        for name in FILES:
            assert (a / f"{name}.{fmt}").read_bytes() == (b / f"{name}.{fmt}").read_bytes(), name
    generate(tmp_path / "c", persons=3_000, seed=12)
    assert (tmp_path / "c" / "listings.csv").read_bytes() != (tmp_path / "a_csv" / "listings.csv").read_bytes()


def test_files_and_columns_follow_the_contract(region):
    folder, summary, t = region
    expected = {
        "clinics": ["clinic_id", "name", "group_id", "area_code", "opened", "closed", "org_number"],
        "kombika": ["kombika", "clinic_id", "assignment", "valid_from", "valid_to"],
        "persons": ["person_id", "birth_date", "sex", "county_code", "area_code", "valid_from", "valid_to", "born_abroad"],
        "listings": ["person_id", "clinic_id", "valid_from", "valid_to"],
        "risk": ["person_id", "month", "acg_weight", "cni"],
        "home_care": ["person_id", "clinic_id", "valid_from", "valid_to"],
        "goals": ["clinic_id", "period", "goal", "value"],
        "affiliations": ["clinic_id", "provider_clinic_id", "assignment", "valid_from", "valid_to"],
    }
    for name, columns in expected.items():
        with open(folder / f"{name}.csv", encoding="utf-8") as f:
            assert next(csv.reader(f)) == columns
        assert b'"' not in (folder / f"{name}.csv").read_bytes()  # no quoting surprises
        assert summary["rows"][name] == len(t[name])
    for name in ("persons", "listings", "home_care", "kombika", "affiliations", "clinics"):
        dates = pd.concat([t[name][c].dropna() for c in t[name].columns if c in ("birth_date", "valid_from", "valid_to", "opened", "closed")])
        assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), name
    assert t["risk"].month.str.fullmatch(r"\d{4}-\d{2}").all()
    for column in ("acg_weight", "cni"):
        assert t["risk"][column].str.fullmatch(r"\d+\.\d{1,4}").all()


def test_person_ids_are_valid_and_unique(region):
    _, summary, t = region
    persons = t["persons"]
    ids = persons.person_id.drop_duplicates()
    kinds = classify(pa.array(ids.to_numpy(), pa.string())).to_numpy(zero_copy_only=False)
    assert not pd.isna(kinds).any()
    share = pd.Series(kinds).value_counts() / len(ids)
    assert 0.001 < share[SAMORDNINGSNUMMER] < 0.006
    assert 0.0005 < share[RESERVNUMMER] < 0.004
    assert share[PERSONNUMMER] > 0.99
    numbered = persons[~persons.person_id.str.startswith("99")]
    odd = numbered.person_id.str[10].astype(int) % 2 == 1
    assert ((numbered.sex == "M") == odd).all()
    assert numbered.person_id.str[:8].eq(numbered.birth_date.str.replace("-", "")).mean() > 0.99  # samordning: day + 60


def test_residence_rows_are_consecutive_and_count_persons(region):
    _, summary, t = region
    p = t["persons"]
    assert len(_residents(p, "2023-12-31")) == PERSONS == summary["persons"]
    res = p[p.county_code == "01"].dropna(subset=["valid_from"]).sort_values(["person_id", "valid_from"])
    nxt = res.groupby("person_id").valid_from.shift(-1)
    has_next = nxt.notna()
    following = (pd.to_datetime(res.valid_to[has_next]) + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    assert (following == nxt[has_next]).all()  # a mover's rows are back to back
    assert (res.valid_from >= res.birth_date).all()
    out = p[p.county_code != "01"]
    assert out.area_code.isna().all() and len(out) > 0
    assert (p[p.county_code == "01"].area_code.notna()).all()
    growth = len(_residents(p, "2022-12-31")) / len(_residents(p, "2016-12-31"))
    assert 1.01 ** 6 < growth < 1.017 ** 6


def test_listings_never_overlap_and_stay_inside_clinic_and_life(region):
    _, _, t = region
    li = t["listings"].sort_values(["person_id", "valid_from"])
    nxt = li.groupby("person_id").valid_from.shift(-1)
    both = nxt.notna()
    assert (li.valid_to[both].notna() & (li.valid_to[both] < nxt[both])).all()
    assert (li.valid_to.isna() | (li.valid_from <= li.valid_to)).all()
    c = li.merge(t["clinics"], on="clinic_id", validate="many_to_one")
    assert (c.valid_from >= c.opened).all()
    closes = c.closed.notna()
    assert (c.valid_to[closes].notna() & (c.valid_to[closes] <= c.closed[closes])).all()
    first = t["persons"].groupby("person_id").agg(birth=("birth_date", "first"), start=("valid_from", "min"))
    lp = li.join(first, on="person_id")
    assert (lp.valid_from >= lp.birth).all()
    last = t["persons"].sort_values(["person_id", "valid_from"]).groupby("person_id").tail(1).set_index("person_id").valid_to
    ended = li.join(last.rename("gone"), on="person_id").dropna(subset=["gone"])  # residence ended: death or moving out
    assert (ended.valid_to.notna() & (ended.valid_to <= ended.gone)).all()


def test_closing_clinics_hand_over_their_listed(region):
    _, summary, t = region
    clinics = t["clinics"]
    assert summary["n_closed_clinics"] >= 1 and clinics.closed.notna().sum() >= 1
    assert (clinics.opened >= "2015-01-01").sum() >= summary["n_new_clinics"] >= 2
    li = t["listings"]
    for _, cl in clinics[clinics.closed.notna()].iterrows():
        day_after = (dt.date.fromisoformat(cl.closed) + dt.timedelta(days=1)).isoformat()
        ended = li[(li.clinic_id == cl.clinic_id) & (li.valid_to == cl.closed)]
        moved_on = li[li.person_id.isin(ended.person_id) & (li.valid_from == day_after)]
        assert len(ended) > 0 and len(moved_on) == len(ended)
        areas = clinics.set_index("clinic_id").area_code
        assert (moved_on.clinic_id.map(areas) == cl.area_code).all()


def test_every_listed_person_has_risk_at_each_listed_month_end(region):
    _, _, t = region
    first_month = t["risk"].groupby("person_id").month.min()
    for date in ("2015-01-31", "2017-06-30", "2020-02-29", "2022-12-31", "2023-12-31"):
        listed = _covering(t["listings"], date)
        listed = listed[~listed.person_id.str.startswith("99")]
        got = listed.person_id.map(first_month)
        assert got.notna().all(), date
        assert (got <= date[:7]).all(), date
    assert not t["risk"].person_id.str.startswith("99").any()
    assert not t["risk"].duplicated(["person_id", "month"]).any()


def test_acg_mean_is_one_among_listed_and_rises_with_age(region):
    _, _, t = region
    for year in range(2015, 2024):
        date = f"{year}-12-31"
        res = _residents(t["persons"], date)
        listed = _covering(t["listings"], date)
        r = _risk_as_of(t["risk"], f"{year}-12")
        x = res.merge(listed, on="person_id").join(r, on="person_id")
        acg = x.acg_weight.astype(float)
        assert abs(acg.mean() - 1.0) < 0.03, year
        assert (acg >= 0).all()
        if year == 2022:
            age = _age(x.birth_date, date)
            band = pd.cut(age, [-1, 17, 64, 74, 200], labels=["0-17", "18-64", "65-74", "75+"])
            means = acg.groupby(band, observed=True).mean()
            assert means["0-17"] < means["18-64"] < means["65-74"] < means["75+"]
            assert 0.3 < means["0-17"] < 0.6 and 2.0 < means["75+"] < 3.5


def test_born_abroad_is_a_flag_per_person_that_follows_the_areas_cni(region):
    # Born abroad is one of CNI's variables (RULES.md §2): the synthetic share rises with the area's CNI.
    _, _, t = region
    p = t["persons"]
    assert set(p.born_abroad) <= {"0", "1"}
    assert (p.groupby("person_id").born_abroad.nunique() == 1).all()  # the same on a mover's rows
    res = _residents(p, "2015-12-31")
    share = (res.born_abroad == "1").groupby(res.area_code).mean()
    areas = load_areas()
    code = lambda name: areas.code[areas.index(name)]  # noqa: E731
    assert 0.2 < (res.born_abroad == "1").mean() < 0.4
    assert share[code("Rinkeby-Kista")] > 0.45 > 0.2 > share[code("Danderyd")]


def test_cni_mean_is_one_and_follows_the_areas(region):
    _, _, t = region
    res = _residents(t["persons"], "2022-12-31")
    x = res.join(_risk_as_of(t["risk"], "2022-12"), on="person_id")
    cni = x.cni.astype(float)
    assert abs(cni.mean() - 1.0) < 0.02
    by_area = cni.groupby(x.area_code).mean()
    areas = load_areas()
    code = lambda name: areas.code[areas.index(name)]  # noqa: E731
    assert by_area[code("Rinkeby-Kista")] > 1.25 > 0.8 > by_area[code("Danderyd")]


def test_unlisted_share_and_digital_share_at_end_of_2022(region):
    _, _, t = region
    date = "2022-12-31"
    res = _residents(t["persons"], date)
    listed = _covering(t["listings"], date)
    on = res.person_id.isin(listed.person_id)
    assert abs((1 - on.mean()) - 0.08) < 0.015
    by_area = (~on).groupby(res.area_code).mean()
    areas = load_areas()
    code = lambda name: areas.code[areas.index(name)]  # noqa: E731
    assert by_area[code("Rinkeby-Kista")] > by_area[code("Ekerö")]
    clinics = t["clinics"].set_index("clinic_id")
    digital = clinics.index[clinics.name.isin(["Aurora Hälsa Digital", "Vårdappen", "Läkarlinjen"])]
    lr = listed[listed.person_id.isin(res.person_id)]
    assert 0.03 < lr.clinic_id.isin(digital).mean() < 0.08
    own_area = lr.merge(res[["person_id", "area_code"]], on="person_id").join(clinics.area_code.rename("clinic_area"), on="clinic_id")
    own_area = own_area[~own_area.clinic_id.isin(digital)]
    assert (own_area.area_code == own_area.clinic_area).mean() > 0.8


def test_age_shares_at_end_of_2022(region):
    _, _, t = region
    res = _residents(t["persons"], "2022-12-31")
    age = _age(res.birth_date, "2022-12-31")
    shares = np.histogram(age, [0, 6, 18, 65, 75, 200])[0] / len(age)
    target = np.array([0.078, 0.140, 0.624, 0.092, 0.066])
    assert np.all(np.abs(shares - target) < 0.01), shares


def test_home_care_is_inside_a_listing_at_the_same_clinic(region):
    _, _, t = region
    hc = t["home_care"]
    assert len(hc) > 0
    m = hc.reset_index().merge(t["listings"], on=["person_id", "clinic_id"], suffixes=("", "_l"))
    inside = (m.valid_from >= m.valid_from_l) & (m.valid_to_l.isna() | (m.valid_to.notna() & (m.valid_to <= m.valid_to_l)))
    assert m[inside]["index"].nunique() == len(hc)
    date = "2022-12-31"
    res = _residents(t["persons"], date)
    enrolled = res.person_id.isin(_covering(hc, date).person_id)
    age = _age(res.birth_date, date)
    assert enrolled[age >= 85].mean() > enrolled[(age >= 75) & (age < 85)].mean() > enrolled[(age >= 65) & (age < 75)].mean()
    assert enrolled[age < 65].mean() == 0


def test_kombika_affiliations_and_goals(region):
    _, _, t = region
    k = t["kombika"]
    assert k.kombika.str.len().eq(11).all() and k.kombika.is_unique
    assert set(k[k.assignment == "hlv"].clinic_id) == set(t["clinics"].clinic_id)
    psy = k[k.assignment == "psy_child_320"]
    assert len(psy) > 0 and (psy.valid_from >= "2021-12-01").all()
    a = t["affiliations"]
    assert len(a) > 0 and a.provider_clinic_id.isin(psy.clinic_id).all() and ~a.clinic_id.isin(psy.clinic_id).any()
    assert (a.valid_from >= "2021-12-01").all() and (a.assignment == "psy_child_320").all()
    g = t["goals"]
    value = g.value.astype(float)
    quality = g.goal == "quality_areas_met"
    maxima = {"2015": 13, "2016": 8, "2021": 6, "2023": 7}
    for year, top in maxima.items():
        assert value[quality & (g.period == year)].between(0, top).all()
    penalty = g.goal == "penalty_areas_failed"
    assert value[penalty & g.period.isin(["2021", "2023"])].between(0, 2).all() and value[penalty].max() <= 3
    assert (value[penalty] == 0).mean() > 0.5
    # Every year has contacts here: the care-guarantee share comes from their first contacts.
    assert not (g.goal == "care_guarantee_share").any()


def test_goals_hold_the_share_only_for_years_without_contacts():
    """goals.csv's monthly care_guarantee_share (2021–2023) is left out for the contact years, and
    leaving it out changes none of the other goals."""
    clinics = make_clinics(np.random.default_rng(1), load_areas(), 20_000, 2015, 2023)
    full = goals_table(np.random.default_rng(5), clinics, 2015, 2023).to_pandas()
    some = goals_table(np.random.default_rng(5), clinics, 2015, 2023, share_from_contacts=[2022]).to_pandas()
    shares = full[full.goal == "care_guarantee_share"]
    assert shares.period.str.fullmatch(r"202[123]-\d{2}").all()
    value = shares.value.astype(float)
    assert value.between(0, 1).all() and 0.2 < (value >= 0.85).mean() < 0.8
    assert not some[some.goal == "care_guarantee_share"].period.str.startswith("2022").any()
    others = ["quality_areas_met", "penalty_areas_failed"]
    assert full[full.goal.isin(others)].reset_index(drop=True).equals(some[some.goal.isin(others)].reset_index(drop=True))


def test_number_of_clinics_scales_with_population():
    areas = load_areas()
    small = make_clinics(np.random.default_rng(1), areas, 20_000, 2015, 2023)
    full = make_clinics(np.random.default_rng(1), areas, 2_440_027, 2015, 2023)
    assert 42 <= len(small) <= 50
    assert 230 <= len(full) <= 270
    for clinics in (small, full):
        assert clinics.digital.sum() == 3
        assert len(np.unique(clinics.group_id)) < len(clinics)  # chains own several clinics
        for when in (dt.date(2015, 1, 1), dt.date(2019, 6, 30), dt.date(2023, 12, 31)):
            d = (np.datetime64(when) - np.datetime64("1970-01-01")).astype(int)
            is_open = (clinics.opened <= d) & (clinics.closed >= d) & ~clinics.digital
            assert set(clinics.area[is_open]) == set(range(len(areas)))


def test_csv_and_parquet_carry_the_same_data(region, tmp_path):
    folder, _, t = region
    generate(tmp_path, persons=PERSONS, seed=7, fmt="parquet")
    for name in FILES:
        table = pq.read_table(tmp_path / f"{name}.parquet")
        columns = table.column_names
        text = pacsv.ConvertOptions(column_types={c: pa.string() for c in columns}, strings_can_be_null=True)
        assert pacsv.read_csv(folder / f"{name}.csv", convert_options=text).equals(table), name


@pytest.mark.skipif(not SHARED_AREAS.exists(), reason="the shared reference data is not beside the repository")
def test_areas_data_matches_the_shared_table():
    areas = load_areas()
    shared = pd.read_csv(SHARED_AREAS, dtype={"area_code": str})
    assert list(areas.code) == list(shared.area_code) and list(areas.population) == list(shared.population_2017)
    w = areas.share
    assert abs((w * areas.cni).sum() - 1.0) < 0.001
    assert 0.6 <= areas.cni.min() and areas.cni.max() <= 1.4
    assert abs((w * areas.unlisted_share).sum() - 0.08) < 0.005
    assert areas.name[np.argmax(areas.income_sek)] == "Danderyd"
    assert areas.name[np.argmin(areas.income_sek)] == "Botkyrka"
    assert areas.name[np.argmax(areas.acg_level)] == "Lidingö"


def test_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, persons=10, fmt="xlsx")
    with pytest.raises(ValueError):
        generate(tmp_path, persons=10, first_year=2023, last_year=2015)
