"""Due dates: issue date + 30 days, moved to the next Swedish working day (holidays' Sweden calendar
plus midsommarafton, julafton and nyårsafton, when banks are closed)."""

from __future__ import annotations

import datetime as dt

from ersattning.export.workdays import due_date, is_working_day


def test_midsommar_2022_moves_the_due_date_to_monday():
    # 2022-05-25 + 30 = Fri 2022-06-24 midsommarafton; Sat 25 midsommardagen; Sun 26 → Mon 27 June
    assert due_date(dt.date(2022, 5, 25)) == dt.date(2022, 6, 27)


def test_christmas_2023_moves_the_due_date_past_the_holidays():
    # 2023-11-24 + 30 = Sun 24 Dec julafton; 25 juldagen; 26 annandag jul → Wed 27 December
    assert due_date(dt.date(2023, 11, 24)) == dt.date(2023, 12, 27)


def test_new_year_and_an_ordinary_day():
    # 2022-12-02 + 30 = Sat 2022-12-31 nyårsafton; Sun 1 Jan nyårsdagen → Mon 2 January 2023
    assert due_date(dt.date(2022, 12, 2)) == dt.date(2023, 1, 2)
    # 2022-04-05 + 30 = Thu 2022-05-05, a working day: unchanged
    assert due_date(dt.date(2022, 4, 5)) == dt.date(2022, 5, 5)


def test_half_days_are_working_days_and_public_holidays_are_not():
    assert is_working_day(dt.date(2022, 6, 23))      # dag före midsommarafton (from 2 pm): a working day
    assert not is_working_day(dt.date(2022, 6, 6))   # nationaldagen (Monday)
    assert not is_working_day(dt.date(2022, 5, 26))  # Kristi himmelsfärdsdag (Thursday)
    assert not is_working_day(dt.date(2022, 4, 15))  # långfredagen
