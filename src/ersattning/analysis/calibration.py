"""The report's region figures (seed 003, RULES.md §7) against this engine's analysis, each
with a stated tolerance: the table in docs/report_vs_engine.md and in report.html."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ersattning.analysis.core import Analysis
from ersattning.analysis.measures import area_table, categories, concentration, correlations, groups
from ersattning.analysis.scenarios import extrapolated_total_msek


@dataclass(frozen=True)
class Target:
    """One figure of the report: what it is, the report's value, and how close the engine must be."""

    key: str
    figure: str
    report: str
    value: float
    tolerance: float
    source: str
    negative: bool = False  # the sign is the finding: the engine's value must also be below 0
    figure_sv: str = ""  # the figure in Swedish (report.html and analysis.xlsx in Swedish)
    report_sv: str = ""  # the report's value in Swedish words, when it has words

    def in_swedish(self) -> dict[str, str]:
        """The Swedish text of this target's English `figure` and `report` cells."""
        return {self.figure: self.figure_sv or self.figure,
                self.report: self.report_sv or self.report.replace(".", ",")}


TARGETS = (
    Target("cap_2016", "capitation share of total, 2016 (%)", "~60", 60, 5, "003 Sammanfattning, §5.3", figure_sv="kapiteringens andel av totalt, 2016 (%)"),
    Target("cap_2022", "capitation share of total, 2022 (%)", "~80", 80, 4, "003 Sammanfattning, §5.3", figure_sv="kapiteringens andel av totalt, 2022 (%)"),
    Target("age_cap_2016", "age share of capitation, 2016 (%)", "76", 76, 6, "003 §5.1 Figure 2", figure_sv="åldersersättningens andel av kapiteringen, 2016 (%)"),
    Target("age_cap_2022", "age share of capitation, 2022 (%)", "22", 22, 4, "003 §5.1 Figure 2", figure_sv="åldersersättningens andel av kapiteringen, 2022 (%)"),
    Target("acg_cap_2017", "ACG share of capitation, 2017 (%)", "19", 19, 4, "003 §5.1 Figure 2", figure_sv="ACG-ersättningens andel av kapiteringen, 2017 (%)"),
    Target("acg_cap_2022", "ACG share of capitation, 2022 (%)", "57", 57, 4, "003 §5.1 Figure 2", figure_sv="ACG-ersättningens andel av kapiteringen, 2022 (%)"),
    Target("acg_tot_2017", "ACG share of total, 2017 (%)", "12", 12, 3, "003 §5.3 Figure 5", figure_sv="ACG-ersättningens andel av totalt, 2017 (%)"),
    Target("acg_tot_2022", "ACG share of total, 2022 (%)", "~45", 45, 4, "003 §5.3 Figure 5", figure_sv="ACG-ersättningens andel av totalt, 2022 (%)"),
    Target("cni_cap", "CNI share of capitation, mean 2016–2022 (%)", "~20", 20, 3, "003 §5.1", figure_sv="CNI-ersättningens andel av kapiteringen, medel 2016–2022 (%)"),
    Target("cni_tot", "CNI share of total, mean 2016–2022 (%)", "~15", 15, 3, "003 §5.3", figure_sv="CNI-ersättningens andel av totalt, medel 2016–2022 (%)"),
    Target("var_2016", "variable share of total, 2016 (%)", "35–40", 37.5, 4, "003 §5.3", figure_sv="rörlig ersättnings andel av totalt, 2016 (%)"),
    Target("var_2022", "variable share of total, 2022 (%)", "just under 20", 19, 4, "003 §5.3", figure_sv="rörlig ersättnings andel av totalt, 2022 (%)", report_sv="knappt 20"),
    Target("home_care_cap", "home-care enrolment share of capitation, mean (%)", "~3", 3, 1.5, "003 §5.1", figure_sv="basal hemsjukvårds andel av kapiteringen, medel (%)"),
    Target("on_call_hp_cap", "on-call + health promotion share of capitation, mean (%)", "just under 2", 1.8, 1.2, "003 §5.1", figure_sv="husläkarjour + hälsofrämjandes andel av kapiteringen, medel (%)", report_sv="knappt 2"),
    Target("unlisted_2022", "unlisted share of inhabitants, 2022 (%)", "~8", 8, 1.5, "003 §6.1 Figure 10", figure_sv="andel olistade invånare, 2022 (%)"),
    Target("ci_2016", "concentration index of total pay (listing), 2016", "−0.023", -0.023, 0.02, "003 §6.2 Figure 16", True, figure_sv="koncentrationsindex för total ersättning (listning), 2016"),
    Target("ci_2022", "concentration index of total pay (listing), 2022", "−0.026", -0.026, 0.02, "003 §6.2 Figure 16", True, figure_sv="koncentrationsindex för total ersättning (listning), 2022"),
    Target("corr_acg_age", "correlation over areas, ACG–age (per listed, last year)", "0.60", 0.60, 0.3, "003 §6.3 Table 5", figure_sv="korrelation över områden, ACG–ålder (per listad, sista året)"),
    Target("corr_age_cni", "correlation over areas, age–CNI (per listed, last year)", "−0.67", -0.67, 0.3, "003 §6.3 Table 5", figure_sv="korrelation över områden, ålder–CNI (per listad, sista året)"),
    Target("total_2022_msek", "total pay 2022, extrapolated to 2 440 027 inhabitants (MSEK)", "6 669 (budget)", 6669, 1000,
           "RULES.md §9 (budget 2022)", figure_sv="total ersättning 2022, uppräknad till 2 440 027 invånare (mnkr)"),
)


def engine_figures(a: Analysis, made: dict | None = None) -> dict[str, float]:
    """The engine's value of each target the analysed years allow (missing years are left out).
    `made`: tables of `a` made already (`output.run_tables`' categories, areas, concentration,
    correlations), read instead of being made again."""
    made = made or {}
    cat = made["categories"] if "categories" in made else categories(a)
    grp = groups(a)
    years = set(a.years)
    out: dict[str, float] = {}

    def share(category, year, of):
        v = cat[(cat.category == category) & (cat.year == year)][of]
        return float(v.sum()) if len(v) else 0.0

    def group(name, year):
        return float(grp[(grp.group == name) & (grp.year == year)].share_of_total.sum())

    # a mean over 2016–2022 is the report's figure only when every one of those years is run
    span = list(range(2016, 2023)) if set(range(2016, 2023)) <= years else []
    for y in (2016, 2022):
        if y in years:
            out[f"cap_{y}"] = group("fixed", y)
            out[f"var_{y}"] = group("variable", y)
    for key, cat_, y, of in (("age_cap_2016", "age", 2016, "share_of_capitation"), ("age_cap_2022", "age", 2022, "share_of_capitation"),
                             ("acg_cap_2017", "acg", 2017, "share_of_capitation"), ("acg_cap_2022", "acg", 2022, "share_of_capitation"),
                             ("acg_tot_2017", "acg", 2017, "share_of_total"), ("acg_tot_2022", "acg", 2022, "share_of_total")):
        if y in years:
            out[key] = share(cat_, y, of)
    if span:
        out["cni_cap"] = sum(share("cni", y, "share_of_capitation") for y in span) / len(span)
        out["cni_tot"] = sum(share("cni", y, "share_of_total") for y in span) / len(span)
        out["home_care_cap"] = sum(share("home_care", y, "share_of_capitation") for y in span) / len(span)
        out["on_call_hp_cap"] = sum(share("on_call_health_promotion", y, "share_of_capitation") for y in span) / len(span)
    areas = made["areas"] if "areas" in made else area_table(a)
    tot = areas[areas.category == "total"]
    last = max(years)
    if 2022 in years:
        t = tot[tot.year == 2022]
        out["unlisted_2022"] = float(100.0 * (1 - t.listed.sum() / t.residents.sum()))
        out["total_2022_msek"] = extrapolated_total_msek(a, 2022)
    ci = made["concentration"] if "concentration" in made else concentration(a)
    for y in (2016, 2022):
        v = ci[(ci.year == y) & (ci.perspective == "listing") & (ci.category == "total")]["index"]
        if len(v):
            out[f"ci_{y}"] = float(v.iloc[0])
    corr = made["correlations"] if "correlations" in made else correlations(a)
    c = corr[corr.year == last]
    for key, (i, j) in (("corr_acg_age", ("acg", "age")), ("corr_age_cni", ("age", "cni"))):
        v = c[(c.category_a == i) & (c.category_b == j)].correlation
        if len(v):
            out[key] = float(v.iloc[0])
    return out


def calibration_table(a: Analysis, made: dict | None = None) -> list[dict]:
    """Rows: figure, report, engine value, target ± tolerance, passes and status, one per
    target; a figure that needs years not run has no value, `passes` None and status "not run".
    `made`: as `engine_figures`."""
    figures = engine_figures(a, made)
    rows = []
    for t in TARGETS:
        v = figures.get(t.key, math.nan)
        run = not math.isnan(v)
        ok = run and abs(v - t.value) <= t.tolerance and (not t.negative or v < 0)
        rows.append({"key": t.key, "figure": t.figure, "report": t.report, "engine": v,
                     "tolerance": f"{t.value:g} ± {t.tolerance:g}" + (", and < 0" if t.negative else ""),
                     "passes": ok if run else None, "status": ("pass" if ok else "FAIL") if run else "not run",
                     "source": t.source})
    return rows
