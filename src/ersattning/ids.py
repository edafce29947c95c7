"""Swedish person identifiers (RULES.md §8), checked and generated on whole arrays.

Kinds: `personnummer` (12 digits YYYYMMDDNNNC, Luhn check digit over the 10-digit form,
serial NNN 001–999: 000 is never given), `samordningsnummer` (the same with day of birth
+ 60), `reservnummer` (Region Stockholm: `99` followed by 10 characters; not a personnummer,
county of residence unknown, no date, serial or check digit to check).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.region import RESERVNUMMER_PREFIX

PERSONNUMMER = "personnummer"
SAMORDNINGSNUMMER = "samordningsnummer"
RESERVNUMMER = "reservnummer"

_LUHN_WEIGHTS = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2], dtype=np.int64)


_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], np.uint8)  # digit sum of 2 × d, by d


def luhn_check_digits(nine_digits: np.ndarray) -> np.ndarray:
    """Check digit for each row of an (n, 9) int array: the 10-digit form's first 9 digits.

    Weights 2,1,2,…: a doubled digit counts with its digit sum (table lookup, no per-row work).
    """
    nine = np.asarray(nine_digits).astype(np.uint8)
    total = _DOUBLED[nine[:, 0::2]].sum(axis=1, dtype=np.int64) + nine[:, 1::2].sum(axis=1, dtype=np.int64)
    return (10 - total % 10) % 10


def fixed_width_bytes(values: pa.Array, width: int) -> np.ndarray:
    """(n, width) uint8 matrix of strings all `width` bytes long (the caller checked that)."""
    values = pc.binary_join_element_wise(values, "")  # a fresh, offset-free copy
    if len(values) == 0:
        return np.zeros((0, width), np.uint8)
    bufs = values.buffers()
    offsets = np.frombuffer(bufs[1], np.int32, count=len(values) + 1)
    return np.frombuffer(bufs[2], np.uint8)[offsets[0]:offsets[-1]].reshape(-1, width)


def classify(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Kind of each identifier (`personnummer`, `samordningsnummer`, `reservnummer`), null if invalid.

    Vectorised on the bytes of the 12-character identifiers: digits, calendar date of birth
    (day − 60 for samordningsnummer), a serial other than 000 and the Luhn digit are checked
    on the whole array.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.string())
    n = len(ids)
    # Kinds as small integer codes (0 = invalid), turned into strings once at the end.
    kinds = np.zeros(n, dtype=np.int8)
    twelve = np.flatnonzero(pc.fill_null(pc.equal(pc.binary_length(ids), 12), False).to_numpy(zero_copy_only=False))
    if len(twelve):
        b = fixed_width_bytes(ids.take(pa.array(twelve, pa.int64())), 12)
        digit = (b >= 48) & (b <= 57)
        lower = b | 32
        alnum = digit | ((lower >= 97) & (lower <= 122))
        prefix = np.frombuffer(RESERVNUMMER_PREFIX.encode("ascii"), np.uint8)
        reserv = (b[:, :len(prefix)] == prefix).all(axis=1) & alnum[:, len(prefix):].all(axis=1)
        d = b.astype(np.int64) - 48
        century = d[:, 0] * 10 + d[:, 1]
        day = d[:, 6] * 10 + d[:, 7]
        coordination = day > 60
        numeric = digit.all(axis=1) & ((century == 19) | (century == 20))
        dated = calendar_ok(century * 100 + d[:, 2] * 10 + d[:, 3], d[:, 4] * 10 + d[:, 5], np.where(coordination, day - 60, day))
        luhn = luhn_check_digits(np.where(digit[:, 2:11], d[:, 2:11], 0)) == d[:, 11]
        serial = (b[:, 8:11] != 48).any(axis=1)  # serial 000 is never given
        ok = numeric & dated & serial & luhn
        code = np.where(reserv, 3, np.where(ok & coordination, 2, np.where(ok, 1, 0)))
        kinds[twelve] = code
    indices = pa.array(kinds - 1, pa.int8(), mask=kinds == 0)
    dictionary = pa.array([PERSONNUMMER, SAMORDNINGSNUMMER, RESERVNUMMER], pa.string())
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def calendar_ok(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each (year, month, day) is a date in the calendar, on whole arrays."""
    ok = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    first = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    days_in_month = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    return ok & (day <= days_in_month)


def kind_of(person_id: str) -> str | None:
    """Scalar form of `classify`, for one identifier at an API edge."""
    return classify(pa.array([person_id], pa.string()))[0].as_py()


def make_personnummer(birth_dates: np.ndarray, serials: np.ndarray, coordination: np.ndarray | None = None) -> np.ndarray:
    """Valid 12-digit identifiers from birth dates (datetime64[D]) and 3-digit serials (1–999;
    000 is never given, so it is refused).

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
    if len(serials) and (serials.min() < 1 or serials.max() > 999):
        raise ValueError("a serial is 1–999 (000 is never given)")
    cols = [
        (years // 10) % 10, years % 10, months // 10, months % 10, days // 10, days % 10,
        serials // 100, (serials // 10) % 10, serials % 10,
    ]
    nine = np.stack(cols, axis=1)
    check = luhn_check_digits(nine)
    number = years * 10**8 + months * 10**6 + days * 10**4 + serials * 10 + check
    return number.astype(str)
