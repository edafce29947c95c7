"""Person identifiers (RULES.md §8): the vectorised `ids.classify` against a plain one-at-a-time reading."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ersattning.ids import classify, kind_of, make_personnummer


def reference_kind(text: str | None) -> str | None:
    """The rules of RULES.md §8, written out for one identifier at a time."""
    if text is None or len(text) != 12:
        return None
    if text.startswith("99") and text[2:].isascii() and text[2:].isalnum():
        return "reservnummer"
    if not (text.isascii() and text.isdigit()) or text[:2] not in ("19", "20"):
        return None
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    coordination = day > 60
    try:
        dt.date(year, month, day - 60 if coordination else day)
    except ValueError:
        return None
    if text[8:11] == "000":
        return None
    total = 0
    for i, ch in enumerate(text[2:11]):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    if (10 - total % 10) % 10 != int(text[11]):
        return None
    return "samordningsnummer" if coordination else "personnummer"


def test_known_numbers():
    assert kind_of("198112189876") == "personnummer"   # a published test number
    assert kind_of("198112189877") is None              # wrong check digit
    assert kind_of("198112789872") is None or kind_of("198112789872") == "samordningsnummer"
    assert kind_of("990000000A12") == "reservnummer"
    assert kind_of("19811218987") is None               # 11 characters
    assert kind_of("199002301234") is None              # 30 February


def test_a_personnummer_with_serial_000_is_invalid():
    # The personnummer projects' shared test list: date and Luhn digit are right, serial 000 is never given.
    assert kind_of("201509160006") is None
    assert kind_of("201509760003") is None              # the samordningsnummer of the same: day 16 + 60
    assert kind_of("201509160014") == "personnummer"    # serial 001
    assert kind_of("990000000006") == "reservnummer"    # a reservnummer has no serial to check


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.text(alphabet="0123456789", min_size=10, max_size=13),
    st.text(alphabet="9aZ0ö-+ ", min_size=12, max_size=12),
    st.builds(lambda s: "99" + s, st.text(alphabet="0123456789abcXYZ_", min_size=10, max_size=10)),
    st.none(),
), min_size=1, max_size=30), st.integers(0, 2**31))
def test_classify_agrees_with_the_rules_read_one_at_a_time(texts, seed):
    rng = np.random.default_rng(seed)
    valid = list(make_personnummer(
        np.datetime64("1900-01-01") + rng.integers(0, 45000, 5).astype("timedelta64[D]"), rng.integers(1, 1000, 5),
        coordination=rng.random(5) < 0.3))
    ids = texts + [str(v) for v in valid]
    assert classify(pa.array(ids, pa.string())).to_pylist() == [reference_kind(t) for t in ids]
    assert all(reference_kind(str(v)) is not None for v in valid)
