"""Swedish person identifiers (RULES.md §8), checked and generated on whole arrays.

Kinds: `personnummer` (12 digits YYYYMMDDNNNC, Luhn check digit over the 10-digit form),
`samordningsnummer` (the same with day of birth + 60), `reservnummer` (Region Stockholm:
`99` followed by 10 characters; not a personnummer, county of residence unknown).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PERSONNUMMER = "personnummer"
SAMORDNINGSNUMMER = "samordningsnummer"
RESERVNUMMER = "reservnummer"

_LUHN_WEIGHTS = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2], dtype=np.int64)


def luhn_check_digits(nine_digits: np.ndarray) -> np.ndarray:
    """Check digit for each row of an (n, 9) int array: the 10-digit form's first 9 digits."""
    products = nine_digits * _LUHN_WEIGHTS
    digit_sums = products // 10 + products % 10
    return (10 - digit_sums.sum(axis=1) % 10) % 10


def _digits(ids: pa.Array) -> np.ndarray:
    """(n, 12) int array of the digits of 12-character ASCII strings (caller checks shape)."""
    raw = np.frombuffer(pc.binary_join_element_wise(ids, "").cast(pa.binary()).buffers()[2], dtype=np.uint8)
    return raw.reshape(-1, 12).astype(np.int64) - 48


def classify(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Kind of each identifier (`personnummer`, `samordningsnummer`, `reservnummer`), null if invalid.

    Vectorised: digits, calendar date of birth (day − 60 for samordningsnummer) and the
    Luhn digit are checked on the whole array at once.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.string())
    n = len(ids)
    # Kinds as small integer codes (0 = invalid), turned into strings once at the end:
    # no Python object per row.
    kinds = np.zeros(n, dtype=np.int8)
    if n == 0:
        return pa.array([], pa.string())
    is_reserv = pc.fill_null(pc.match_substring_regex(ids, r"^99[0-9A-Za-z]{10}$"), False).to_numpy(zero_copy_only=False)
    is_digits = pc.fill_null(pc.match_substring_regex(ids, r"^(19|20)[0-9]{10}$"), False).to_numpy(zero_copy_only=False)
    kinds[is_reserv] = 3
    idx = np.flatnonzero(is_digits)
    if len(idx):
        d = _digits(pc.take(ids, pa.array(idx)))
        year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        month = d[:, 4] * 10 + d[:, 5]
        day = d[:, 6] * 10 + d[:, 7]
        coordination = day > 60
        real_day = np.where(coordination, day - 60, day)
        ok_date = _valid_dates(year, month, real_day)
        ok_luhn = luhn_check_digits(d[:, 2:11]) == d[:, 11]
        ok = ok_date & ok_luhn
        kinds[idx[ok & ~coordination]] = 1
        kinds[idx[ok & coordination]] = 2
    indices = pa.array(kinds - 1, pa.int8(), mask=kinds == 0)
    dictionary = pa.array([PERSONNUMMER, SAMORDNINGSNUMMER, RESERVNUMMER], pa.string())
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def _valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    ok = (month >= 1) & (month <= 12) & (day >= 1)
    safe_month = np.clip(month, 1, 12)
    start = (year - 1970) * 12 + safe_month - 1
    first = start.astype("datetime64[M]")
    days_in_month = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    return ok & (day <= days_in_month)


def kind_of(person_id: str) -> str | None:
    """Scalar form of `classify`, for one identifier at an API edge."""
    return classify(pa.array([person_id], pa.string()))[0].as_py()


def make_personnummer(birth_dates: np.ndarray, serials: np.ndarray, coordination: np.ndarray | None = None) -> np.ndarray:
    """Valid 12-digit identifiers from birth dates (datetime64[D]) and 3-digit serials (0–999).

    The serial's last digit decides sex (odd = male); `coordination` marks samordningsnummer
    (day + 60). Used by `synth`; the inverse of `classify`.
    """
    b = np.asarray(birth_dates, dtype="datetime64[D]")
    years = b.astype("datetime64[Y]").astype(np.int64) + 1970
    months = b.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (b - b.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    if coordination is not None:
        days = np.where(coordination, days + 60, days)
    serials = np.asarray(serials, dtype=np.int64)
    cols = [
        (years // 10) % 10, years % 10, months // 10, months % 10, days // 10, days % 10,
        serials // 100, (serials // 10) % 10, serials % 10,
    ]
    nine = np.stack(cols, axis=1)
    check = luhn_check_digits(nine)
    number = years * 10**8 + months * 10**6 + days * 10**4 + serials * 10 + check
    return number.astype(str)
