"""A small valid input folder as CSV text, which each test spoils in one place (imported by the tests;
named uniquely because test folders have no __init__.py)."""

from __future__ import annotations

from pathlib import Path

# Valid personnummer (ids.make_personnummer): 1980-05-17 M, 2001-12-01 F, 1955-02-28 M;
# a samordningsnummer (day + 60) and a reservnummer.
P1, P2, P3 = "198005171239", "200112014568", "195502287815"
SAMO = "199003721231"  # 1990-03-12 + 60
RESERV = "99ABC1234567"

VALID = {
    "clinics": """clinic_id,name,group_id,area_code,opened,closed,comment
C1,Vårdcentral Kista,G1,0180,2010-01-01,,first
C2,"Husläkarna, Nacka",G2,0182,2015-03-01,,
C3,Gamla kliniken,G1,0180,2000-01-01,2021-12-31,
""",
    "kombika": """kombika,clinic_id,assignment,valid_from,valid_to
11010046M30,C1,hlv,2010-01-01,
11010047M30,C2,psy_child_320,2015-03-01,2023-12-31
""",
    "persons": f"""person_id,birth_date,sex,county_code,area_code,valid_from,valid_to
{P1},1980-05-17,M,01,0180,,
{P2},2001-12-01,F,01,0182,2001-12-01,
{P3},1955-02-28,M,03,,,
{SAMO},1990-03-12,M,01,0180,2020-01-01,2022-06-30
{RESERV},1970-01-01,F,01,0180,,
""",
    "listings": f"""person_id,clinic_id,valid_from,valid_to
{P1},C1,2018-01-01,2022-03-15
{P1},C2,2022-03-16,
{P2},C2,2019-06-01,
{P3},C1,2020-01-01,
{SAMO},C1,2021-01-01,2022-06-30
{RESERV},C2,2022-01-01,
""",
    "risk": f"""person_id,month,acg_weight,cni
{P1},2022-01,1.2345,0.85
{P2},2022-01,0.5,1
{P3},2022-01,2.000001,1.4
{SAMO},2022-01,0.9,0.61
{P1},2022-02,1.3,0.85
""",
    "home_care": f"""person_id,clinic_id,valid_from,valid_to
{P3},C1,2022-01-01,2022-12-31
""",
    "goals": """clinic_id,period,goal,value
C1,2022-01,care_guarantee_share,0.93
C1,2022,quality_areas_met,4
C2,2022,penalty_areas_failed,0
""",
    "affiliations": """clinic_id,provider_clinic_id,assignment,valid_from,valid_to
C1,C2,psy_child_320,2020-01-01,
""",
}


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is not None:
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder
