"""Swedish number, amount and date formatting for what people read in the web app and its downloads
("1 234 567,89 kr", "2 402", "1,25", "2022-03-31"); the engine's own texts stay machine-readable."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# A no-break space between thousands keeps an amount on one line in narrow table cells; Swedish
# typography (Språkrådet) groups thousands with a space and uses a decimal comma.
THOUSANDS = "\u00a0"
MINUS = "\u2212"  # the typographic minus reads better than a hyphen and screen readers say "minus"


def _group(whole: int) -> str:
    return f"{whole:,}".replace(",", THOUSANDS)


def kronor(ore: int | None, unit: bool = True) -> str:
    """Öre as Swedish kronor: 123456789 → "1 234 567,89 kr" (exact: integer arithmetic, no float)."""
    if ore is None:
        return ""
    ore = int(ore)
    whole, frac = divmod(abs(ore), 100)
    text = f"{MINUS if ore < 0 else ''}{_group(whole)},{frac:02d}"
    return f"{text}{THOUSANDS}kr" if unit else text


def number(value, decimals: int = 2) -> str:
    """A quantity for people: a whole count without decimals ("2 402"), otherwise at most
    `decimals` places, rounded half away from zero, trailing zeros dropped ("1,25", "0,5")."""
    if value is None or value == "":
        return ""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not d.is_finite():
        return str(value)
    d = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = MINUS if d < 0 else ""
    whole, _, frac = f"{abs(d):f}".partition(".")
    frac = frac.rstrip("0")
    return f"{sign}{_group(int(whole))}" + (f",{frac}" if frac else "")


def percent(value, decimals: int = 1) -> str:
    """A share (0.431) as Swedish percent ("43,1 %")."""
    if value is None:
        return ""
    return f"{number(Decimal(str(value)) * 100, decimals)}{THOUSANDS}%"


def date(value) -> str:
    """A date as ISO 8601, the Swedish standard form ("2022-03-31"); a timestamp to the minute."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def yes_no(value) -> str:
    """Booleans as Swedish words; None as a dash rather than the Python word."""
    if value is None:
        return "–"
    return "ja" if value else "nej"


def install(env) -> None:
    """Register the filters on a Jinja environment (the web app's templates)."""
    env.filters.update(kr=kronor, tal=number, procent=percent, datum=date, janej=yes_no)
