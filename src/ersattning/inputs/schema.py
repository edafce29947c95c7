"""The input-file contracts (DESIGN.md "Data contracts (input files)") as data: files, columns, types.

One place says which files exist, which are required, which columns each holds, which
values are required and how each column is typed; the reader and the validator read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

DECIMAL = pa.decimal128(18, 6)
SOURCE_LINE = "source_line"

# Column kinds: how a column's text is checked and typed.
TEXT = "text"            # free text (a clinic's name)
CODE = "code"            # an identifier or code: no surrounding spaces
PERSON_ID = "person_id"  # personnummer / samordningsnummer / reservnummer (RULES.md §8)
DATE = "date"            # ISO YYYY-MM-DD, a calendar date
MONTH = "month"          # YYYY-MM
PERIOD = "period"        # YYYY or YYYY-MM
NUMBER = "number"        # plain decimal, at most 6 decimals, typed decimal128(18, 6)
SEX = "sex"              # F / M
GOAL = "goal"            # one of GOALS
KOMBIKA = "kombika"      # 11 characters (RULES.md §8)
COUNTY = "county"        # 2 digits (region.STOCKHOLM_COUNTY = Stockholm)
ORG_NUMBER = "org_number"  # organisationsnummer NNNNNN-NNNN or 10 digits, Luhn check digit; typed as 10 digits
FLAG = "flag"            # 0 or 1, typed int8

SEXES = ("F", "M")
# goal -> (kind of value, granularity of its period) per DESIGN.md's goals.csv row.
GOALS = {
    "care_guarantee_share": ("share", "month"),
    "quality_areas_met": ("count", "year"),
    "penalty_areas_failed": ("count", "year"),
    # Extension: 1 = the clinic runs an out-of-hours clinic (närakut) that year, which
    # exempts it from the 2015–2017 no-out-of-hours penalty (RULES.md §4).
    "out_of_hours_clinic": ("count", "year"),
}

_ARROW_TYPES = {DATE: pa.date32(), NUMBER: DECIMAL, FLAG: pa.int8()}


@dataclass(frozen=True)
class Column:
    """One contract column. `required`: a value must be given on every row (and so the
    column must be in the file); optional columns may be left out of the file altogether."""

    name: str
    kind: str
    required: bool
    personal: bool = False  # personal data: its value is never echoed in an error message

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES.get(self.kind, pa.string())


@dataclass(frozen=True)
class Contract:
    """One input file: its name (without extension), whether it must be given, its columns."""

    name: str
    required_file: bool
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def schema(self) -> pa.Schema:
        """The typed table's schema: every contract column, then `source_line`."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns] + [pa.field(SOURCE_LINE, pa.int64())])

    def empty_table(self) -> pa.Table:
        return self.schema.empty_table()


def _c(name: str, kind: str, required: bool = True, personal: bool = False) -> Column:
    return Column(name, kind, required, personal)


_PID = _c("person_id", PERSON_ID, personal=True)

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        Contract("clinics", True, (
            _c("clinic_id", CODE), _c("name", TEXT), _c("group_id", CODE), _c("area_code", CODE),
            _c("opened", DATE), _c("closed", DATE, False),
            # The provider's organisationsnummer, for the e-invoice (a sole trader's is a personnummer).
            _c("org_number", ORG_NUMBER, False, personal=True),
        )),
        Contract("kombika", False, (
            _c("kombika", KOMBIKA), _c("clinic_id", CODE), _c("assignment", CODE),
            _c("valid_from", DATE), _c("valid_to", DATE, False),
        )),
        Contract("persons", True, (
            _PID, _c("birth_date", DATE, personal=True), _c("sex", SEX), _c("county_code", COUNTY),
            _c("area_code", CODE, False), _c("valid_from", DATE, False), _c("valid_to", DATE, False),
            # 1 = born abroad (the 2015 capitation item, 003 Bilaga 2); absent or empty counts as 0.
            _c("born_abroad", FLAG, False, personal=True),
        )),
        Contract("listings", True, (
            _PID, _c("clinic_id", CODE), _c("valid_from", DATE), _c("valid_to", DATE, False),
        )),
        Contract("risk", False, (
            _PID, _c("month", MONTH), _c("acg_weight", NUMBER), _c("cni", NUMBER),
        )),
        Contract("home_care", False, (
            _PID, _c("clinic_id", CODE), _c("valid_from", DATE), _c("valid_to", DATE, False),
        )),
        Contract("goals", False, (
            _c("clinic_id", CODE), _c("period", PERIOD), _c("goal", GOAL), _c("value", NUMBER),
        )),
        Contract("affiliations", False, (
            _c("clinic_id", CODE), _c("provider_clinic_id", CODE), _c("assignment", CODE),
            _c("valid_from", DATE), _c("valid_to", DATE, False),
        )),
        # Medical service (lab, radiology, …) the clinic ordered: one row per order, its cost to
        # the region; the clinic bears its share by the service code's category (003 Bilaga 1).
        Contract("medical_service", False, (
            _c("order_id", CODE), _c("clinic_id", CODE), _c("date", DATE),
            _c("person_id", PERSON_ID, False, personal=True),
            _c("service_code", CODE), _c("cost_sek", NUMBER),
        )),
        # Requisition drugs (rekvisitionsläkemedel, 000) the clinic gave at the clinic and invoices.
        Contract("requisitions", False, (
            _c("clinic_id", CODE), _c("date", DATE), _c("drug_code", CODE), _c("quantity", NUMBER),
        )),
    )
}

#: Bounds of the claims' values: an order's cost in SEK (an MRI costs a few thousand) and a
#: requisition row's quantity; beyond them a value is a typing error, not a claim.
MAX_COST_SEK = 1_000_000
MAX_QUANTITY = 10_000
#: The code lists of the rulebook that input columns are checked against: (file, column) →
#: what the list is, for messages.
RULE_CODE_COLUMNS = {
    ("medical_service", "service_code"): "service code of rules/medical_service",
    ("requisitions", "drug_code"): "drug code of rules/requisition_drugs/prices.yaml",
}

ERRORS_SCHEMA = pa.schema([
    pa.field("file", pa.string()),
    pa.field("line", pa.int64()),
    pa.field("column", pa.string()),
    pa.field("code", pa.string()),
    pa.field("message", pa.string()),
])

# code -> what the sender should do about it (printed in the README and the CLI's help).
ERROR_CODES: dict[str, str] = {
    "missing_file": "A required file (clinics, persons, listings) is not in the folder: add NAME.csv or NAME.parquet.",
    "duplicate_file": "Both NAME.csv and NAME.parquet are in the folder: keep only one.",
    "unreadable": "The file cannot be parsed (not UTF-8 CSV or Parquet, or a line with the wrong number of fields): fix the line named, or re-export the file.",
    "missing_column": "A required column is not in the header: add it (names are case-sensitive).",
    "duplicate_column": "A column name appears twice in the header: keep one.",
    "missing_value": "A required value is empty: fill it in.",
    "bad_date": "Not an ISO date YYYY-MM-DD that exists in the calendar: correct it.",
    "bad_month": "Not a month YYYY-MM: correct it.",
    "bad_period": "Not a period YYYY or YYYY-MM (care_guarantee_share is monthly, counts are yearly): correct it.",
    "bad_number": "Not a plain decimal number such as 1, 0.85 or 1.2345 (point as decimal sign, at most 6 decimals, no exponent or thousands separator): correct it.",
    "negative": "The value must not be negative (a share, a weight, a cost): correct it.",
    "out_of_range": "The value is outside its allowed range (a share between 0 and 1, a count a whole number, a cost at most 1 000 000 SEK with at most 2 decimals, a quantity above 0 and at most 10 000): correct it.",
    "bad_person_id": "Not a valid personnummer, samordningsnummer (12 digits, valid date and check digit) or reservnummer (99 + 10 characters): correct it.",
    "bad_enum": "Not one of the allowed values (sex F/M; goal care_guarantee_share, quality_areas_met, penalty_areas_failed, out_of_hours_clinic): correct it.",
    "bad_flag": "Not 0 or 1 (persons.born_abroad: 1 = born abroad, 0 = born in Sweden; leave it empty when unknown, which counts as 0): correct it.",
    "bad_org_number": "Not a Swedish organisationsnummer: 10 digits, written NNNNNN-NNNN or NNNNNNNNNN, the last a Luhn check digit of the first nine: correct it (the e-invoice needs it).",
    "bad_code": "A code of the wrong shape (kombika 11 characters, county_code 2 digits, no leading or trailing spaces in codes): correct it.",
    "bad_interval": "The interval ends before it starts (valid_to before valid_from, closed before opened): correct the dates.",
    "duplicate": "The same key is given twice (clinic_id; order_id; kombika or residence or home care or affiliation with overlapping validity; risk person and month; goal clinic, period and goal): remove or end one of the rows.",
    "unknown_clinic": "The clinic is not in clinics: add the clinic or correct the id.",
    "unknown_person": "The person is not in persons: add the person or correct the id.",
    "overlapping_listing": "The person is listed at two clinics (or twice) at the same time: end the earlier listing the day before the later one starts.",
    "listing_outside_clinic": "The listing starts before the clinic opened or after it closed: correct the listing or the clinic's dates.",
    "unknown_code": "The service code (medical_service) or drug code (requisitions) is not in the rulebook's list in force on the row's date: correct the code (codes are case-sensitive) or add it to the rulebook.",
    "future_date": "The date is after today: an order or requisition cannot be claimed before it happened; correct the date.",
    "missing_risk": "A listed person has no risk row (ACG weight, CNI) for a month the listing covers within the months risk.csv spans: add the row.",
}
