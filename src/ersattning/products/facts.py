"""Contact facts (ERSMO's inputs), computed on the whole contacts table for a period.

For each contact: the performing clinic and the kombika's assignment; the patient's age
on the date; resident (a residence row on the date) and out of county (resident in another
county on the date); listed here / in the group / at another clinic / unlisted (a listing on
the date that earns capitation); physical, digital or at home; whether the contact is a visit;
the clinic within its new-clinic window; peripheral area; the reported actions (RULES.md §3,
§10, DESIGN.md facts).
"""

from __future__ import annotations

import datetime as dt

import ibis

from ersattning.engine import Engine
from ersattning.products.capitation import age_on
from ersattning.products.malina import malina_area
from ersattning.products.new_clinic import with_new_clinic
from ersattning.region import STOCKHOLM_COUNTY, county_resident, is_reservnummer
from ersattning.rulebook.loader import Rulebook

#: Where a contact takes place, by contact type (seed 002: physical visits at the clinic,
#: digital visits, visits in the home or other place).
SETTING = {
    "clinic_visit": "physical",
    "team_visit": "physical",
    "group_team_visit": "physical",
    "group_visit": "physical",
    "home_visit": "home",
    "home_care_visit": "home",
    "video": "digital",
    "phone": "digital",
}


def birth_date_from_id(person_id) -> ibis.Value:
    """Date of birth read from a 12-digit personnummer or samordningsnummer (day − 60)."""
    y = person_id.substr(0, 4).cast("int32")
    m = person_id.substr(4, 2).cast("int32")
    d = person_id.substr(6, 2).cast("int32")
    d = ibis.ifelse(d > 60, d - 60, d)
    return ibis.date(y, m, d)


def is_visit(book: Rulebook, contact_type: ibis.Value, date: ibis.Value, start: dt.date, end: dt.date) -> ibis.Value:
    """Whether each contact is a visit (besök): its type is among `visit_fee.visit_contact_types`
    in force on its date. One definition read by the fees and the caps (RULES.md §10)."""
    if "visit_fee.visit_contact_types" not in book:  # a stored rulebook from before the parameter: no table reads it
        return ibis.literal(True)
    param = book["visit_fee.visit_contact_types"]
    cases = []
    for i, v in enumerate(param.values):
        nxt = param.values[i + 1].start if i + 1 < len(param.values) else None
        if v.start > end or (nxt is not None and nxt <= start):
            continue
        in_force = (date >= v.start) if nxt is None else ((date >= v.start) & (date < nxt))
        cases.append((in_force, contact_type.isin(list(v.value or ()))))
    return ibis.cases(*cases, else_=False) if cases else ibis.literal(False)


def _peripheral(book: Rulebook, c: ibis.Table, start: dt.date, end: dt.date) -> ibis.Value:
    """Whether the clinic's area is peripheral: on the list in force at the end of the contact's month."""
    cases = [((c.date >= lo) & (c.date <= hi), c.area_code.isin(list(areas)))
             for lo, hi, (areas,) in book.at_month_ends(("supplement_peripheral_home_visit.areas",), start, end) if areas]
    return ibis.cases(*cases, else_=False) if cases else ibis.literal(False)


def contact_facts(engine: Engine, book: Rulebook, contacts: ibis.Table, start: dt.date, end: dt.date) -> ibis.Table:
    """Facts for the contacts dated start..end (inclusive); one row per contact."""
    c = contacts.filter(contacts.date >= start, contacts.date <= end)

    k = engine["kombika"]
    c = c.join(k.select("kombika", k_clinic=k.clinic_id, assignment=k.assignment, k_from=k.valid_from, k_to=k.valid_to), "kombika")
    c = c.filter((c.k_from <= c.date) & (c.k_to.isnull() | (c.k_to >= c.date))).drop("k_from", "k_to")

    cl = engine["clinics"].select(clinic_id="clinic_id", group_id="group_id", area_code="area_code", opened="opened")
    c = c.join(cl, c.k_clinic == cl.clinic_id).drop("k_clinic")

    # Residence on the date (the population register, not the number, says which county).
    p = engine["persons"]
    res = p.select(r_pid=p.person_id, r_from=p.valid_from, r_to=p.valid_to, county_code=p.county_code, r_birth=p.birth_date,
                   capitated=county_resident(p), r_area=p.area_code)
    c = c.left_join(
        res,
        [c.person_id == res.r_pid, res.r_from.isnull() | (res.r_from <= c.date), res.r_to.isnull() | (res.r_to >= c.date)],
    ).mutate(resident=lambda t: t.r_pid.notnull()).drop("r_pid", "r_from", "r_to")

    # Listing on the date, and the listing clinic's group. Only a listing that earns capitation
    # on the date counts (resident in the county, not a reservnummer: the rule of
    # capitation.listed_on): "listed" in the facts = listed for capitation (RULES.md §10).
    li = engine["listings"]
    lst = li.select(l_pid=li.person_id, l_clinic=li.clinic_id, l_from=li.valid_from, l_to=li.valid_to)
    c = c.left_join(lst, [c.person_id == lst.l_pid, lst.l_from <= c.date, lst.l_to.isnull() | (lst.l_to >= c.date)]).drop(
        "l_pid", "l_from", "l_to"
    )
    c = c.mutate(listing_clinic=ibis.ifelse(c.capitated.fill_null(False), c.l_clinic, ibis.null("string")),
                 patient_area=ibis.ifelse(c.capitated.fill_null(False), c.r_area, ibis.null("string"))).drop("l_clinic", "capitated", "r_area")
    groups = engine["clinics"].select(g_clinic="clinic_id", listing_group="group_id")
    c = c.left_join(groups, c.listing_clinic == groups.g_clinic).drop("g_clinic")

    c = with_new_clinic(engine, book, c, start, end)

    reserv = is_reservnummer(c.person_id)
    birth = ibis.coalesce(c.r_birth, ibis.ifelse(reserv, ibis.null("date"), birth_date_from_id(c.person_id)))
    return c.select(
        "kombika", "contact_id", "person_id", "date", "contact_type", "profession", "actions",
        "clinic_id", "group_id", "assignment", "listing_clinic",
        # The area of the patient's residence in the county on the date (the analysis splits visit
        # lines by it); null outside the county or without a residence, as for listing_clinic.
        "patient_area",
        age=age_on(birth, c.date),
        # Out of county = resident in another county on the date. No residence row on the date
        # (deceased, emigrated, unknown) is not out of county: `resident` is false and the
        # contact is held (visits.held_contacts). A reservnummer's county is unknown (RULES.md
        # §8): it is priced as the county's own patient, as before.
        resident=c.resident,
        out_of_county=~reserv & c.resident & (c.county_code != STOCKHOLM_COUNTY),
        reservnummer=reserv,
        setting=c.contact_type.cases(*SETTING.items(), else_="physical"),
        visit=is_visit(book, c.contact_type, c.date, start, end),
        listing=ibis.cases(
            (c.listing_clinic.isnull(), "none"),
            (c.listing_clinic == c.clinic_id, "here"),
            (c.listing_group == c.group_id, "group"),
            else_="other",
        ),
        new_clinic=c.new_clinic,
        peripheral=_peripheral(book, c, start, end),
        malina_area=malina_area(book, c, start, end),
        # What the care guarantee counts (goals.care_guarantee_key), when the contacts carry it.
        **{name: c[name] for name in ("diagnoses", "first_contact", "requested_on") if name in c.columns},
    )
