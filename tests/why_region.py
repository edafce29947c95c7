"""The AF region (af_region) with history for the "why" pages: March 2021 and February 2022
computed, February 2022 issued and corrected by a contact reported late (an adjustment line on
March 2022), and March 2022's rejected and held contacts to price as if corrected.

At A1 (kombika KA), every visit a VF_BASE of 110 kr (from 2021-02-01), SUP_UNLISTED 100 kr:
  2021-03  y-1                      1 visit      visit_fee 110,00 kr
  2022-02  f-1, f-2, f-3            3 visits     visit_fee 330,00 kr; issued
           f-4 (reported after February was issued) → on March: adjustment +110,00 kr
           (paid 330,00 kr, now 440,00 kr)
  2022-03  a-1, a-2                 2 visits     visit_fee 220,00 kr (−110,00 kr, −33 %, 1 visit fewer than
                                                 February; +110,00 kr, +100 %, 1 more than March 2021)
Waiting for a fix, dated March 2022 (A1's, what the performing clinic would be paid):
  a-3  bad_person_id (decides the product)            not priceable
  a-4  bad_diagnosis                                  110,00 kr (VF_BASE)
  a-6  bad_profession, then bad_diagnosis (latest)    110,00 kr
  h-1  held: no residence on the date, unlisted       210,00 kr (VF_BASE 110 + SUP_UNLISTED 100)
  in all 430,00 kr; bad_diagnosis 220,00 kr, no_residence_on_date 210,00 kr, bad_person_id not priceable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from af_region import KA, P_ADULT, build, contact

from ersattning import rulebook
from ersattning.register import intake_table, records_table
from ersattning.store import run_month

NOT_IN_PERSONS = "195703311299"  # a valid personnummer the population register does not hold
LATE = "f-4"


def build_why(path: Path):
    """The database at `path`; returns the engine (the caller disconnects it)."""
    engine = build(path, run=False)
    book = rulebook.load()
    feb = [contact(f"f-{i}", KA, P_ADULT, date=f"2022-02-{10 + i}", reported_at="2022-02-28T10:00:00") for i in (1, 2, 3)]
    more = [contact("y-1", KA, P_ADULT, date="2021-03-10", reported_at="2021-03-31T10:00:00"),
            contact("a-4", KA, P_ADULT, date="2022-03-14", diagnoses="XX"),
            contact("a-6", KA, P_ADULT, date="2022-03-16", profession="plumber"),
            contact("h-1", KA, NOT_IN_PERSONS, date="2022-03-20")]
    intake_table(engine, records_table(feb + more), "pas-history.jsonl", received_at=dt.datetime(2022, 4, 6, 8, 0))
    # The second attempt at a-6: the profession fixed, a diagnosis now wrong.
    intake_table(engine, records_table([contact("a-6", KA, P_ADULT, date="2022-03-16", profession="nurse", diagnoses="??",
                                                reported_at="2022-04-01T09:00:00")]), "pas-retry.jsonl",
                 received_at=dt.datetime(2022, 4, 7, 8, 0))
    run_month(engine, "2021-03", book)
    run_month(engine, "2022-02", book, issue=True)
    # Reported after February was issued (received now, after its computation): paid on March.
    intake_table(engine, records_table([contact(LATE, KA, P_ADULT, date="2022-02-20", reported_at="2022-03-01T10:00:00")]),
                 "pas-late.jsonl")
    run_month(engine, "2022-03", book)
    return engine
