"""What-if for one case: a hypothetical contact, or a listed person's month, priced by the month run itself.

`case_inputs` builds the tiny input set of the case (one clinic, its kombika, one person, her
listing and risk) as the input files would hold it; `calculate` validates it like a load, stores
it in an in-memory database, takes the contact in through the register and runs the month as a
dry run (`core.Core.run`): the same path as every month, nothing written anywhere. The person
number is made up from the age and sex and never shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ersattning.errors import InputError
from ersattning.ids import make_personnummer
from ersattning.lines import LINE
from ersattning.region import STOCKHOLM_COUNTY
from ersattning.register.schema import CONTACT_TYPES, PROFESSIONS
from ersattning.register.validate import _ICD10, _KVA
from ersattning.rulebook.components import VISITS
from ersattning.rulebook.loader import Rulebook

#: The case's clinic, its kombika, the other clinic (listing elsewhere) and the contact's id.
CLINIC, OTHER_CLINIC, GROUP_CLINIC = "WHATIF01", "WHATIF02", "WHATIF03"
KOMBIKA, CONTACT_ID = "WHATIF00001", "WHATIF-CONTACT"
#: The assignments a kombika may have (the decision tables' `assignment` fact).
ASSIGNMENTS = ("hlv", "psy_child_320")
LISTINGS = ("here", "group", "other", "none")
CAPITATION = "ersattning.products.capitation"


@dataclass
class Case:
    """One hypothetical case: a contact on `date` (when `contact_type` is given) or, without one,
    a person listed on `date` (the capitation of that month)."""

    date: dt.date
    age: int
    sex: str = "F"
    contact_type: str | None = None
    profession: str | None = None
    actions: list[str] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    listing: str = "here"  # here | group | other | none: where the patient is listed on the date
    county_code: str = STOCKHOLM_COUNTY
    area_code: str = "0180-04"  # the patient's residence area (and the clinic's)
    clinic_area_code: str | None = None  # default: the patient's area
    assignment: str = "hlv"
    clinic_opened: dt.date = dt.date(2000, 1, 1)
    acg_weight: Decimal | None = Decimal(1)  # the month's risk row (None: no row, as for a person without one)
    cni: Decimal | None = Decimal(1)
    born_abroad: bool = False
    home_care: bool = False

    @property
    def month(self) -> str:
        return self.date.strftime("%Y-%m")


#: The largest inline reform a request may carry (characters).
MAX_REFORM = 200_000


class CaseIn(BaseModel):
    """A what-if case as the API and the CLI take it; every field checked, an unknown one refused.
    Errors name the field and never echo the value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "date": "2022-03-10", "age": 40, "sex": "F", "contact_type": "clinic_visit", "profession": "doctor",
        "listing": "here"}})

    date: dt.date = Field(ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31), description="YYYY-MM-DD: the contact's date, or the day the person is listed (that month's capitation)")
    age: int = Field(ge=0, le=120, description="the patient's age on the date")
    sex: Literal["F", "M"] = "F"
    contact_type: Literal[CONTACT_TYPES] | None = Field(None, description="a contact's type; none: the person's month")
    profession: Literal[PROFESSIONS] | None = Field(None, validate_default=True, description="required with contact_type")
    actions: list[str] = Field(default_factory=list, max_length=50, description="KVÅ codes, e.g. UX007")
    diagnoses: list[str] = Field(default_factory=list, max_length=50, description="ICD-10-SE codes, e.g. J06.9")
    listing: Literal[LISTINGS] = Field("here", description="where the patient is listed on the date: here (the "
                                      "contact's clinic), group (another clinic of its group), other, none")
    county_code: str = Field(STOCKHOLM_COUNTY, pattern=r"^[0-9]{2}$", description="the county of residence (01 = Stockholm)")
    area_code: str = Field("0180-04", pattern=r"^[0-9A-Za-z-]{1,20}$", description="the patient's residence area")
    clinic_area_code: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{1,20}$", description="the clinic's area (default: the patient's)")
    assignment: Literal[ASSIGNMENTS] = Field("hlv", description="the kombika's assignment")
    clinic_opened: dt.date = Field(dt.date(2000, 1, 1), ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31), description="when the clinic opened (a new clinic's window)")
    acg_weight: Decimal | None = Field(Decimal(1), ge=0, le=100, max_digits=12, decimal_places=6,
                                       description="the month's ACG weight (null: no risk row)")
    cni: Decimal | None = Field(Decimal(1), ge=0, le=100, max_digits=12, decimal_places=6,
                                description="the month's CNI (null: no risk row)")
    born_abroad: bool = False
    home_care: bool = Field(False, description="enrolled in home care at the listing clinic")
    reform: str | None = Field(None, max_length=MAX_REFORM, description="a reform file's YAML, overlaid on the rulebook")
    trace: bool = Field(True, description="also the trace (false: the lines only, about twice as fast for a contact)")

    @field_validator("profession")
    @classmethod
    def _profession(cls, value, info: ValidationInfo):
        given = info.data.get("contact_type") is not None
        if given and value is None:
            raise ValueError("required with contact_type")
        if not given and value is not None and "contact_type" in info.data:
            raise ValueError("a profession needs a contact_type")
        return value

    @field_validator("actions", "diagnoses")
    @classmethod
    def _codes(cls, value, info: ValidationInfo):
        if value and info.data.get("contact_type") is None:
            raise ValueError("codes need a contact_type")
        pattern, what = (_KVA, "KVÅ") if info.field_name == "actions" else (_ICD10, "ICD-10-SE")
        for i, code in enumerate(value):
            if not re.fullmatch(pattern, code):
                raise ValueError(f"item {i} is not a {what} code")
        return value

    def case(self) -> "Case":
        return Case(**self.model_dump(exclude={"reform", "trace"}))


def _text(rows: list[dict]) -> pa.Table:
    names = list(rows[0])
    return pa.table({n: pa.array([None if r[n] is None else str(r[n]) for r in rows], pa.string()) for n in names})


def _birth_date(case: Case) -> dt.date:
    """A birth date at which the person is `age` on the case's date and all month long (born on the 1st
    of the month after the case's month, `age` + 1 years before: the birthday falls after the month)."""
    nxt = (case.date.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return nxt.replace(year=nxt.year - case.age - 1)


def person_id(case: Case) -> str:
    """A made-up, valid personnummer of the case's birth date and sex (odd serial = male)."""
    serial = 11 if case.sex == "M" else 22
    return str(make_personnummer(np.array([_birth_date(case)], dtype="datetime64[D]"), np.array([serial]))[0])


def case_inputs(case: Case) -> tuple[dict[str, pa.Table], list[dict]]:
    """The case as input files hold it (name → table of text columns) and its contact records (none
    for a listed person's month)."""
    pid = person_id(case)
    area = case.clinic_area_code or case.area_code
    opened = case.clinic_opened.isoformat()
    clinics = [{"clinic_id": CLINIC, "name": "What-if clinic", "group_id": "G1", "area_code": area, "opened": opened,
                "closed": None},
               {"clinic_id": OTHER_CLINIC, "name": "Another clinic", "group_id": "G2", "area_code": area,
                "opened": "2000-01-01", "closed": None},
               {"clinic_id": GROUP_CLINIC, "name": "A clinic of the same group", "group_id": "G1", "area_code": area,
                "opened": "2000-01-01", "closed": None}]
    tables = {
        "clinics": _text(clinics),
        "kombika": _text([{"kombika": KOMBIKA, "clinic_id": CLINIC, "assignment": case.assignment,
                           "valid_from": opened, "valid_to": None}]),
        "persons": _text([{"person_id": pid, "birth_date": _birth_date(case).isoformat(), "sex": case.sex,
                           "county_code": case.county_code, "area_code": case.area_code, "valid_from": None,
                           "valid_to": None, "born_abroad": "1" if case.born_abroad else "0"}]),
    }
    listed_at = {"here": CLINIC, "group": GROUP_CLINIC, "other": OTHER_CLINIC}.get(case.listing)
    since = case.date.replace(day=1).isoformat()
    tables["listings"] = _text([{"person_id": pid, "clinic_id": listed_at or CLINIC, "valid_from": since, "valid_to": None}])
    if listed_at is None:  # unlisted: the file with its header only
        tables["listings"] = tables["listings"].slice(0, 0)
    if case.acg_weight is not None and case.cni is not None:
        tables["risk"] = _text([{"person_id": pid, "month": case.month, "acg_weight": case.acg_weight, "cni": case.cni}])
    if case.home_care:
        tables["home_care"] = _text([{"person_id": pid, "clinic_id": listed_at or CLINIC, "valid_from": since,
                                      "valid_to": None}])
    records = []
    if case.contact_type is not None:
        records.append({"contact_id": CONTACT_ID, "kombika": KOMBIKA, "person_id": pid, "date": case.date.isoformat(),
                        "contact_type": case.contact_type, "profession": case.profession,
                        "diagnoses": ";".join(case.diagnoses) or None, "actions": ";".join(case.actions) or None,
                        "record_type": "report", "reported_at": None})
    return tables, records


def case_components(book: Rulebook, case: Case) -> tuple[str, ...]:
    """The components a case is about: a contact's visit components, or a person's capitation items."""
    module = VISITS if case.contact_type is not None else CAPITATION
    return book.components_by(module)


def calculate(book: Rulebook, case: Case, trace: bool = True) -> dict:
    """The case priced under `book` by a dry run of its month: its lines (the case's components), the
    contact's trace (facts, decision rows, prices and sources) or, for a person, the rule values
    behind each line (`trace=False`: none). InputError (naming the field) for a case the input contracts refuse."""
    from ersattning import store
    from ersattning.core import Core
    from ersattning.inputs import rule_codes, validate
    from ersattning.register import records_table
    from ersattning.trace import rule_values

    store.check_month(book, case.month)  # a month after the current one, or before the rulebook, has no statement
    tables, records = case_inputs(case)
    inputs = validate(tables, codes=rule_codes(book))
    if inputs.errors.num_rows:
        e = inputs.errors.to_pylist()[0]
        where = f"{e['file']}.{e['column']}".replace(".csv", "")
        raise InputError(f"the case is refused as input data: {where}: {e['code']}: {_no_id(e['message'])}")
    core = Core(store.open_engine(":memory:"), base=book)
    try:
        store.store_inputs(core.engine, inputs.tables, sample=None)
        if records:
            received = dt.datetime.combine(max(case.date, dt.date.today()), dt.time(23, 0))
            res = core.intake(records_table(records), "what-if", received_at=received)
            if res.rejected:
                e = res.errors.to_pylist()[0]
                raise InputError(f"the contact is refused: {e['field']}: {e['code']}: {_no_id(e['message'])}")
        run, = core.run([case.month], dry_run=True, user="what-if", via="what-if")
        lines = case_lines(run.result.lines, case_components(core.book, case))
        out = {"month": case.month, "rulebook": core.book.origin, "lines": _plain_lines(lines),
               "total_ore": int(pc.sum(lines["amount_ore"]).as_py() or 0)}
        if not trace:
            out["trace"] = None
        elif records:
            found = core.trace_contact(KOMBIKA, CONTACT_ID)
            out["trace"] = {k: found[k] for k in ("facts", "held", "products")}
        else:
            out["trace"] = {"rules": {row["line_id"]: rule_values(core.book, row) for row in lines.to_pylist()}}
        return out
    finally:
        core.engine.con.disconnect()


def case_lines(lines: pa.Table, components: tuple[str, ...]) -> pa.Table:
    """A month's lines of `components`, in line order (what a case is about)."""
    return lines.filter(pc.is_in(lines["component"], value_set=pa.array(list(components), pa.string())))


#: A case's line as answered: the statement line's columns but the rulebook snapshot's id (the
#: case's rulebook is not stored) and the correction's columns (a case corrects nothing).
_SHOWN = tuple(n for n in LINE.names if n not in ("snapshot", "corrects_month", "corrects_line_id"))


def _plain_lines(lines: pa.Table) -> list[dict]:
    keep = _SHOWN
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items() if k in keep}
            for row in lines.to_pylist()]


def _no_id(message: str) -> str:
    """A register message without a person number in it (the case's is made up, but never shown)."""
    from ersattning.inputs.parse import hide_person_numbers

    return hide_person_numbers(pa.array([message]))[0].as_py()
