"""Charts rendered on the server (altair → vl-convert → inline SVG): nothing is fetched by the browser."""

from __future__ import annotations

import threading

import altair as alt
import pandas as pd

from ersattning.statements import COMPONENT_LABELS_SV

GROUP_LABELS_SV = {"fixed": "Fast", "variable": "Rörlig", "goal": "Målrelaterad", "adjustment": "Justering"}

_LOCK = threading.Lock()
_VL_VERSION = "_".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])  # the schema altair writes  # vl-convert's renderer is shared; one chart at a time


def _svg(chart: alt.Chart) -> str:
    import vl_convert as vlc

    with _LOCK:
        svg = vlc.vegalite_to_svg(chart.to_json(), vl_version=_VL_VERSION)
    # Drop the XML prolog so the SVG can sit inline in the page.
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def components_chart(items: list[dict], title: str) -> str:
    """Horizontal bars: SEK per component (items: component, amount_ore, group)."""
    if not items:
        return ""
    frame = pd.DataFrame({
        "komponent": [COMPONENT_LABELS_SV.get(i["component"], i["component"]) for i in items],
        "kronor": [i["amount_ore"] / 100 for i in items],
        "grupp": [GROUP_LABELS_SV.get(i.get("group", ""), i.get("group", "")) for i in items],
    })
    chart = alt.Chart(frame, title=title).mark_bar().encode(
        x=alt.X("kronor:Q", title="SEK"),
        y=alt.Y("komponent:N", sort="-x", title=None),
        color=alt.Color("grupp:N", title="grupp"),
        tooltip=["komponent", "kronor"],
    ).properties(width=520, height=max(80, 22 * len(items)))
    return _svg(chart)


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
    return _svg(chart)
