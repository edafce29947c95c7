"""The README's walk-through names what `ersattning demo` builds (issue 14, point 10): every clinic,
kombika, person, contact and line id it uses is in the demo's synthetic region, open or listed on
the dates it uses them; and the manual-line example is given once."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from ersattning.demo import generate_region

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> str:
    return "\n".join(re.findall(r"```sh\n(.*?)```", README, flags=re.S))


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-region")
    generate_region(folder)
    con = duckdb.connect()
    for name in ("clinics", "kombika", "persons", "listings", "contacts"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{folder / name}.csv', all_varchar = true)")
    yield con
    con.close()


def _open(con, clinic: str, month: str) -> bool:
    return bool(con.execute("""SELECT count(*) FROM clinics WHERE clinic_id = ? AND opened <= ? || '-01'
                               AND (closed IS NULL OR closed = '' OR closed >= ? || '-28')""", [clinic, month, month]).fetchone()[0])


def test_the_clinics_named_exist_and_are_open_in_the_months_used(region):
    text = _sh_blocks()
    uses = set(re.findall(r"--clinic (HLM\d{4}) --month (\d{4}-\d{2})", text))
    uses |= set(re.findall(r"statements/(HLM\d{4})/(\d{4}-\d{2})", text))
    uses |= set(re.findall(r"--line (HLM\d{4}):(\d{4}-\d{2}):", text))
    uses |= {(c, "2022-03") for c in re.findall(r"--clinic (HLM\d{4})\)", text)}  # a token used on March's statement
    assert len(uses) >= 3, uses
    for clinic, month in uses:
        assert _open(region, clinic, month), (clinic, month)


def test_the_reported_contact_is_on_the_clinics_kombika_for_a_person_listed_there(region):
    text = _sh_blocks()
    kombika, = re.findall(r'"kombika": "(\w+)"', text)
    person, = re.findall(r'"person_id": "(\d{12})"', text)
    date, = re.findall(r'"date": "(\d{4}-\d{2}-\d{2})"', text)
    clinic, = set(re.findall(r"--clinic (HLM\d{4})\)", text))  # the token's clinic
    assert region.execute("SELECT clinic_id FROM kombika WHERE kombika = ?", [kombika]).fetchone() == (clinic,)
    assert region.execute("""SELECT count(*) FROM listings WHERE person_id = ? AND clinic_id = ?
                             AND valid_from <= ? AND (valid_to IS NULL OR valid_to = '' OR valid_to >= ?)""",
                          [person, clinic, date, date]).fetchone()[0] == 1


def test_the_traced_and_corrected_contacts_are_in_the_demos_contacts(region):
    text = _sh_blocks()
    contacts = set(re.findall(r"--contact (\w+):(\w+)", text))
    late = re.search(r"cat > late\.csv <<'CSV'\n(.*?)\nCSV", text, flags=re.S).group(1).splitlines()[1:]
    contacts |= {(row.split(",")[1], row.split(",")[0]) for row in late}
    assert len(contacts) >= 3, contacts
    for kombika, contact_id in contacts:
        assert region.execute("SELECT count(*) FROM contacts WHERE kombika = ? AND contact_id = ? AND date LIKE '2022-03-%'",
                              [kombika, contact_id]).fetchone()[0] >= 1, (kombika, contact_id)


def test_the_manual_line_example_is_given_once():
    examples = re.findall(r"ersattning manual add --db \S+ --clinic HLM\d{4}", README)
    assert len(examples) == 1, examples
