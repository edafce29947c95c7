"""Swedish wording for the web app: contact facts and their values, statuses, the error codes' fix
texts, rule sources as document titles, and a line's quantity explained in words. The engine, the
CLI and the API keep their English, machine-readable texts; only what people read here is Swedish."""

from __future__ import annotations

import csv
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources

from ersattning.api.format import kronor, number, percent, yes_no

# --- contact facts -----------------------------------------------------------------------------

FACT_LABELS = {
    "date": "Datum", "contact_type": "Kontakttyp", "profession": "Yrke", "actions": "Åtgärder (KVÅ)",
    "diagnoses": "Diagnoser", "clinic_id": "Mottagning", "group_id": "Vårdgivare (grupp)", "assignment": "Uppdrag",
    "listing_clinic": "Listad vid", "patient_area": "Bostadsområde", "age": "Ålder",
    "resident": "Folkbokförd på kontaktdagen", "out_of_county": "Utomlänspatient", "reservnummer": "Reservnummer",
    "setting": "Vårdform", "visit": "Räknas som besök", "listing": "Listning", "new_clinic": "Nystartad mottagning",
    "peripheral": "Glesbygd (hembesök i ytterområde)", "malina_area": "Malina-område",
    "first_contact": "Första kontakt", "requested_on": "Sökte vård", "record_type": "Typ", "person": "Person",
    "kombika": "Kombika", "contact_id": "Kontakt-id", "person_id": "Personnummer", "performed_by": "Utförd av", "payee": "Betalas till",
}

CONTACT_TYPES_SV = {
    "clinic_visit": "mottagningsbesök", "home_visit": "hembesök", "home_care_visit": "hemsjukvårdsbesök",
    "video": "videobesök", "phone": "telefon", "team_visit": "teambesök", "group_team_visit": "gruppbesök i team",
    "group_visit": "gruppbesök",
}
PROFESSIONS_SV = {
    "doctor": "läkare", "nurse": "sjuksköterska", "assistant_nurse": "undersköterska", "psychologist": "psykolog",
    "psychotherapist": "psykoterapeut", "counsellor": "kurator", "physiotherapist": "fysioterapeut",
    "occupational_therapist": "arbetsterapeut", "dietitian": "dietist", "other_licensed": "annan legitimerad personal",
}
FACT_VALUES = {
    "contact_type": CONTACT_TYPES_SV,
    "profession": PROFESSIONS_SV,
    "setting": {"physical": "fysiskt besök", "home": "i hemmet", "digital": "digitalt"},
    "listing": {"none": "ej listad", "here": "listad här", "group": "listad hos samma vårdgivare",
                "other": "listad vid annan mottagning"},
    "assignment": {"hlv": "husläkarverksamhet", "psy_child_320": "psykisk hälsa barn och unga (uppdrag 320)"},
    "record_type": {"report": "rapport", "cancel": "makulering"},
}


def fact_label(name: str) -> str:
    """A fact's (or decision-table column's) Swedish name; an unknown one as written, underscores as spaces."""
    return FACT_LABELS.get(name, name.replace("_", " "))


def fact_value(name: str, value) -> str:
    """A fact's value in Swedish: enumerations by their Swedish word, booleans ja/nej, nothing as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(fact_value(name, v) for v in value)
    words = FACT_VALUES.get(name)
    if words is not None:
        return words.get(str(value), str(value))
    return str(value)


def when_text(when: dict) -> str:
    """A decision-table row's condition: "Yrke = psykolog, kurator; Vårdform = digitalt"."""
    return "; ".join(f"{fact_label(k)} = {fact_value(k, v)}" for k, v in when.items())


# --- statuses ----------------------------------------------------------------------------------

STATUS_LABELS = {"draft": "utkast", "issued": "fastställd", None: "ej beräknad", "accepted": "godkänd",
                 "rejected": "avvisad", "cancelled": "makulerad", "unchanged": "oförändrad", "held": "vilande"}


# --- error codes: what the clinic or the administrator does about them -------------------------

#: GVR's rejection codes (`register.schema.CONTACT_ERROR_CODES`): a short message and how to fix it.
CONTACT_ERRORS_SV: dict[str, tuple[str, str]] = {
    "unreadable": ("Filen kan inte läsas.",
                   "Filen är inte UTF-8-CSV med rubrikrad, JSON Lines eller Parquet, är avkortad eller har en rad med fel "
                   "antal fält. Inget i den togs emot: rätta eller exportera om filen och skicka hela igen."),
    "missing_value": ("Ett obligatoriskt värde saknas.",
                      "En rapport behöver kontakt-id, kombika, personnummer, datum, kontakttyp och yrke; en "
                      "makulering kontakt-id och kombika. Fyll i värdet och rapportera kontakten igen."),
    "bad_date": ("Ogiltigt kontaktdatum.", "Datumet ska vara ÅÅÅÅ-MM-DD och finnas i kalendern: rätta det och rapportera igen."),
    "future_date": ("Kontaktdatumet ligger efter mottagningsdagen.",
                    "En kontakt rapporteras efter att den ägt rum: rätta datumet eller rapportera när kontakten har skett."),
    "bad_code": ("Värdet innehåller otillåtna tecken.",
                 "Kombika och contact_id ska vara skrivbara ASCII-tecken precis som de är, utan mellanslag före, efter "
                 "eller inuti; inget värde får innehålla styrtecken eller osynliga tecken. Rätta värdet i "
                 "journalsystemet (registret rättar aldrig en nyckel: det kan vara en annan kontakts)."),
    "other_clinic_kombika": ("Kombikan tillhör en annan mottagning.",
                             "En mottagning rapporterar bara på sin egen kombika (en underleverantör på sin egen). "
                             "Rapportera på er kombika. Inget av den andra mottagningens uppgifter ändrades."),
    "unknown_kombika": ("Kombikan är inte en av regionens rapporteringsenheter.",
                        "Rapportera på kombikan för uppdraget (en underleverantör på sin egen), eller be regionen registrera den."),
    "inactive_kombika": ("Kombikan gällde inte på kontaktdagen.",
                         "Rapportera på den kombika som gällde den dagen, eller rätta datumet."),
    "before_clinic_opened": ("Kontaktdatumet ligger utanför mottagningens öppettid.",
                             "Datumet är före mottagningens start eller efter dess stängning: rätta datumet eller kombikan."),
    "bad_person_id": ("Ogiltigt person-id.",
                      "Inte ett giltigt personnummer, samordningsnummer (12 siffror ÅÅÅÅMMDDNNNK, verkligt datum, "
                      "löpnummer inte 000, kontrollsiffra enligt Luhn) eller reservnummer (99 + 10 tecken): rätta patientens "
                      "identitet i journalsystemet."),
    "bad_contact_type": ("Okänd kontakttyp.",
                         "Tillåtna kontakttyper: " + ", ".join(f"{k} ({v})" for k, v in CONTACT_TYPES_SV.items())
                         + ". Rätta värdet."),
    "bad_profession": ("Okänd yrkeskategori.",
                       "Tillåtna yrken: " + ", ".join(f"{k} ({v})" for k, v in PROFESSIONS_SV.items()) + ". Rätta värdet."),
    "bad_diagnosis": ("Diagnosen har inte formen av en ICD-10-SE-kod.",
                      "En bokstav, två siffror och eventuellt punkt och fler tecken, t.ex. J06.9, I10, F32.1; flera "
                      "åtskilda med ';'. Rätta koden."),
    "bad_action": ("Åtgärden har inte formen av en KVÅ-kod.",
                   "Två bokstäver och tre siffror (UX007, XV016) eller tre bokstäver och två siffror; flera åtskilda med "
                   "';'. Rätta koden."),
    "bad_record_type": ("Ogiltig posttyp.", "record_type ska vara report, cancel eller tomt (= report): rätta värdet."),
    "bad_reported_at": ("Ogiltig rapporteringstid.",
                        "reported_at ska vara en tidpunkt ÅÅÅÅ-MM-DDTTT:MM:SS som finns i kalendern och inte ligga mer "
                        "än 5 minuter efter att filen togs emot. Rätta den eller lämna fältet tomt (då används "
                        "mottagningstiden)."),
    "cancel_unknown": ("Makulering av en kontakt som aldrig rapporterats.",
                       "Kontrollera kombika och contact_id; en kontakt som aldrig rapporterats behöver inte makuleras."),
    "bad_first_contact": ("Ogiltigt värde för första kontakt.",
                          "first_contact ska vara 1 (patientens första kontakt för behovet), 0 eller tomt; andra "
                          "skrivningar som yes, true eller 2 läses inte. Rätta värdet."),
    "bad_requested_on": ("Ogiltigt datum för när patienten sökte vård.",
                         "requested_on ska vara ett datum ÅÅÅÅ-MM-DD som finns i kalendern och inte ligger efter "
                         "mottagningsdagen. Rätta det."),
    "requested_after_contact": ("Patienten sökte vård efter kontakten.",
                                "requested_on ska vara samma dag som kontakten eller tidigare: rätta requested_on eller datumet."),
    "requested_too_early": ("Patienten sökte vård mer än 365 dagar före kontakten.",
                            "En första kontakt följer inom veckor, inte år: rätta requested_on (eller lämna "
                            "first_contact tomt om det inte är en första kontakt)."),
    "missing_requested_on": ("Datum för när patienten sökte vård saknas.",
                             "first_contact är 1 men requested_on är tomt: vårdgarantiandelen behöver dagen då patienten "
                             "först sökte vård. Fyll i den (eller sätt first_contact till 0)."),
    "conflicting_duplicate": ("Samma kontakt finns flera gånger i filen med olika innehåll.",
                              "Raderna har samma reported_at (eller ingen), så filen säger inte vilken som gäller: alla "
                              "rader för kontakten avvisades. Skicka kontakten en gång."),
}

#: The input files' problem codes (`inputs.schema.ERROR_CODES`): how the administrator fixes them.
INPUT_ERRORS_SV: dict[str, str] = {
    "missing_file": "En obligatorisk fil (clinics, persons, listings) saknas: lägg till NAMN.csv eller NAMN.parquet.",
    "duplicate_file": "Både NAMN.csv och NAMN.parquet finns: behåll en av dem.",
    "unreadable": "Filen kan inte läsas (inte UTF-8-CSV eller Parquet, eller en rad med fel antal fält): rätta raden eller exportera om filen.",
    "missing_column": "En obligatorisk kolumn saknas i rubrikraden: lägg till den (stora och små bokstäver spelar roll).",
    "duplicate_column": "Ett kolumnnamn finns två gånger i rubrikraden: behåll ett.",
    "missing_value": "Ett obligatoriskt värde är tomt: fyll i det.",
    "bad_date": "Inte ett datum ÅÅÅÅ-MM-DD som finns i kalendern: rätta det.",
    "bad_month": "Inte en månad ÅÅÅÅ-MM: rätta den.",
    "bad_period": "Inte en period ÅÅÅÅ eller ÅÅÅÅ-MM (vårdgarantiandelen per månad, antal per år): rätta den.",
    "bad_number": "Inte ett decimaltal som 1, 0.85 eller 1.2345 (punkt som decimaltecken, högst 6 decimaler, utan exponent eller tusentalsavgränsare): rätta det.",
    "negative": "Värdet får inte vara negativt (en andel, en vikt, en kostnad): rätta det.",
    "out_of_range": "Värdet ligger utanför det tillåtna (en andel mellan 0 och 1, ett antal ett heltal, en kostnad högst 1 000 000 kr med högst 2 decimaler, en mängd över 0 och högst 10 000): rätta det.",
    "bad_person_id": "Inte ett giltigt personnummer, samordningsnummer (12 siffror, giltigt datum och kontrollsiffra) eller reservnummer (99 + 10 tecken): rätta det.",
    "bad_enum": "Inte ett av de tillåtna värdena (kön F/M; mål care_guarantee_share, quality_areas_met, penalty_areas_failed, out_of_hours_clinic): rätta det.",
    "bad_flag": "Inte 0 eller 1 (persons.born_abroad: 1 = född utomlands, 0 = född i Sverige; tomt när det är okänt, räknas som 0): rätta det.",
    "bad_org_number": "Inte ett svenskt organisationsnummer (10 siffror, NNNNNN-NNNN eller NNNNNNNNNN, sista siffran en kontrollsiffra): rätta det (e-fakturan behöver det).",
    "bad_code": "En kod med fel form (kombika 11 tecken, länskod 2 siffror, inga mellanslag före eller efter): rätta den.",
    "bad_interval": "Intervallet slutar innan det börjar (valid_to före valid_from, stängd före öppnad): rätta datumen.",
    "duplicate": "Samma nyckel finns två gånger (mottagning, beställning, kombika eller folkbokföring, hemsjukvård eller tillhörighet med överlappande giltighet, risk per person och månad, mål per mottagning, period och mål): ta bort eller avsluta en av raderna.",
    "unknown_clinic": "Mottagningen finns inte i clinics: lägg till den eller rätta id:t.",
    "unknown_person": "Personen finns inte i persons: lägg till personen eller rätta id:t.",
    "overlapping_listing": "Personen är listad på två mottagningar (eller två gånger) samtidigt: avsluta den tidigare listningen dagen innan den senare börjar.",
    "listing_outside_clinic": "Listningen börjar före mottagningens start eller efter dess stängning: rätta listningen eller mottagningens datum.",
    "unknown_code": "Undersökningskoden (medical_service) eller läkemedelskoden (requisitions) finns inte i regelbokens lista på radens datum: rätta koden (stora och små bokstäver spelar roll) eller lägg till den i regelboken.",
    "future_date": "Datumet ligger efter i dag: en beställning eller rekvisition kan inte begäras innan den skett; rätta datumet.",
    "missing_risk": "En listad person saknar riskrad (ACG-vikt, CNI) för en månad som listningen täcker: lägg till raden.",
}

_QUOTED = re.compile(r"'([^']{1,60})'")


def contact_error(code: str, message: str | None) -> tuple[str, str]:
    """A rejected row's message and fix text in Swedish: the code's message, with the value the
    English message quotes (e.g. 'letter'); the fix text for the code."""
    short, fix = CONTACT_ERRORS_SV.get(code, ("Raden avvisades.", "Kontrollera raden och rapportera den igen."))
    quoted = _QUOTED.search(message or "")
    if quoted and "[personnummer]" not in quoted.group(1):
        short = f"{short} Värde: ”{quoted.group(1)}”."
    return short, fix


def input_error(code: str) -> str:
    return INPUT_ERRORS_SV.get(code, "Rätta raden och läs in filerna igen.")


# --- rule sources ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def source_titles() -> dict[str, str]:
    """The cited source documents' titles by the file name the rulebook cites (package data `data/sources.csv`)."""
    text = resources.files("ersattning").joinpath("data/sources.csv").read_text(encoding="utf-8")
    return {row["file"]: row["title"] for row in csv.DictReader(text.splitlines())}


_SEED = re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b")
_OUTSIDE = (("local newspaper summary", "Lokaltidningens sammanfattning, november 2022 (utanför källdokumenten)"),
            ("public reporting", "Offentlig rapportering (utanför källdokumenten)"),
            ("out-of-county price list", "Regionens prislista för utomlänspatienter (utanför källdokumenten)"))


def _one_source(part: str) -> str:
    part = part.strip()
    seed = _SEED.search(part)
    if seed is None:
        low = part.lower()
        return next((sv for en, sv in _OUTSIDE if en in low), "Källa utanför källdokumenten")
    title = source_titles().get(seed.group(0), "Källdokument")
    rest = part[seed.end():]
    reading = "reading" in rest
    # The section: up to the first note in parentheses (the notes are the rulebook's own, in English).
    section = re.split(r"[(;]", rest, maxsplit=1)[0].strip(" ,")
    section = re.sub(r"^(?:section|§)\s*(\S+)", r"avsnitt \1", section)
    section = re.sub(r"^§", "avsnitt ", section)
    text = f"{title}, {section}" if section else title
    return text + (" (tolkning)" if reading else "")


def source_text(reference: str | None) -> str:
    """A rule value's source as people cite it: the document's title and section, e.g.
    "StoCHE: Förändringar av ersättningssystem …, Bilaga 2" for "003_….txt, Bilaga 2 (FFU 2022)"."""
    if not reference:
        return "–"
    # Several sources are joined by "; " unless the ";" is inside a note.
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(reference):
        depth += ch == "("
        depth -= ch == ")"
        if ch == ";" and depth == 0:
            parts.append(reference[start:i])
            start = i + 1
    parts.append(reference[start:])
    cites_seed = _SEED.search(reference) is not None
    out: list[str] = []
    for p in parts:
        if cites_seed and not _SEED.search(p):
            # A note after the sources ("reading: …", "codes not in the sources"): the sources stand.
            if "reading" in p and out and not out[-1].endswith("(tolkning)"):
                out[-1] += " (tolkning)"
            continue
        for seed_part in (re.split(r"(?<=\.txt)\s*;?\s*(?=\d{3}_)", p) if _SEED.search(p) else [p]):
            text = _one_source(seed_part)
            if text not in out:
                out.append(text)
    return "; ".join(out)


# --- a line's quantity in words ----------------------------------------------------------------

UNITS_SV = {
    "SEK/listed/year": "kr per listad och år", "SEK/listed/month": "kr per listad och månad",
    "SEK/enrolled/year": "kr per inskriven och år", "SEK/visit": "kr per besök", "SEK/unit": "kr per enhet",
    "SEK/SEK cost": "kr per krona i kostnad", "SEK/listed/year at all areas": "kr per listad och år, alla områden uppfyllda",
    "share of the yearly pot (a twelfth a month)": "årets pott i kr",
    "share of the year's fees for these visits": "årets besöksersättning för besöken, i kr",
    "share of the year's KVÅ supplements": "årets KVÅ-tillägg i kr",
    "SEK/month": "kr per månad", "SEK/year": "kr per år", "SEK": "kr",
}

_PER_LISTED = {"capitation_acg": "ACG-vikt", "capitation_cni": "CNI"}


def unit_text(unit: str | None) -> str:
    if not unit:
        return ""
    return UNITS_SV.get(unit, "")


def quantity_text(line: dict) -> str:
    """A line's quantity: a share of a pot or of the year's fees in percent ("0,46 %"), else a number."""
    if str(line.get("unit") or "").startswith("share of"):
        q = _dec(line.get("quantity"))
        return percent(q, 2) if q is not None else ""
    return number(line.get("quantity"))


def _dec(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def basis_text(line: dict) -> str:
    """What a line counts, for people: "2 495 listade × ACG-vikt i snitt 0,96 (summa 2 402,44) ÷ 12 månader"
    rather than "2402.437800 ÷ 12"; counts without decimals, other quantities with at most two."""
    component, unit = line.get("component"), line.get("unit") or ""
    basis, divisor, persons = _dec(line.get("basis")), int(line.get("divisor") or 1), line.get("persons")
    if component == "adjustment":
        return f"rättelse av {line.get('corrects_month') or 'en fastställd månad'}"
    if (line.get("rule") or "").startswith("manual:"):
        return "manuell rad"
    if basis is None:
        return ""
    per_month = " ÷ 12 månader" if divisor == 12 else (f" ÷ {number(divisor)}" if divisor != 1 else "")
    if component in _PER_LISTED and persons:
        mean = basis / Decimal(persons)
        return (f"{number(persons)} listade × {_PER_LISTED[component]} i snitt {number(mean)} "
                f"(summa {number(basis)}){per_month}")
    if unit == "SEK/listed/year":
        return f"{number(basis)} listade{per_month}"
    if unit == "SEK/enrolled/year":
        return f"{number(basis)} inskrivna i hemsjukvård{per_month}"
    if unit == "SEK/listed/month":
        return f"{number(basis)} listade"
    if unit == "SEK/visit":
        return f"{number(basis)} besök"
    if unit == "SEK/unit":
        return f"{number(basis)} enheter"
    if unit == "SEK/SEK cost":
        return f"kostnad {kronor(int((basis * 100).to_integral_value()))}"
    if unit.startswith("share of the yearly pot"):
        whole, twelfths = divmod(divisor, 12)
        of = f"{number(whole)} {'mottagningar' if str(line.get('product_code', '')).endswith('EQUAL') else 'listade i regionen'}"
        if twelfths:
            return f"{number(basis)} ÷ {number(divisor)} (andel av årets pott)"
        return f"{number(basis)} av {of} (andel av årets pott) ÷ 12 månader"
    if unit.startswith("share of the year"):
        return f"andel {number(basis)} av {number(divisor)}"
    if unit == "SEK/listed/year at all areas":
        return f"{number(basis)} ÷ {number(divisor)} (genomsnittligt listade × uppfyllda områden ÷ områden ÷ 12)"
    return f"{number(basis)}{per_month}"


# The detail texts the engine writes (English, one form per kind of line), in Swedish.
_DETAILS_SV = (
    (re.compile(r"^care-guarantee share (\S+) from the contacts (\S+): (\d+) assessed within (\d+) days of (\d+) first contacts(.*)$"),
     lambda m: f"vårdgarantiandel {_n(m[1])} från kontakterna {m[2]}: {m[3]} bedömda inom {m[4]} dagar av {m[5]} första kontakter{_ge(m[6])}"),
    (re.compile(r"^care-guarantee share (\S+) \(goals\.csv (\S+), an administrator's decision(?:; the contacts give (\d+) within (\d+) days of (\d+))?\)(.*)$"),
     lambda m: f"vårdgarantiandel {_n(m[1])} (mål för {m[2]}, administratörens beslut"
               + (f"; kontakterna ger {m[3]} inom {m[4]} dagar av {m[5]}" if m[3] else "") + f"){_ge(m[6])}"),
    (re.compile(r"^1 of (\d+) clinics with listed persons$"), lambda m: f"1 av {m[1]} mottagningar med listade"),
    (re.compile(r"^(\d+) of (\d+) persons listed in the region$"),
     lambda m: f"{number(m[1])} av {number(m[2])} listade i regionen"),
    (re.compile(r"^(\d+) orders? \((\w+)\): the clinic bears (\d+) % of their cost$"),
     lambda m: f"{number(m[1])} beställningar: mottagningen bär {m[3]} % av kostnaden"),
    (re.compile(r"^(\d+) requisition rows? of (\S+)$"), lambda m: f"{number(m[1])} rekvisitionsrader av {m[2]}"),
    (re.compile(r"^(\d{4}): (\d+) of (\d+) areas (met|failed) \(goals\.csv\); average listed (\S+); max (\S+) SEK/listed$"),
     lambda m: f"{m[1]}: {m[2]} av {m[3]} områden {'uppfyllda' if m[4] == 'met' else 'ej uppfyllda'}; "
               f"genomsnittligt listade {_n(m[5])}; högst {_n(m[6])} kr per listad"),
    (re.compile(r"^(\d{4}): (\d+) visits, average listed (\S+), level (\S+)/listed = (\S+) visits, excess (\S+) visits; "
                r"fees for the visits (.+) SEK, excess paid at (\d+)%$"),
     lambda m: f"{m[1]}: {number(m[2])} besök, genomsnittligt listade {_n(m[3])}, nivå {_n(m[4])} per listad = {_n(m[5])} "
               f"besök, överskott {_n(m[6])} besök; besöksersättning {_sek(m[7])} kr, överskottet betalas med {m[8]} %"),
    (re.compile(r"^(\d{4}): (\d+) reviews \(XV016\), average listed 75\+ (\S+), level (\S+)/listed 75\+ = (\S+), excess (\S+); "
                r"supplements paid (.+) SEK$"),
     lambda m: f"{m[1]}: {number(m[2])} läkemedelsgenomgångar (XV016), genomsnittligt listade 75+ {_n(m[3])}, nivå "
               f"{_n(m[4])} per listad 75+ = {_n(m[5])}, överskott {_n(m[6])}; utbetalda tillägg {_sek(m[7])} kr"),
    (re.compile(r"^opened (\S+): paid from the opening month through (\S+)$"),
     lambda m: f"öppnade {m[1]}: betalas från öppningsmånaden till och med {m[2]}"),
    (re.compile(r"^clinic in area (\S+) runs no out-of-hours clinic.*$"),
     lambda m: f"mottagning i område {m[1]} utan husläkarjour/närakut"),
    (re.compile(r"^(\S+) (\S+): paid (.+) SEK \(quantity (\S+)\), now (.+) SEK \(quantity (\S+)\)$"),
     lambda m: f"{m[1]} {m[2]}: utbetalt {_sek(m[3])} kr (antal {_n(m[4])}), nu {_sek(m[5])} kr (antal {_n(m[6])})"),
    (re.compile(r"^(.*) \(added by (.+) (\d{4}-\d{2}-\d{2} \d{2}:\d{2})\)$"),
     lambda m: f"{m[1]} (tillagd av {m[2]} {m[3]})"),
)


def _n(text: str) -> str:
    return number(text.replace(" ", "").replace("\u00a0", ""))


def _sek(text: str) -> str:
    # sek_text's "1 234.50" (the engine's form) as "1 234,50".
    return number(text.replace(" ", "").replace("\u00a0", "").replace(",", ""))


def _ge(rest: str) -> str:
    m = re.match(r"^ ≥ (\S+)$", rest or "")
    return f" ≥ {_n(m[1])}" if m else ""


def detail_text(detail: str | None) -> str:
    """The engine's detail text for a line in Swedish; one it does not know is left out ("")."""
    if not detail:
        return ""
    for pattern, render in _DETAILS_SV:
        m = pattern.match(detail)
        if m:
            return render(m)
    return ""


def rule_value(value) -> str:
    """A rule value as the line's trace gives it (a number, a band, decision rows, a list), in Swedish."""
    if value is None:
        return "–"
    if isinstance(value, dict):
        if "ages" in value:
            return f"ålder {value['ages']}: {rule_value(value.get('amount'))}"
        return "; ".join(f"{k}: {rule_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        parts = [(f"{when_text(v['when']) or 'alla'} → {v.get('product') or 'ingen produkt'}"
                  if isinstance(v, dict) and "when" in v else rule_value(v)) for v in value]
        return "; ".join(parts)
    text = str(value)
    return number(text) if _dec(text) is not None and _dec(text).is_finite() else fact_value("", text)


# --- the API's refusals on a page -----------------------------------------------------------------

_PAGE_ERRORS_SV = (
    (re.compile(r"^no clinic '?([^']*)'?$"), r"Mottagningen \1 finns inte."),
    (re.compile(r"^no statement for (\S+) in (\S+).*$"), r"Inget månadsbesked för \1 \2: månaden är inte beräknad."),
    (re.compile(r"^no line '?([^']*)'?$"), r"Raden \1 finns inte."),
    (re.compile(r"^no contact (\S+)$"), r"Kontakten \1 finns inte."),
    (re.compile(r"^no job (\S+)$"), r"Jobbet \1 finns inte."),
    (re.compile(r"^no token '?([^']*)'?$"), r"Nyckeln \1 finns inte."),
    (re.compile(r"^this needs an administrator token$"), "Sidan kräver en administratörsnyckel."),
    (re.compile(r"^a valid API token is required.*$"), "Logga in med en giltig nyckel."),
)


def page_error(message: str) -> str:
    """A refusal the API words in English (it is the API's contract), in Swedish for a page."""
    for pattern, sv in _PAGE_ERRORS_SV:
        if pattern.match(message):
            return pattern.sub(sv, message)
    return message


# --- jobs ----------------------------------------------------------------------------------------

JOB_ARGS_SV = {"months": "månader", "month": "månad", "sample_persons": "urval (personer)", "issue": "fastställ",
               "files": "filer", "rules": "reformfil", "as_of": "regler per", "rules_as_of": "regler per",
               "to": "till och med", "tables": "tabeller", "dry_run": "provkörning"}
_JOB_WORDS = ((re.compile(r" for a sample of (\d+) persons"), r" för ett urval om \1 personer"),
              (re.compile(r"\bdraft\b"), "utkast"), (re.compile(r"\bissued\b"), "fastställd"),
              (re.compile(r"\bstatements\b"), "månadsbesked"), (re.compile(r"\blines\b"), "rader"),
              (re.compile(r"\btotal\b"), "totalt"), (re.compile(r"\bunchanged\b"), "oförändrad"),
              (re.compile(r"\bSEK\b"), "kr"))


def job_args(args: dict) -> str:
    """A job's arguments as the jobs page lists them ("månader 2022-01..2022-12, urval (personer) 50000")."""
    return ", ".join(f"{JOB_ARGS_SV.get(k, k.replace('_', ' '))} {'ja' if v is True else v}"
                     for k, v in args.items() if v not in (None, False, []))


def job_text(text: str | None) -> str:
    """A job's progress, rulebook or message: the engine's usual words in Swedish."""
    text = text or ""
    for pattern, sv in _JOB_WORDS:
        text = pattern.sub(sv, text)
    return text


def install(env) -> None:
    """Register the Swedish wording on the web app's Jinja environment."""
    env.filters.update(fakta=fact_label, faktavarde=fact_value, villkor=when_text, kalla=source_text,
                       underlag=basis_text, enhet=unit_text, detalj=detail_text,
                       regelvarde=rule_value, jobbtext=job_text, antal=quantity_text)
    env.globals.update(STATUS_LABELS=STATUS_LABELS, contact_error=contact_error, input_error=input_error)
