"""Vectorised parsing shared by the input files and the contact register: boolean masks as
numpy, parse-each-distinct-value-once, ISO dates, person-id problems with their reasons, and the
one way a value is shown in a message (person numbers hidden, invisible characters made visible)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ersattning.ids import calendar_ok, classify, fixed_width_bytes


def mask_np(mask) -> np.ndarray:
    """A boolean Arrow array as numpy, null = False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def dictionary_parse(values: pa.Array, parse) -> tuple[pa.Array, np.ndarray, object, pa.Array]:
    """Parse each distinct value once (a date column has a few thousand distinct values
    among millions of rows), then spread the result back over the rows.

    `parse(unique) -> (typed unique, ok unique, extra)`. Returns the typed rows, the mask of
    present values that failed, `extra` and the row -> distinct value indices.
    """
    encoded = pc.dictionary_encode(values)
    typed_unique, ok_unique, extra = parse(encoded.dictionary)
    typed = typed_unique.take(encoded.indices)
    if ok_unique.all():
        wrong = np.zeros(len(values), bool)  # the common case: no per-row mask to spread
    else:
        wrong = mask_np(pa.array(~ok_unique).take(encoded.indices))
    return typed, wrong, extra, encoded.indices


def parse_dates(unique: pa.Array) -> tuple[pa.Array, np.ndarray]:
    shaped = mask_np(pc.match_substring_regex(unique, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    idx = np.flatnonzero(shaped)
    d = fixed_width_bytes(unique.take(pa.array(idx, pa.int64())), 10).astype(np.int64) - 48
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 5] * 10 + d[:, 6]
    day = d[:, 8] * 10 + d[:, 9]
    good = calendar_ok(year, month, day)
    ok = np.zeros(len(unique), bool)
    ok[idx[good]] = True
    days = np.zeros(len(unique), np.int32)
    first = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]").astype("datetime64[D]")
    days[idx] = np.where(good, (first - np.datetime64("1970-01-01", "D")).astype(np.int64) + day - 1, 0)
    return pa.array(days, pa.date32(), mask=~ok), ok, None


ID_REASONS = pa.array([
    " must be 12 digits YYYYMMDDNNNC (personnummer, samordningsnummer) or a reservnummer (99 + 10 letters or digits)",
    " is in the 10-digit form: give all 12 digits YYYYMMDDNNNC",
    " must start with the century 19 or 20",
    " has a date of birth that is not a calendar date (day + 60 for a samordningsnummer)",
    " has a wrong check digit (Luhn)",
    " has the serial number 000, which is never given",
], pa.string())


def person_id_problems(ids: pa.Array) -> tuple[np.ndarray, tuple]:
    """Invalid identifiers (present but not classified) and, for each, which check failed."""
    invalid = mask_np(pc.and_(ids.is_valid(), classify(ids).is_null()))
    reason = np.zeros(len(ids), np.int64)
    idx = np.flatnonzero(invalid)
    if len(idx):
        sub = ids.take(pa.array(idx, pa.int64()))
        short = mask_np(pc.match_substring_regex(sub, r"^[0-9]{6}[-+]?[0-9]{4}$"))
        twelve = mask_np(pc.match_substring_regex(sub, r"^[0-9]{12}$"))
        r = np.where(short, 1, 0)
        t = np.flatnonzero(twelve)
        if len(t):
            d = fixed_width_bytes(sub.take(pa.array(t, pa.int64())), 12).astype(np.int64) - 48
            century = d[:, 0] * 10 + d[:, 1]
            day = d[:, 6] * 10 + d[:, 7]
            date_ok = calendar_ok(century * 100 + d[:, 2] * 10 + d[:, 3], d[:, 4] * 10 + d[:, 5], np.where(day > 60, day - 60, day))
            serial_zero = (d[:, 8:11] == 0).all(axis=1)
            r[t] = np.where(~np.isin(century, (19, 20)), 2, np.where(~date_ok, 3, np.where(serial_zero, 5, 4)))
        reason[idx] = r
    return invalid, (reason, ID_REASONS)


# Characters that are never part of a code: C0 and C1 controls, zero-width and direction marks,
# bidi embeddings, overrides and isolates, and the byte-order mark (they hide or reorder text).
INVISIBLE = r"[\x{0000}-\x{001F}\x{007F}-\x{009F}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{FEFF}]"
# Anything that looks like a person number: 10 or more digits in a row, or YYMMDD / YYYYMMDD,
# a separator (-, + or a space) and four digits, anywhere in the value.
PERSON_NUMBER_LIKE = r"[0-9]{6}(?:[0-9]{2})?[-+ ][0-9]{4}|[0-9]{10,}"
HIDDEN_PERSON_NUMBER = "[personnummer]"


def plain_ascii(values: pa.Array, lowest: int = 0x20) -> bool:
    """Whether every byte of the text values is ASCII from `lowest` (0x20: no control
    character; 0x21: no space either) up to 0x7E: then no value has an invisible character
    and no regex need look at them (the common case, on the raw bytes at once)."""
    if len(values) == 0 or values.null_count == len(values):
        return True
    _, offsets, data = values.buffers()
    if data is None:
        return True
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    bounds = np.frombuffer(offsets, offset_type)[values.offset:values.offset + len(values) + 1]
    b = np.frombuffer(data, np.uint8)[bounds[0]:bounds[-1]]
    return not ((b < lowest) | (b > 0x7E)).any()


def hide_person_numbers(values: pa.Array) -> pa.Array:
    """Every person-number-like run replaced by a placeholder (a value echoed in a message
    must never repeat a person number, whatever field it was put in)."""
    return pc.replace_substring_regex(values, PERSON_NUMBER_LIKE, HIDDEN_PERSON_NUMBER)


def shown(values: pa.Array, width: int = 40) -> pa.Array:
    """A value as a message may echo it: person numbers hidden, invisible characters as U+FFFD,
    cut to `width` characters (after hiding, so a cut never leaves part of a number)."""
    values = values.cast(pa.string())
    return pc.utf8_slice_codeunits(hide_person_numbers(pc.replace_substring_regex(values, INVISIBLE, "\ufffd")), 0, width)
