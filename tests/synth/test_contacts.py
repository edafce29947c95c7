"""Synthetic care contacts (`synth.contacts`): the file `generate` writes and what it holds."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from ersattning.ids import classify
from ersattning.synth import generate
from ersattning.synth.contacts import (
    COLUMNS, CONTACT_TYPES, INVALID_KINDS, PROFESSIONS, ContactInputs, contact_tables, generate_contacts, make_contacts,
)

PERSONS = 20_000
SEED = 7
YEARS = (2021, 2022)
PSYCHOSOCIAL = {"psychologist", "psychotherapist", "counsellor"}
ICD10 = r"[A-Z][0-9]{2}(\.[0-9]{1,2})?"


def _read(folder, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])


def _text_table(path) -> pa.Table:
    with open(path, encoding="utf-8") as f:
        names = next(csv.reader(f))
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=True)
    return pacsv.read_csv(path, convert_options=convert)


def _age(birth: pd.Series, date: pd.Series) -> np.ndarray:
    b, d = pd.to_datetime(birth), pd.to_datetime(date)
    return (d.dt.year - b.dt.year - ((b.dt.month * 100 + b.dt.day) > (d.dt.month * 100 + d.dt.day))).to_numpy()


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contacts")
    summary = generate(folder, persons=PERSONS, seed=SEED, first_year=YEARS[0], last_year=YEARS[-1])
    inputs = ContactInputs.from_folder(folder)
    made = {year: make_contacts(inputs, year, SEED) for year in YEARS}
    tables = {name: _read(folder, name) for name in ("contacts", "kombika", "clinics", "persons", "listings", "home_care", "risk")}
    labelled = pd.concat([m.table.to_pandas().assign(event=m.event, invalid=m.invalid, corrected=m.corrected, year=year)
                          for year, m in made.items()], ignore_index=True)
    births = tables["persons"].drop_duplicates("person_id").set_index("person_id").birth_date
    labelled["age"] = _age(labelled.person_id.map(births), labelled.date)
    return folder, summary, inputs, made, tables, labelled


def _valid_reports(labelled: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    v = labelled[(labelled.invalid == "") & (labelled.event == "report")]
    return v if year is None else v[v.year == year]


def test_the_file_follows_the_contract_and_is_sorted(region):
    folder, summary, _, made, t, _ = region
    with open(folder / "contacts.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    assert b'"' not in (folder / "contacts.csv").read_bytes()
    c = t["contacts"]
    assert summary["rows"]["contacts"] == len(c) == sum(m.table.num_rows for m in made.values())
    assert summary["contact_years"] == list(YEARS)
    assert c.date.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert c.reported_at.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}").all()
    assert set(c.record_type) == {"report", "cancel"}
    assert c.kombika.str.len().eq(11).all() and c.contact_id.notna().all() and c.person_id.notna().all()
    key = list(zip(c.date, c.kombika))
    assert key == sorted(key)  # by date, then kombika
    reports = c[c.record_type == "report"]
    firsts = reports.sort_values("reported_at").drop_duplicates(["kombika", "contact_id"])
    assert firsts.contact_id.is_unique  # one key per contact


def test_the_file_is_what_the_public_functions_give(region):
    folder, _, inputs, made, _, _ = region
    written = _text_table(folder / "contacts.csv")
    assert written.equals(pa.concat_tables(list(contact_tables(inputs, YEARS, SEED))))
    by_year = pa.concat_tables([made[y].table for y in YEARS]).to_pandas()
    assert by_year.sort_values(list(COLUMNS)).reset_index(drop=True).equals(
        written.to_pandas().sort_values(list(COLUMNS)).reset_index(drop=True))
    assert generate_contacts(inputs, 2022, SEED).equals(made[2022].table)


def test_same_seed_same_contacts_other_seed_others(region, tmp_path):
    _, _, inputs, made, _, _ = region
    again = make_contacts(inputs, 2022, SEED)
    assert again.table.equals(made[2022].table) and (again.invalid == made[2022].invalid).all()
    assert not generate_contacts(inputs, 2022, SEED + 1).equals(made[2022].table)
    for fmt in ("csv", "parquet"):
        a, b = tmp_path / f"a_{fmt}", tmp_path / f"b_{fmt}"
        generate(a, persons=2_000, seed=3, first_year=2022, last_year=2022, fmt=fmt)
        generate(b, persons=2_000, seed=3, first_year=2022, last_year=2022, fmt=fmt)
        assert (a / f"contacts.{fmt}").read_bytes() == (b / f"contacts.{fmt}").read_bytes()


def test_generate_can_leave_contacts_out_or_pick_years(tmp_path):
    generate(tmp_path, persons=3_000, seed=1, first_year=2020, last_year=2022, contact_years=[2022, 2020])
    c = _read(tmp_path, "contacts")
    assert {"2020", "2022"} <= set(c.date.str[:4]) <= {"2020", "2022", "2024"}  # 2024: invalid future dates
    assert (c.date > "2022-12-31").any()
    key = list(zip(c.date, c.kombika))
    assert key == sorted(key)  # 2020's future-dated rows sit among 2022's
    summary = generate(tmp_path, persons=1_000, seed=1, first_year=2021, last_year=2022, contacts=False)
    assert not (tmp_path / "contacts.csv").exists() and "contacts" not in summary["rows"]
    with pytest.raises(ValueError):
        generate(tmp_path, persons=1_000, first_year=2021, last_year=2022, contact_years=[2020])


def test_valid_rows_sit_on_a_kombika_valid_at_an_open_clinic(region):
    _, _, _, _, t, labelled = region
    v = labelled[labelled.invalid == ""]
    k = v.merge(t["kombika"], on="kombika", how="left", validate="many_to_one")
    assert k.clinic_id.notna().all()
    assert (k.date >= k.valid_from).all() and (k.valid_to.isna() | (k.date <= k.valid_to)).all()
    c = k.merge(t["clinics"], on="clinic_id", validate="many_to_one")
    assert (c.date >= c.opened).all() and (c.closed.isna() | (c.date <= c.closed)).all()
    assert (v.date.str[:4].astype(int) == v.year).all()  # never after the year's end
    p = t["persons"]
    residence = p[p.valid_from.notna()].groupby("person_id").agg(start=("valid_from", "min"), end=("valid_to", lambda s: s.max() if s.notna().all() else None))
    r = v.join(residence, on="person_id", how="inner")
    assert (r.date >= r.start).all() and (r.end.isna() | (r.date <= r.end)).all()
    assert (v.age >= 0).all()


def test_contacts_per_person_rise_with_age_and_acg(region):
    _, _, _, _, t, labelled = region
    year = 2022
    p = t["persons"]
    res = p[(p.county_code == "01") & p.valid_from.notna() & (p.valid_from <= "2022-01-01")
            & (p.valid_to.isna() | (p.valid_to >= "2022-12-31"))].drop_duplicates("person_id")
    counts = _valid_reports(labelled, year).groupby("person_id").size()
    n = res.person_id.map(counts).fillna(0).to_numpy()
    age = _age(res.birth_date, pd.Series("2022-07-01", index=res.index))
    band = pd.cut(age, [-1, 17, 64, 74, 200], labels=["0-17", "18-64", "65-74", "75+"])
    means = pd.Series(n).groupby(np.asarray(band)).mean()
    assert 2.0 < means["0-17"] < 4.0 and 2.3 < means["18-64"] < 4.0
    assert means["18-64"] < means["65-74"] < means["75+"] and 5.0 < means["65-74"] < 8.0 and 9.0 < means["75+"] < 16.0
    assert 3.8 < n.mean() < 4.6  # ~4.2 a resident and year
    assert 0.15 < (n == 0).mean() < 0.45  # some make none
    risk = t["risk"][t["risk"].month.str.startswith("2022")].drop_duplicates("person_id").set_index("person_id").acg_weight.astype(float)
    adults = pd.DataFrame({"n": n, "acg": res.person_id.map(risk).to_numpy()})[(age >= 18) & (age <= 64)].dropna()
    low, high = adults.acg.quantile([0.25, 0.75])
    assert adults.n[adults.acg >= high].mean() > 2 * adults.n[adults.acg <= low].mean()


def test_type_and_profession_shares(region):
    _, _, inputs, _, _, labelled = region
    v = _valid_reports(labelled, 2022)
    types = v.contact_type.value_counts(normalize=True)
    assert set(types.index) == set(CONTACT_TYPES)
    target = {"clinic_visit": 0.55, "phone": 0.20, "video": 0.10, "home_visit": 0.03, "home_care_visit": 0.07}
    for name, share in target.items():
        assert abs(types[name] - share) < 0.015, (name, types[name])
    assert abs(types[["team_visit", "group_team_visit", "group_visit"]].sum() - 0.05) < 0.01
    prof = v.profession.value_counts(normalize=True)
    assert set(prof.index) == set(PROFESSIONS)
    assert abs(prof["doctor"] - 0.45) < 0.02 and abs(prof["nurse"] - 0.30) < 0.02
    assert abs(prof["assistant_nurse"] - 0.07) < 0.015 and abs(prof[list(PSYCHOSOCIAL)].sum() - 0.07) < 0.015
    assert set(v.profession[v.contact_type == "home_care_visit"]) == {"nurse", "assistant_nurse"}
    video = {year: (generate_contacts(inputs, year, SEED, invalid_share=0).to_pandas().contact_type == "video").mean()
             for year in (2016, 2019)}
    assert video[2016] < 0.01 < video[2019] < 0.07 < types["video"]


def test_where_people_go(region):
    _, _, _, _, t, labelled = region
    v = _valid_reports(labelled, 2022)
    v = v.merge(t["kombika"][["kombika", "clinic_id", "assignment"]], on="kombika")
    clinics = t["clinics"].set_index("clinic_id")
    digital = clinics.index[clinics.name.isin(["Aurora Hälsa Digital", "Vårdappen", "Läkarlinjen"])]
    li = t["listings"]
    m = v.merge(li, on="person_id", suffixes=("", "_l"))
    m = m[(m.date >= m.valid_from) & (m.valid_to.isna() | (m.date <= m.valid_to))]
    hlv = m[(m.assignment == "hlv") & (m.contact_type != "home_care_visit") & ~m.clinic_id_l.isin(digital)]
    elsewhere = (hlv.clinic_id != hlv.clinic_id_l).mean()
    assert 0.08 < elsewhere < 0.17
    at_digital = v[v.clinic_id.isin(digital)]
    assert set(at_digital.contact_type) == {"video", "phone"}
    listed_elsewhere = m[m.clinic_id.isin(digital) & (m.clinic_id != m.clinic_id_l)]
    assert len(listed_elsewhere) > 0.3 * len(at_digital)
    hc = v[v.contact_type == "home_care_visit"].merge(t["home_care"].add_suffix("_h"), left_on=["person_id", "clinic_id"],
                                                      right_on=["person_id_h", "clinic_id_h"])
    hc = hc[(hc.date >= hc.valid_from_h) & (hc.valid_to_h.isna() | (hc.date <= hc.valid_to_h))]
    assert hc.drop_duplicates(["kombika", "contact_id"]).shape[0] == (v.contact_type == "home_care_visit").sum()
    assert (v.contact_type == "home_care_visit").sum() / v[v.contact_type == "home_care_visit"].person_id.nunique() > 20
    p = t["persons"]
    outside = p[p.county_code != "01"].person_id
    assert v.person_id.isin(outside).sum() > 0 and v.person_id.str.startswith("99").sum() > 0
    unlisted = v[~v.person_id.isin(m.person_id)].merge(p[p.valid_from.notna()].drop_duplicates("person_id", keep="last")[["person_id", "area_code"]], on="person_id")
    unlisted = unlisted[~unlisted.clinic_id.isin(digital) & (unlisted.assignment == "hlv")]
    assert (unlisted.clinic_id.map(clinics.area_code) == unlisted.area_code).mean() > 0.9


def test_dates_and_report_times(region):
    _, _, _, _, _, labelled = region
    v = _valid_reports(labelled, 2022)
    d = pd.to_datetime(v.date)
    assert (d.dt.dayofweek < 5).mean() > 0.9
    per_month = d.dt.month.value_counts()
    assert per_month[7] < 0.7 * per_month[6] and per_month[7] < 0.7 * per_month[8]
    lag = (pd.to_datetime(v.reported_at) - d).dt.days
    assert (lag >= 1).all() and lag.median() <= 4 and lag.max() < 40


def test_video_and_kva_actions(region):
    _, _, _, _, _, labelled = region
    v = labelled[labelled.invalid == ""]
    video = v.contact_type == "video"
    assert v.actions[video].str.split(";").map(lambda a: "UX007" in a).all()
    assert not v.actions[~video].fillna("").str.contains("UX007").any()
    deep = v[v.actions.fillna("").str.contains("XV016")]
    assert len(deep) > 0 and (deep.profession == "doctor").all() and (deep.age >= 75).all()
    simple = v[v.actions.fillna("").str.contains("XV015")]
    assert len(simple) > 0 and (simple.age >= 65).all()
    codes = v.diagnoses.dropna().str.split(";")
    assert codes.map(len).max() == 3 and v.diagnoses.isna().any()
    assert codes.explode().str.fullmatch(ICD10).all()
    assert not codes.map(lambda c: len(set(c)) < len(c)).any()
    assert {"J06.9", "I10", "E11.9", "F32.1", "M54.5", "Z00.0", "F41.1", "K59.0"} <= set(codes.explode())


def test_children_mental_health_on_the_320_kombika(region):
    _, _, _, _, t, labelled = region
    v = labelled[labelled.invalid == ""].merge(t["kombika"][["kombika", "clinic_id", "assignment"]], on="kombika")
    psy = v[v.assignment == "psy_child_320"]
    assert len(psy) > 100
    assert (psy.date >= "2021-12-01").all() and (psy.date < "2022-01-01").any()
    assert psy.age.between(0, 17).all() and (psy.age <= 5).any()
    assert set(psy.profession) == PSYCHOSOCIAL
    assert psy.contact_type.isin(["clinic_visit", "home_visit", "video", "phone"]).all()
    hlv_children_psy = v[(v.assignment == "hlv") & (v.age <= 17) & v.profession.isin(PSYCHOSOCIAL) & (v.date >= "2021-12-01")]
    assert len(hlv_children_psy) < len(psy)


def test_invalid_rows_are_the_configured_share_and_each_is_detectable(region):
    _, _, inputs, made, t, labelled = region
    for year in YEARS:
        share = (made[year].invalid != "").mean()
        assert abs(share - 0.005) < 0.0015, (year, share)
    bad = labelled[labelled.invalid != ""]
    assert set(bad.invalid) == set(INVALID_KINDS)
    kombika = set(t["kombika"].kombika)
    reports = labelled[labelled.record_type == "report"]
    reported = pd.MultiIndex.from_arrays([reports.kombika, reports.contact_id])

    def flags(df: pd.DataFrame) -> dict[str, np.ndarray]:
        kinds = classify(pa.array(df.person_id.to_numpy(), pa.string())).to_numpy(zero_copy_only=False)
        each = df.diagnoses.str.split(";").explode()
        codes = (each.isna() | each.str.fullmatch(ICD10).fillna(False)).groupby(level=0).all().reindex(df.index)
        return {
            "bad_person_id": pd.isna(kinds),
            "unknown_kombika": ~df.kombika.isin(kombika).to_numpy(),
            "unknown_contact_type": ~df.contact_type.isin(CONTACT_TYPES).to_numpy(),
            "bad_diagnosis": ~codes.to_numpy(dtype=bool),
            "future_date": (df.date > (df.year + 1).astype(str) + "-12-31").to_numpy(),
            "cancel_unknown": ((df.record_type == "cancel").to_numpy()
                               & ~pd.MultiIndex.from_arrays([df.kombika, df.contact_id]).isin(reported)),
        }

    for kind, flagged in flags(bad).items():
        assert (flagged == (bad.invalid == kind).to_numpy()).all(), kind
    valid = labelled[labelled.invalid == ""]
    for kind, flagged in flags(valid).items():
        assert not flagged.any(), kind
    more = make_contacts(inputs, 2022, SEED, invalid_share=0.03)
    assert abs((more.invalid != "").mean() - 0.03) < 0.004
    assert (make_contacts(inputs, 2022, SEED, invalid_share=0).invalid == "").all()


def test_corrections_and_cancels_follow_a_report(region):
    _, _, _, made, _, labelled = region
    v = labelled[labelled.invalid == ""]
    firsts = v[v.event == "report"].set_index(["kombika", "contact_id"])
    assert firsts.index.is_unique
    for event, share in (("correction", 0.01), ("cancel", 0.01)):
        rows = v[v.event == event]
        assert abs(len(rows) / len(firsts) - share) < 0.003, event
        original = firsts.loc[list(zip(rows.kombika, rows.contact_id))]
        assert (rows.reported_at.to_numpy() > original.reported_at.to_numpy()).all(), event
        assert (rows.date.to_numpy() == original.date.to_numpy()).all() and (rows.person_id.to_numpy() == original.person_id.to_numpy()).all()
    corr = v[v.event == "correction"]
    original = firsts.loc[list(zip(corr.kombika, corr.contact_id))]
    changed = pd.DataFrame({f: corr[f].fillna("").to_numpy() != original[f].fillna("").to_numpy()
                            for f in ("contact_type", "profession", "diagnoses", "actions")})
    assert (changed.sum(axis=1) == 1).all()
    for f in ("profession", "diagnoses", "actions"):
        assert (changed[f] == (corr.corrected == f).to_numpy()).all() and changed[f].any(), f
    assert (v.record_type[v.event == "cancel"] == "cancel").all() and (v.record_type[v.event != "cancel"] == "report").all()


def test_from_tables_infers_digital_clinics_and_matches_the_region(region):
    _, _, inputs, _, t, _ = region
    clinics = t["clinics"]
    digital = clinics.clinic_id[clinics.name.isin(["Aurora Hälsa Digital", "Vårdappen", "Läkarlinjen"])]
    assert set(clinics.clinic_id[inputs.digital]) == set(digital)
    assert inputs.n_persons == t["persons"].person_id.nunique()
    assert set(inputs.acg) == set(YEARS)


def test_every_valid_contact_has_a_residence_on_its_date_or_a_reservnummer(region):
    # RULES.md §10: out-of-county pricing is for residents of another county on the date, and a
    # contact without a residence row is held. The synthetic region writes its visitors from other
    # counties into persons with their county, and nobody is seen outside their residence interval,
    # so its out-of-county visits keep being priced and none is held.
    _, _, _, _, tables, labelled = region
    v = _valid_reports(labelled)
    p = tables["persons"]
    j = v[["person_id", "date"]].reset_index().merge(p[["person_id", "county_code", "valid_from", "valid_to"]], on="person_id", how="left")
    day = j.date.astype(str)  # ISO dates compare as text
    covers = j.county_code.notna() & (j.valid_from.isna() | (j.valid_from <= day)) & (j.valid_to.isna() | (j.valid_to >= day))
    resident = covers.groupby(j["index"]).any()
    reserv = v.person_id.str.startswith("99")
    assert (resident.reindex(v.index).fillna(False) | reserv).all()
    out_of_county = j[covers & (j.county_code != "01")]
    assert len(out_of_county) > 0  # visitors from other counties are in persons with their county


def test_first_contacts_are_a_quarter_mostly_within_3_days_and_vary_by_kombika(region):
    """first_contact / requested_on (the care-guarantee share, RULES.md §4): ~25 % first contacts;
    requested_on 0–3 days before the date for most, 4–21 for the rest; the chance of within 3 days
    is the kombika's own, so some kombika fall below 85 % and others do not."""
    *_, labelled = region
    v = _valid_reports(labelled)
    first = v[v.first_contact == "1"]
    assert 0.22 < len(first) / len(v) < 0.28
    assert set(v.first_contact.dropna()) == {"0", "1"} and v.requested_on[v.first_contact == "0"].isna().all()
    lag = (pd.to_datetime(first.date) - pd.to_datetime(first.requested_on)).dt.days
    assert lag.between(0, 21).all() and 0.8 < (lag <= 3).mean() < 0.95
    by_kombika = (lag <= 3).groupby(first.kombika).mean()
    big = first.kombika.value_counts()
    shares = by_kombika[big[big >= 200].index]
    assert (shares < 0.85).any() and (shares >= 0.85).any()
    # A correction keeps its report's first_contact and requested_on (the same key).
    corr = labelled[labelled.event == "correction"].set_index(["kombika", "contact_id"])
    reports = v.set_index(["kombika", "contact_id"])
    both = corr.join(reports[["first_contact", "requested_on"]], rsuffix="_report", how="inner")
    assert (both.first_contact == both.first_contact_report).all()
