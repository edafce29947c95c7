"""Charts rendered on the server (altair → vl-convert → inline SVG): nothing is fetched by the browser."""

from __future__ import annotations

import threading
from html import escape

import altair as alt
import pandas as pd

from ersattning.api import format
from ersattning.api.colours import colour
from ersattning.statements import COMPONENT_LABELS_SV

GROUP_LABELS_SV = {"fixed": "Fast", "variable": "Rörlig", "goal": "Målrelaterad", "adjustment": "Justering"}

_LOCK = threading.Lock()
_VL_VERSION = "_".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])  # the schema altair writes  # vl-convert's renderer is shared; one chart at a time


def _svg(chart: alt.Chart, title: str, description: str) -> str:
    """The chart as inline SVG with its title and a text alternative (role img, <title>, <desc>):
    a screen reader reads what the bars show."""
    import vl_convert as vlc

    with _LOCK:
        svg = vlc.vegalite_to_svg(chart.to_json(), vl_version=_VL_VERSION)
    # Drop the XML prolog so the SVG can sit inline in the page.
    svg = svg[svg.index("<svg"):] if "<svg" in svg else svg
    end = svg.index(">") + 1
    opening = svg[:end - 1].replace(' aria-roledescription="visualization"', "").replace(' role="graphics-document document"', "")
    opening = opening.replace(' aria-label="', ' data-vega-label="')
    return (f'{opening} role="img" aria-label="{escape(title)}: {escape(description)}">'
            f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{svg[end:]}")


def components_chart(items: list[dict], title: str) -> str:
    """Horizontal bars: SEK per component (items: component, amount_ore, group)."""
    if not items:
        return ""
    labels = [COMPONENT_LABELS_SV.get(i["component"], i["component"]) for i in items]
    frame = pd.DataFrame({
        "komponent": labels,
        # The bar's length only (a picture): the amounts people read are the exact öre in the text.
        "kronor": [i["amount_ore"] / 100 for i in items],
        "grupp": [GROUP_LABELS_SV.get(i.get("group", ""), i.get("group", "")) for i in items],
    })
    # Each component in its own colour (api/colours.py), the same on every page and month.
    scale = alt.Scale(domain=labels, range=[colour(i["component"]) for i in items])
    chart = alt.Chart(frame, title=title).mark_bar().encode(
        # Swedish thousands: a space (d3's default groups with commas).
        x=alt.X("kronor:Q", title="kronor", axis=alt.Axis(labelExpr="replace(format(datum.value, ',.0f'), /,/g, ' ')")),
        y=alt.Y("komponent:N", sort="-x", title=None),
        color=alt.Color("komponent:N", scale=scale, legend=None),
        tooltip=["komponent", "grupp"],
    ).properties(width=520, height=max(80, 22 * len(items)))
    ordered = sorted(items, key=lambda i: -i["amount_ore"])
    text = "; ".join(f"{COMPONENT_LABELS_SV.get(i['component'], i['component'])} {format.kronor(i['amount_ore'])}"
                     for i in ordered)
    return _svg(chart, title, f"stapeldiagram, belopp per komponent: {text}")


def acg_chart(bands: list[dict]) -> str:
    """Grouped bars: share of listed persons per ACG band, the clinic against the region."""
    if not bands:
        return ""
    rows = []
    for b in bands:
        rows.append({"band": b["band"], "vem": "mottagningen", "andel": b["clinic_share"] or 0})
        rows.append({"band": b["band"], "vem": "regionen", "andel": b["region_share"] or 0})
    frame = pd.DataFrame(rows)
    chart = alt.Chart(frame, title="Andel listade per ACG-intervall").mark_bar().encode(
        x=alt.X("band:N", title="ACG-vikt", sort=[b["band"] for b in bands]),
        xOffset="vem:N",
        y=alt.Y("andel:Q", title="andel", axis=alt.Axis(format="%")),
        color=alt.Color("vem:N", title=None),
    ).properties(width=520, height=220)
    text = "; ".join(f"ACG-vikt {b['band']}: mottagningen {format.percent(b['clinic_share'] or 0)}, "
                     f"regionen {format.percent(b['region_share'] or 0)}" for b in bands)
    return _svg(chart, "Andel listade per ACG-intervall", f"stapeldiagram: {text}")


def trend_chart(items: list[dict], title: str) -> str:
    """Stacked bars: the clinic's SEK per month (up to twelve), each component in its colour
    (items: month, component, amount_ore). The text alternative gives each month's total."""
    if not items:
        return ""
    components = sorted({i["component"] for i in items})
    labels = [COMPONENT_LABELS_SV.get(c, c) for c in components]
    frame = pd.DataFrame({
        "månad": [i["month"] for i in items],
        "komponent": [COMPONENT_LABELS_SV.get(i["component"], i["component"]) for i in items],
        # The bar's length only (a picture): the exact amounts are in the text and the tables.
        "kronor": [i["amount_ore"] / 100 for i in items],
    })
    scale = alt.Scale(domain=labels, range=[colour(c) for c in components])
    months = sorted({i["month"] for i in items})
    chart = alt.Chart(frame, title=title).mark_bar().encode(
        x=alt.X("månad:N", title=None, sort=months),
        y=alt.Y("sum(kronor):Q", title="kronor", axis=alt.Axis(labelExpr="replace(format(datum.value, ',.0f'), /,/g, ' ')")),
        color=alt.Color("komponent:N", scale=scale, legend=alt.Legend(title=None, orient="bottom", columns=2)),
        tooltip=["månad", "komponent"],
    ).properties(width=520, height=240)
    totals = {m: sum(i["amount_ore"] for i in items if i["month"] == m) for m in months}  # ≤ 12 months
    text = "; ".join(f"{m} {format.kronor(t)}" for m, t in totals.items())
    return _svg(chart, title, f"staplat stapeldiagram, summa per månad: {text}")
