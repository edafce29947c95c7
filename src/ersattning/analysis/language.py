"""The analysis's words in Swedish (the default of `ersattning analyze`) or English: category
labels, column headings of report.html and analysis.xlsx, and the report's texts.

A category with one component is named by that component's `label_sv` (its component.yaml, as the
web app and the workbook name it); categories of several components and the report's sums have
their Swedish name here. Identifiers (CSV columns, category keys) stay English.
"""

from __future__ import annotations

import functools
import re

from ersattning.analysis.categories import LABELS
from ersattning.rulebook.components import CATEGORY_GROUP

LANGUAGES = ("sv", "en")

#: Categories of several components, and the report's sums (the web app's group names:
#: "Fast", "Rörlig", "Målrelaterad", "Justering").
_CATEGORY_SV = {
    "on_call_health_promotion": "Husläkarjour + hälsofrämjande", "other_fixed": "Övrig fast ersättning",
    "visits": "Besöksersättning", "other_variable": "Övrig rörlig ersättning", "goal_based": "Målrelaterad ersättning",
    "adjustment": "Justering", "home_care": "Basal hemsjukvård", "fixed": "Kapitering (fast)", "variable": "Rörlig", "total": "Totalt",
}


def category_labels(lang: str) -> dict[str, str]:
    """Report category → its label in `lang`."""
    if lang != "sv":
        return dict(LABELS)
    from ersattning.analysis.categories import component_categories
    from ersattning.statements import component_labels

    labels = component_labels()
    members: dict[str, list[str]] = {}
    for component, category in component_categories().items():
        members.setdefault(category, []).append(component)
    out = {}
    for category in (*CATEGORY_GROUP, "fixed", "variable", "total"):
        one = members.get(category, [])
        out[category] = labels[one[0]] if len(one) == 1 else _CATEGORY_SV.get(category, LABELS.get(category, category))
    return out


#: Column headings in Swedish (the CSVs keep the English names).
COLUMNS_SV = {
    "year": "år", "component": "komponent", "category": "kategori", "label": "benämning", "group": "grupp",
    "amount_sek": "belopp (kr)", "share_of_total": "andel av totalt", "share_of_capitation": "andel av kapitering",
    "per_listed_sek": "kr per listad", "per_inhabitant_sek": "kr per invånare", "visit_type": "besökstyp",
    "clinic_id": "mottagning", "name": "namn", "area_code": "område", "listed": "listade", "residents": "invånare",
    "unlisted_share": "andel olistade", "income_sek": "medelinkomst (kr)", "listing_sek": "listning (kr)",
    "residence_sek": "bosättning (kr)", "produced": "producerade", "consumed": "konsumerade",
    "produced_per_consumed": "producerade per konsumerade", "consumed_per_inhabitant": "konsumerade per invånare",
    "perspective": "perspektiv", "index": "index", "std_error": "medelfel", "areas": "områden",
    "category_a": "kategori a", "category_b": "kategori b", "correlation": "korrelation", "key": "nyckel",
    "figure": "mått", "report": "rapporten", "engine": "motorn", "tolerance": "tolerans", "passes": "inom tolerans",
    "status": "status", "source": "källa", "total_per_listed_sek": "totalt per listad (kr)", "fixed_share": "andel fast",
    "base_sek": "bas (kr)", "scenario_sek": "scenario (kr)", "difference_sek": "skillnad (kr)", "difference_ore": "skillnad (öre)",
    "difference_pct": "skillnad (%)", "band": "förändring", "level": "nivå", "count": "antal", "decile": "decil",
    "persons": "personer", "parameter": "parameter", "from": "från", "to": "till", "factor": "faktor",
    "factor_exact": "faktor (exakt)", "rate_scenario": "sats, scenario", "rate_rescaled": "omräknad sats",
    "component_before_sek": "komponent före (kr)", "component_after_sek": "komponent efter (kr)",
    "base_total_sek": "bas totalt (kr)", "scenario_total_sek": "scenario totalt (kr)",
    "difference_per_inhabitant_sek": "skillnad per invånare (kr)", "total_base": "totalt, bas", "total_scenario": "totalt, scenario",
}
_RUNS_SV = {"base": "bas", "scenario": "scenario", "difference": "skillnad"}


def column(name: str, lang: str) -> str:
    """A column's heading in `lang`: a category's label, a known column's Swedish name, and the
    side-by-side suffixes (_base, _scenario, _difference) as words."""
    if lang != "sv":
        return name
    m = re.fullmatch(r"(.+)_(base|scenario|difference)", name)
    stem, run = (m.group(1), m.group(2)) if m else (name, None)
    labels = category_labels("sv")
    word = COLUMNS_SV.get(stem) or (f"{labels[stem]} (kr)" if stem in labels else stem)
    return f"{word}, {_RUNS_SV[run]}" if run else word


#: Values shown in the report's and workbook's cells.
VALUES_SV = {
    "pass": "godkänd", "FAIL": "UNDERKÄND", "not run": "ej körd", "listing": "listning", "residence": "bosättning",
    "loses > 5 %": "förlorar > 5 %", "loses < 5 %": "förlorar < 5 %", "unchanged": "oförändrad",
    "gains < 5 %": "vinner < 5 %", "gains > 5 %": "vinner > 5 %", "clinic": "mottagning", "area": "område",
    "income decile": "inkomstdecil", "base": "bas", "scenario": "scenario", "produced": "producerade", "consumed": "konsumerade",
    "Primary-care pay, decomposed": "Ersättning i primärvården, uppdelad",
    # visit types (categories.VISIT_TYPES)
    "doctor visit": "läkarbesök", "doctor home visit": "läkarbesök i hemmet", "doctor phone": "läkare, telefon",
    "doctor video": "läkare, video", "psychosocial visit": "psykosocialt besök", "other staff visit": "besök, övrig personal",
    "other staff home visit": "hembesök, övrig personal", "other staff phone": "övrig personal, telefon",
    "other staff video": "övrig personal, video", "home-care visit": "hemsjukvårdsbesök", "team visit": "teambesök",
    "group team visit": "gruppteambesök", "group visit": "gruppbesök", "base fee (any visit)": "grundersättning (alla besök)",
    "psychologist visit": "psykologbesök", "out-of-county visit": "utomlänsbesök",
}

@functools.cache
def _targets_sv() -> dict[str, str]:
    """Every report figure's English description and value → its Swedish (the targets' own)."""
    from ersattning.analysis.calibration import TARGETS  # calibration reads the measures, which read this module

    return {english: swedish for t in TARGETS for english, swedish in t.in_swedish().items()}


def value_sv(name: str, v: str) -> str:
    """A text cell of column `name` in Swedish, for report.html and analysis.xlsx alike: a known
    value, a report figure's description or value (the calibration targets' own Swedish), a
    tolerance's words, a category key by its label; anything else as it is."""
    if v in VALUES_SV:
        return VALUES_SV[v]
    if v in _targets_sv():
        return _targets_sv()[v]
    if name == "tolerance":
        return v.replace(".", ",").replace(", and < 0", " och < 0")
    if name.startswith("category"):
        return category_labels("sv").get(v, v)
    return v


#: The report's texts in Swedish, by their English text (`report._`; {names} are filled in).
TEXT_SV = {
    # analysis.need's and analysis.case_mix's report sections
    "Need-standardised pay by area, {year} (age band, sex, ACG band)":
        "Behovsstandardiserad ersättning per område, {year} (åldersgrupp, kön, ACG-grupp)",
    "Indirect standardisation: expected pay = Σ over the area's residents of the region's mean pay per person "
    "in their (age band, sex, ACG weight band) cell; ratio = paid / expected; need-standardised pay per inhabitant "
    "= ratio × the region's mean. Areas by mean income, poorest first.":
        "Indirekt standardisering: förväntad ersättning = Σ över områdets invånare av regionens medelersättning per person "
        "i deras cell (åldersgrupp, kön, ACG-viktgrupp); kvot = utbetalt / förväntat; behovsstandardiserad ersättning per "
        "invånare = kvoten × regionens medelvärde. Områdena efter medelinkomst, lägst först.",
    "Concentration index by area income rank: raw and need-standardised pay per inhabitant":
        "Koncentrationsindex efter områdenas inkomstrang: faktisk och behovsstandardiserad ersättning per invånare",
    "Scenario: the ACG component paid on an {label}": "Scenario: ACG-ersättningen betald efter ett {label}",
    "open case-mix index (Charlson, Swedish ICD-10 adaptation, Ludvigsson et al. 2021; not ACG)":
        "öppet case-mix-index (Charlson, svensk ICD-10-anpassning, Ludvigsson m.fl. 2021; inte ACG)",
    "Charlson groups found in the register's diagnoses in the 18 months before each month paid (36 for "
    "chronic conditions); index = (1 + the weights' sum) / its mean over the county's residents, so the region's "
    "mean is 1.0. The base pays on the ACG weights. Residents with each group, {year} (mean of month-ends):":
        "Charlsongrupper i registrets diagnoser de 18 månaderna före varje betald månad (36 för kroniska tillstånd); "
        "index = (1 + viktsumman) / dess medelvärde över länets invånare, så regionens medelvärde är 1,0. Basen betalar "
        "efter ACG-vikterna. Invånare med varje grupp, {year} (medel av månadsskiften):",
    "year": "år", "share (%)": "andel (%)", "component": "komponent", "SEK": "kr", "run": "körning", "change": "förändring",
    "base": "bas", "scenario": "scenario", "difference": "skillnad", "total": "totalt",
    "pass": "godkänd", "FAIL": "UNDERKÄND", "not run": "ej körd",
    "clinic": "mottagning", "area": "område", "income decile": "inkomstdecil",
    "clinics": "mottagningar", "areas": "områden", "income deciles": "inkomstdeciler",
    "base SEK": "bas (kr)", "scenario SEK": "scenario (kr)", "difference SEK": "skillnad (kr)", "difference %": "skillnad (%)",
    "Each run's own tables and charts: base (left) and scenario (right)":
        "Varje körnings egna tabeller och diagram: bas (vänster) och scenario (höger)",
    "The {run} run": "Körningen {run}",
    "The report's region figures against this engine": "Rapportens regionsiffror jämförda med motorn",
    "Budget effect (scenario − base)": "Budgeteffekt (scenario − bas)",
    "Budget-neutral: {names} rescaled": "Budgetneutralt: {names} omräknad",
    "The component's rate is multiplied by the factor (exact: factor_exact, from öre totals) so that each "
    "year's total equals the base's to the öre; rate_rescaled is the rate this implies.":
        "Komponentens sats multipliceras med faktorn (exakt: faktor (exakt), ur summor i öre) så att varje års totala "
        "ersättning blir lika med basens på öret; omräknad sats är den sats detta motsvarar.",
    "The report's region figures: base and scenario": "Rapportens regionsiffror: bas och scenario",
    "The report describes the rulebook in force: the base run is the check; the scenario shows how far the reform moves each figure.":
        "Rapporten beskriver gällande regelverk: baskörningen är kontrollen; scenariot visar hur långt reformen flyttar varje mått.",
    "Share of total by component: base, scenario and difference (percentage points)":
        "Andel av total ersättning per komponent: bas, scenario och skillnad (procentenheter)",
    "Base and scenario: SEK per listed person by component, {last}": "Bas och scenario: kr per listad person och komponent, {last}",
    "SEK per listed person": "kr per listad person",
    "Base: the rulebook; scenario: the reform. Each component's pay divided by the mean number of listed persons of its run.":
        "Bas: regelverket; scenario: reformen. Varje komponents ersättning delad med körningens genomsnittliga antal listade.",
    "Difference (scenario − base): SEK per listed person by component, {last}":
        "Skillnad (scenario − bas): kr per listad person och komponent, {last}",
    "SEK per listed person, scenario − base": "kr per listad person, scenario − bas",
    "Scenario − base, per listed person.": "Scenario − bas, per listad person.",
    "Winners and losers by {level}, {year} (scenario − base)": "Vinnare och förlorare per {level}, {year} (scenario − bas)",
    "Number of {plural} by change of pay, {year} (scenario − base)": "Antal {plural} efter förändrad ersättning, {year} (scenario − bas)",
    "Change of each {level}'s pay, scenario − base, in % of its base pay: losses and gains of more or less than 5 %.":
        "Förändring av ersättningen per {level}, scenario − bas, i % av basersättningen: förluster och vinster större eller mindre än 5 %.",
    "Difference (scenario − base) by {level}, {year}, % of base pay": "Skillnad (scenario − bas) per {level}, {year}, % av basersättningen",
    "% of base pay, scenario − base": "% av basersättningen, scenario − bas",
    "Residence perspective: all pay for the residents' care.": "Bosättningsperspektiv: all ersättning för invånarnas vård.",
    " Decile 1: the poorest tenth of inhabitants.": " Decil 1: den fattigaste tiondelen av invånarna.",
    "Pay per listed person by component and year": "Ersättning per listad person, per komponent och år",
    "SEK per listed person (report Figures 1, 3, 4)": "kr per listad person (rapportens figur 1, 3, 4)",
    "All pay of the year divided by the mean number of listed persons, by component (nominal SEK).":
        "Årets hela ersättning delad med genomsnittligt antal listade, per komponent (löpande kronor).",
    "Shares by component and year": "Andelar per komponent och år",
    "Within capitation (report Figure 2)": "Inom kapiteringen (rapportens figur 2)",
    "Share of each component in capitation (fixed pay), by year.": "Varje komponents andel av kapiteringen (fast ersättning), per år.",
    "Of total pay (report Figure 5)": "Av total ersättning (rapportens figur 5)",
    "Share of each component in the total, by year.": "Varje komponents andel av totalen, per år.",
    "share of total (%)": "andel av totalt (%)",
    "Visits by type (share of total, %)": "Besök per typ (andel av totalt, %)",
    "Areas": "Områden",
    "Pay per listed person by area, {y} (listing perspective)": "Ersättning per listad person och område, {y} (listningsperspektiv)",
    "Pay for the persons listed, by where they live, per listed person (report Figures 6–7).":
        "Ersättning för de listade, efter var de bor, per listad person (rapportens figur 6–7).",
    "Pay per inhabitant by area, {y} (residence perspective)": "Ersättning per invånare och område, {y} (bosättningsperspektiv)",
    "All pay for residents' care, unlisted included, per inhabitant (report Figures 8–9).":
        "All ersättning för invånarnas vård, olistade inräknade, per invånare (rapportens figur 8–9).",
    "Unlisted share of inhabitants, {last} (report Figure 10)": "Andel olistade invånare, {last} (rapportens figur 10)",
    "Share of inhabitants not listed at any clinic.": "Andel invånare som inte är listade på någon mottagning.",
    "Visits produced in vs consumed by each area, {last} (report Figure 11)":
        "Besök producerade i och konsumerade av varje område, {last} (rapportens figur 11)",
    "base visits": "grundbesök",
    "Produced: base visits at the area's clinics; consumed: base visits by the area's residents.":
        "Producerade: grundbesök på områdets mottagningar; konsumerade: grundbesök av områdets invånare.",
    "{name} per listed person by area, {last} (report Figure {fig})": "{name} per listad person och område, {last} (rapportens figur {fig})",
    "Ranked by pay per listed person ({name}).": "Rangordnade efter ersättning per listad person ({name}).",
    "Concentration index over areas ranked by mean income": "Koncentrationsindex över områden rangordnade efter medelinkomst",
    "Concentration index by year (report Figure 16); < 0 favours poorer areas":
        "Koncentrationsindex per år (rapportens figur 16); < 0 gynnar fattigare områden",
    "concentration index": "koncentrationsindex",
    "Listing perspective: pay per listed person, areas weighted by listed persons; bars: ±1.96 standard errors.":
        "Listningsperspektiv: ersättning per listad person, områden vägda med antal listade; staplar: ±1,96 medelfel.",
    "Correlations between components over areas, {last} (report Table 5)":
        "Korrelationer mellan komponenter över områden, {last} (rapportens tabell 5)",
}
