"""The year floor query (`bench.year_floor_sql`) on a few hand-made persons: each month-end's
capitation per clinic as the rulebook counts it (ages, latest risk row, residence) and its visits."""

from __future__ import annotations

import duckdb

from ersattning.bench import year_floor_sql
from ersattning.period import last_day, months_of

# Öre a year: age bands, ACG and CNI rates; the base fee per visit (divisible by 12 for clean sums).
BANDS = [(0, 21, 1200), (22, None, 2400)]
ACG, CNI, FEE = 12000, 6000, 5000


def _floor(con) -> dict:
    months = [(m, last_day(m).isoformat(), BANDS, ACG, CNI, FEE) for m in months_of(2022)]
    rows = con.execute(year_floor_sql(months)).fetchall()
    return {(clinic, month): (cap, visits) for clinic, month, cap, visits, _ in rows}


def _region():
    con = duckdb.connect()
    con.execute("""
        CREATE TABLE persons AS SELECT * FROM (VALUES
            ('200002299999', DATE '2000-02-29', '01', NULL::DATE, NULL::DATE),   -- a leap-day birthday
            ('195006159999', DATE '1950-06-15', '01', NULL, NULL),
            ('198001019999', DATE '1980-01-01', '03', NULL, NULL),               -- another county
            ('199001019999', DATE '1990-01-01', '01', NULL, DATE '2022-10-15')  -- moves out in October
        ) t(person_id, birth_date, county_code, valid_from, valid_to);
        CREATE TABLE listings AS SELECT * FROM (VALUES
            ('200002299999', 'C1', DATE '2020-01-01', NULL::DATE),
            ('195006159999', 'C1', DATE '2022-01-01', DATE '2022-06-15'),
            ('198001019999', 'C2', DATE '2020-01-01', NULL),
            ('199001019999', 'C2', DATE '2020-01-01', NULL)
        ) t(person_id, clinic_id, valid_from, valid_to);
        CREATE TABLE risk AS SELECT person_id, month, acg::DECIMAL(18,6) AS acg_weight, cni::DECIMAL(18,6) AS cni FROM (VALUES
            ('200002299999', '2021-01', 1.0, 0.5),
            ('195006159999', '2022-04', 2.0, 0.0),   -- no risk row before April
            ('198001019999', '2022-01', 5.0, 5.0),
            ('199001019999', '2022-01', 1.0, 0.0),
            ('199001019999', '2022-07', 3.0, 0.0),
            ('199001019999', '2023-01', 9.0, 9.0)    -- after the year
        ) t(person_id, month, acg, cni);
        CREATE TABLE kombika AS SELECT * FROM (VALUES ('K1', 'C1'), ('K2', 'C2')) t(kombika, clinic_id);
        CREATE TABLE contact_events AS SELECT * FROM (VALUES
            ('K1', 'report', DATE '2022-03-02'), ('K1', 'report', DATE '2022-03-31'),
            ('K1', 'cancel', DATE '2022-03-05'), ('K2', 'report', DATE '2021-12-31')
        ) t(kombika, record_type, date);
    """)
    return con


def test_each_month_end_counts_ages_risk_and_residence_as_the_rulebook_does():
    floor = _floor(_region())
    # January: the leap-day person is 21; the other is 71, with no risk row yet (no ACG, no CNI).
    assert floor["C1", "2022-01"] == ((1200 + 12000 + 3000 + 2400) // 12, 0)
    # 28 February 2022: the 29 February birthday is not yet reached (it is on 1 March).
    assert floor["C1", "2022-02"] == ((1200 + 12000 + 3000 + 2400) // 12, 0)
    assert floor["C1", "2022-03"] == ((2400 + 12000 + 3000 + 2400) // 12, 2 * FEE)  # the cancelled row is not a visit
    assert floor["C1", "2022-04"] == ((2400 + 12000 + 3000 + 2400 + 24000) // 12, 0)  # the first risk row holds
    assert floor["C1", "2022-06"] == ((2400 + 12000 + 3000) // 12, 0)  # the listing ended on 15 June
    # C2: the other county's person never counts; the latest risk row holds until the next one.
    assert floor["C2", "2022-01"] == ((2400 + 12000) // 12, 0)
    assert floor["C2", "2022-06"] == ((2400 + 12000) // 12, 0)
    assert floor["C2", "2022-07"] == ((2400 + 36000) // 12, 0)
    assert floor["C2", "2022-09"] == ((2400 + 36000) // 12, 0)
    assert ("C2", "2022-10") not in floor  # moved out of the county on 15 October
    assert {m for c, m in floor if c == "C1"} == set(months_of(2022))


def test_months_with_other_prices_are_priced_with_their_own():
    con = _region()
    months = [(m, last_day(m).isoformat(), BANDS if m < "2022-07" else [(0, None, 0)], ACG if m < "2022-07" else 0, CNI, FEE)
              for m in months_of(2022)]
    floor = {(c, m): cap for c, m, cap, _, _ in con.execute(year_floor_sql(months)).fetchall()}
    assert floor["C1", "2022-06"] == (2400 + 12000 + 3000) // 12
    assert floor["C1", "2022-07"] == 3000 // 12  # no age or ACG pay from July: CNI alone
