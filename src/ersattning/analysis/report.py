"""`report_html(tables)`: the report as one self-contained HTML page (charts as inline SVG,
rendered offline by altair + vl-convert; nothing is fetched from outside)."""

from __future__ import annotations

import contextvars
import html

import altair as alt
import pandas as pd

from ersattning.analysis.language import LANGUAGES, TEXT_SV, VALUES_SV, category_labels, column, value_sv
from ersattning.analysis.categories import CATEGORIES, FIXED

#: The language the page is being rendered in (report_html sets it for the call).
_LANG = contextvars.ContextVar("report_language", default="en")


def _(text: str, **values) -> str:
    """`text` in the page's language (TEXT_SV), with `values` filled in."""
    if _LANG.get() == "sv":
        text = TEXT_SV.get(text, VALUES_SV.get(text, text))
    return text.format(**values) if values else text


def _labels() -> dict[str, str]:
    return category_labels(_LANG.get())


def _order() -> list[str]:
    labels = _labels()
    return [labels[c] for c in CATEGORIES]
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} .fail{color:#b00;font-weight:bold} .ok{color:#070} .notrun{color:#777}
figure{margin:1em 0} figcaption{font-size:.85em;color:#555}
body:has(.pair){max-width:2300px} .pair{display:grid;grid-template-columns:1fr 1fr;gap:1.5em} .pair>div{overflow-x:auto;min-width:0}
"""


_STATUS = {"pass": "ok", "FAIL": "fail", "not run": "notrun"}
NEUTRAL_TEXT = ("The component's rate is multiplied by the factor (exact: factor_exact, from öre totals) so that each "
                "year's total equals the base's to the öre; rate_rescaled is the rate this implies.")
CHECK_TEXT = "The report describes the rulebook in force: the base run is the check; the scenario shows how far the reform moves each figure."
#: Winners and losers: the bands (analysis.scenarios.BANDS) and their colours, losses red, gains blue.
_BAND_COLOURS = ["#b2182b", "#ef8a62", "#bbbbbb", "#67a9cf", "#2166ac"]


def _svg(chart: alt.TopLevelMixin) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict())


def _figure(chart, caption: str) -> str:
    return f"<figure>{_svg(chart)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(df: pd.DataFrame, digits: int = 1, max_rows: int = 60) -> str:
    if df is None or not len(df):
        return "<p>(none)</p>"
    df = df.head(max_rows)
    lang = _LANG.get()
    head = "".join(f"<th>{html.escape(column(str(c), lang))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for name, v in zip(df.columns, row):
            if v in _STATUS:
                cells.append(f"<td class={_STATUS[v]}>{_(v)}</td>")
            elif isinstance(v, bool):
                cells.append(f"<td class={'ok' if v else 'fail'}>{_('pass') if v else _('FAIL')}</td>")
            elif isinstance(v, float):
                number = f'{v:,.{digits}f}'.replace(',', ' ')
                cells.append(f"<td>{'' if pd.isna(v) else number.replace('.', ',') if lang == 'sv' else number}</td>")
            else:
                cells.append(f"<td>{html.escape(value_sv(name, v) if lang == 'sv' and isinstance(v, str) else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _stacked_shares(cat: pd.DataFrame, value: str, only_fixed: bool, title: str):
    d = cat[cat.category.isin(FIXED)] if only_fixed else cat
    d = d.assign(label=d.category.map(_labels()), year=d.year.astype(str))[["year", "label", value]].dropna()
    return alt.Chart(d, title=title).mark_bar().encode(
        x=alt.X("year:N", title=_("year")), y=alt.Y(f"{value}:Q", title=_("share (%)"), stack="zero"),
        color=alt.Color("label:N", sort=_order(), title=_("component")), order=alt.Order("label:N"),
        tooltip=["year", "label", alt.Tooltip(f"{value}:Q", format=".1f")],
    ).properties(width=520, height=260)


def _areas_ranked(areas: pd.DataFrame, year: int, value: str, title: str, categories=None):
    d = areas[(areas.year == year) & areas.name.notna()]
    cats = categories or [c for c in CATEGORIES]
    d = d[d.category.isin(cats)].assign(label=lambda x: x.category.map(_labels()))
    rank = d.groupby("name")[value].sum().sort_values(ascending=False).index.tolist()
    return alt.Chart(d[["name", "label", value]].fillna(0), title=title).mark_bar().encode(
        y=alt.Y("name:N", sort=rank, title=None), x=alt.X(f"{value}:Q", title=_("SEK"), stack="zero"),
        color=alt.Color("label:N", sort=_order(), title=_("component")),
        tooltip=["name", "label", alt.Tooltip(f"{value}:Q", format=",.0f")],
    ).properties(width=480, height=14 * max(1, d.name.nunique()))


def report_html(tables: dict[str, pd.DataFrame], title: str = "Primary-care pay, decomposed", notes: list[str] | None = None,
                lang: str = "sv") -> str:
    """The whole report as HTML in `lang` (Swedish, "sv", by default, or "en"); see `_report_html`."""
    token = _LANG.set(lang if lang in LANGUAGES else "en")
    try:
        if title == "Primary-care pay, decomposed":
            title = _("Primary-care pay, decomposed")
        return _report_html(_relabelled(tables), title, notes)
    finally:
        _LANG.reset(token)


def _relabelled(tables: dict) -> dict:
    """The categories' `label` column in the page's language (the tables hold English labels)."""
    labels = _labels()

    def one(t: dict) -> dict:
        t = dict(t)
        if "categories" in t and "category" in t["categories"]:
            t["categories"] = t["categories"].assign(label=t["categories"].category.map(labels))
        return t

    out = one(tables)
    if "runs" in out:
        out["runs"] = {run: one(t) for run, t in out["runs"].items()}
    return out


def _report_html(tables: dict[str, pd.DataFrame], title: str, notes: list[str] | None) -> str:
    """The whole report as HTML (a string): the web app can serve it as it is. For a scenario
    (`tables` from `output.tables(scenario, base)`, holding `runs`): the budget effect, the
    report's figures, shares and pay per listed person side by side (base, scenario,
    difference), winners and losers, then each run's own charts, every one labelled with its run."""
    parts = [f"<!doctype html><html lang={_LANG.get()}><head><meta charset=utf-8><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for n in notes or []:
        parts.append(f"<p>{html.escape(n)}</p>")
    runs = tables.get("runs")
    if runs:
        parts.extend(_comparison(tables))
        # the two runs' own charts side by side: base on the left, scenario on the right
        parts.append("<h2>" + _("Each run's own tables and charts: base (left) and scenario (right)") + "</h2><div class=pair>")
        for run in ("base", "scenario"):
            parts.append(f"<div><h2>{_('The {run} run', run=_(run))}</h2>")
            parts.extend(_run(runs[run], run))
            parts.append("</div>")
        parts.append("</div>")
    else:
        if "calibration" in tables and len(tables["calibration"]):
            parts.append("<h2>" + _("The report's region figures against this engine") + "</h2>")
            parts.append(_table(tables["calibration"][["figure", "report", "engine", "tolerance", "status", "source"]], digits=3))
        parts.extend(_run(tables, ""))
    parts.append("</body></html>")
    return "\n".join(parts)


def _comparison(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The scenario against its base: budget, neutrality, the report's figures, shares and pay per
    listed person side by side, winners and losers by clinic, area and income decile."""
    parts = [f"<h2>{_('Budget effect (scenario − base)')}</h2>"]
    b = tables["budget"].rename(columns={"base_sek": _("base SEK"), "scenario_sek": _("scenario SEK"), "difference_sek": _("difference SEK"),
                                         "difference_pct": _("difference %")}).drop(columns="difference_ore")
    parts.append(_table(b.assign(year=b.year.astype(str)), digits=2))
    if "neutral" in tables and len(tables["neutral"]):
        n = tables["neutral"]
        parts.append(f"<h2>{_('Budget-neutral: {names} rescaled', names=html.escape(', '.join(sorted(set(n.component)))))}</h2>"
                     f"<p>{_(NEUTRAL_TEXT)}</p>")
        parts.append(_table(n[["year", "component", "parameter", "from", "to", "rate_scenario", "factor", "factor_exact",
                               "rate_rescaled", "component_before_sek", "component_after_sek", "base_total_sek", "scenario_total_sek"]]
                            .assign(year=n.year.astype(str), factor=n.factor.map(lambda f: f"{f:.9f}")), digits=2))
    if "case_mix" in tables:
        from ersattning.analysis.case_mix import report_section as case_mix_section

        parts.extend(case_mix_section(tables["case_mix"], _table, _))
    cal = tables.get("calibration")
    if cal is not None and len(cal):
        parts.append("<h2>" + _("The report's region figures: base and scenario") + f"</h2><p>{_(CHECK_TEXT)}</p>")
        parts.append(_table(cal[["figure", "report", "tolerance", "engine_base", "status_base", "engine_scenario", "status_scenario",
                                 "engine_difference", "source"]], digits=3))
    cat = tables["categories"]
    years = sorted(set(cat.year))
    last = years[-1]
    parts.append(f"<h2>{_('Share of total by component: base, scenario and difference (percentage points)')}</h2>")
    wide = cat.assign(label=cat.category.map(_labels()))
    cols = {}
    for y in years:
        part = wide[wide.year == y].set_index("label")
        for run in ("base", "scenario", "difference"):
            cols[f"{y} {_(run)}"] = part[f"share_of_total_{run}"]
    table = pd.DataFrame(cols).reindex([x for x in _order() if x in set(wide.label)])
    parts.append(_table(table.reset_index().rename(columns={"label": "component"})))
    per = wide[wide.year == last]
    long = pd.concat([per[["label"]].assign(run=_(run), sek=per[f"per_listed_sek_{run}"].values) for run in ("base", "scenario")])
    parts.append(_figure(alt.Chart(long, title=_("Base and scenario: SEK per listed person by component, {last}", last=last)).mark_bar().encode(
        y=alt.Y("label:N", sort=_order(), title=None), yOffset=alt.YOffset("run:N", sort=[_("base"), _("scenario")]),
        x=alt.X("sek:Q", title=_("SEK per listed person")), color=alt.Color("run:N", title=_("run"), sort=[_("base"), _("scenario")]),
        tooltip=["label", "run", alt.Tooltip("sek:Q", format=",.0f")]).properties(width=480, height=30 * max(1, per.label.nunique())),
        _("Base: the rulebook; scenario: the reform. Each component's pay divided by the mean number of listed persons of its run.")))
    d = per[["label", "per_listed_sek_difference"]].fillna(0)
    parts.append(_figure(alt.Chart(d, title=_("Difference (scenario − base): SEK per listed person by component, {last}", last=last)).mark_bar().encode(
        y=alt.Y("label:N", sort=_order(), title=None), x=alt.X("per_listed_sek_difference:Q", title=_("SEK per listed person, scenario − base")),
        color=alt.condition("datum.per_listed_sek_difference < 0", alt.value(_BAND_COLOURS[0]), alt.value(_BAND_COLOURS[4])),
        tooltip=["label", alt.Tooltip("per_listed_sek_difference:Q", format=",.1f")]).properties(width=480, height=18 * max(1, len(d))),
        _("Scenario − base, per listed person.")))
    parts.extend(_winners_and_losers(tables, last))
    return parts


def _winners_and_losers(tables: dict[str, pd.DataFrame], year: int) -> list[str]:
    from ersattning.analysis.scenarios import BANDS

    parts = []
    shown = [_(b) for b in BANDS]  # the bands as the page names them, in their order
    colour = alt.Color("band:N", sort=shown, scale=alt.Scale(domain=shown, range=_BAND_COLOURS), title=_("change"))
    bands = tables.get("reform_bands")
    for level, key, plural in (("clinic", "reform_clinics", "clinics"), ("area", "reform_areas", "areas"),
                               ("income decile", "reform_deciles", "income deciles")):
        d = tables.get(key)
        if d is None or not len(d):
            continue
        d = d[d.year == year]
        parts.append(f"<h2>{_('Winners and losers by {level}, {year} (scenario − base)', level=_(level), year=year)}</h2>")
        if bands is not None and len(bands):
            bl = bands[(bands.level == level) & (bands.year == year)]
            bl = bl.assign(band=bl.band.map(_))
            parts.append(_figure(alt.Chart(bl, title=_("Number of {plural} by change of pay, {year} (scenario − base)", plural=_(plural), year=year)).mark_bar().encode(
                x=alt.X("band:N", sort=shown, title=None), y=alt.Y("count:Q", title=_(plural)), color=colour,
                tooltip=["band", "count", alt.Tooltip("difference_sek:Q", format=",.0f")]).properties(width=420, height=200),
                _("Change of each {level}'s pay, scenario − base, in % of its base pay: losses and gains of more or less than 5 %.", level=_(level))))
            parts.append(_table(bl.drop(columns=["level"]).assign(year=bl.year.astype(str)).rename(
                columns={"base_sek": _("base SEK"), "scenario_sek": _("scenario SEK"), "difference_sek": _("difference SEK")}), digits=0))
        if level != "clinic":
            name = "name" if level == "area" else "decile"
            p = d.assign(what=d[name].astype(str), band=d.band.map(_))[["what", "difference_pct", "band"]].dropna(subset=["difference_pct"])
            parts.append(_figure(alt.Chart(p, title=_("Difference (scenario − base) by {level}, {year}, % of base pay", level=_(level), year=year)).mark_bar().encode(
                y=alt.Y("what:N", sort="-x" if level == "area" else None, title=None),
                x=alt.X("difference_pct:Q", title=_("% of base pay, scenario − base")), color=colour,
                tooltip=["what", alt.Tooltip("difference_pct:Q", format=".2f"), "band"]).properties(width=480, height=14 * max(1, len(p))),
                _("Residence perspective: all pay for the residents' care.") + (_(" Decile 1: the poorest tenth of inhabitants.") if level != "area" else "")))
        parts.append(_table(d, digits=1))
    return parts


def _run(tables: dict[str, pd.DataFrame], run: str) -> list[str]:
    """One run's charts and tables; with `run` ("base" or "scenario"), every heading and chart says so."""
    tag = f"{_(run).capitalize()}: " if run else ""
    cat, areas, conc, prod = tables["categories"], tables["areas"], tables["concentration"], tables["production"]
    years = sorted(set(cat.year))
    first, last = years[0], years[-1]
    parts = []
    parts.append(f"<h2>{tag}{_('Pay per listed person by component and year')}</h2>")
    per = cat.assign(label=cat.category.map(_labels()), year=cat.year.astype(str))[["year", "label", "per_listed_sek"]]
    parts.append(_figure(alt.Chart(per, title=tag + _("SEK per listed person (report Figures 1, 3, 4)")).mark_bar().encode(
        x=alt.X("year:N", title=_("year")), y=alt.Y("per_listed_sek:Q", title=_("SEK per listed person"), stack="zero"),
        color=alt.Color("label:N", sort=_order(), title=_("component")),
        tooltip=["year", "label", alt.Tooltip("per_listed_sek:Q", format=",.0f")]).properties(width=520, height=260),
        _("All pay of the year divided by the mean number of listed persons, by component (nominal SEK).")))
    parts.append(f"<h2>{tag}{_('Shares by component and year')}</h2>")
    parts.append(_figure(_stacked_shares(cat, "share_of_capitation", True, tag + _("Within capitation (report Figure 2)")),
                         _("Share of each component in capitation (fixed pay), by year.")))
    parts.append(_figure(_stacked_shares(cat, "share_of_total", False, tag + _("Of total pay (report Figure 5)")),
                         _("Share of each component in the total, by year.")))
    wide = cat.pivot_table(index="label", columns="year", values="share_of_total").reindex([x for x in _order() if x in set(cat.label)])
    parts.append(_table(wide.reset_index().rename(columns={"label": tag + _("share of total (%)")})))
    if "visit_types" in tables and len(tables["visit_types"]):
        vt = tables["visit_types"]
        vt = vt.assign(visit_type=vt.visit_type.map(_)).pivot_table(index="visit_type", columns="year", values="share_of_total").reset_index()
        parts.append(f"<h3>{tag}{_('Visits by type (share of total, %)')}</h3>" + _table(vt))

    parts.append(f"<h2>{tag}{_('Areas')}</h2>")
    for y in sorted({first, last}):
        parts.append(_figure(_areas_ranked(areas, y, "per_listed_sek", tag + _("Pay per listed person by area, {y} (listing perspective)", y=y)),
                             _("Pay for the persons listed, by where they live, per listed person (report Figures 6–7).")))
        parts.append(_figure(_areas_ranked(areas, y, "per_inhabitant_sek", tag + _("Pay per inhabitant by area, {y} (residence perspective)", y=y)),
                             _("All pay for residents' care, unlisted included, per inhabitant (report Figures 8–9).")))
    tot = areas[(areas.year == last) & (areas.category == "total") & areas.name.notna()]
    parts.append(_figure(alt.Chart(tot[["name", "unlisted_share"]], title=tag + _("Unlisted share of inhabitants, {last} (report Figure 10)", last=last))
                         .mark_bar().encode(y=alt.Y("name:N", sort="-x", title=None), x=alt.X("unlisted_share:Q", title="%"))
                         .properties(width=480, height=14 * max(1, len(tot))), _("Share of inhabitants not listed at any clinic.")))
    p = prod[(prod.year == last) & prod.name.notna()].melt(id_vars=["name"], value_vars=["produced", "consumed"], var_name="what", value_name="visits")
    p = p.assign(what=p.what.map(_))
    parts.append(_figure(alt.Chart(p, title=tag + _("Visits produced in vs consumed by each area, {last} (report Figure 11)", last=last)).mark_bar().encode(
        y=alt.Y("name:N", title=None), yOffset="what:N", x=alt.X("visits:Q", title=_("base visits")), color=alt.Color("what:N", title=None))
        .properties(width=480, height=24 * max(1, p.name.nunique())),
        _("Produced: base visits at the area's clinics; consumed: base visits by the area's residents.")))
    for cats, fig in ((["cni"], "12"), (["acg"], "13"), (["visits", "other_variable"], "14"), (list(CATEGORIES), "15")):
        name = " + ".join(_labels()[c] for c in cats) if len(cats) < 4 else _("total")
        parts.append(_figure(_areas_ranked(areas, last, "per_listed_sek", tag + _("{name} per listed person by area, {last} (report Figure {fig})", name=name, last=last, fig=fig), cats),
                             _("Ranked by pay per listed person ({name}).", name=name)))

    parts.append(f"<h2>{tag}{_('Concentration index over areas ranked by mean income')}</h2>")
    c = conc[(conc.perspective == "listing") & conc.category.isin(["total", "fixed", "variable"])].assign(
        label=lambda x: x.category.map(_labels()), low=lambda x: x["index"] - 1.96 * x.std_error, high=lambda x: x["index"] + 1.96 * x.std_error)
    base = alt.Chart(c, title=tag + _("Concentration index by year (report Figure 16); < 0 favours poorer areas"))
    chart = (base.mark_line(point=True).encode(x=alt.X("year:O", title=_("year")), y=alt.Y("index:Q", title=_("concentration index")), color=alt.Color("label:N", title=None))
             + base.mark_errorbar().encode(x="year:O", y="low:Q", y2="high:Q", color="label:N")).properties(width=520, height=260)
    parts.append(_figure(chart, _("Listing perspective: pay per listed person, areas weighted by listed persons; bars: ±1.96 standard errors.")))
    parts.append(_table(conc[conc.perspective == "listing"].pivot_table(index="category", columns="year", values="index").reset_index(), digits=3))

    if "correlations" in tables and len(tables["correlations"]):
        cr = tables["correlations"]
        cr = cr[(cr.year == last) & cr.category_a.isin(CATEGORIES) & cr.category_b.isin(CATEGORIES)]
        m = cr.pivot_table(index="category_a", columns="category_b", values="correlation")
        parts.append(f"<h2>{tag}{_('Correlations between components over areas, {last} (report Table 5)', last=last)}</h2>" + _table(m.reset_index(), digits=2))

    from ersattning.analysis.need import report_section

    parts.extend(report_section(tables, _table, tag, _))
    return parts
