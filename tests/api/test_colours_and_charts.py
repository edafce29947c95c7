"""One colour per component (api/colours.py), used by the charts; charts carry a title and a text
alternative a screen reader reads."""

from __future__ import annotations

from ersattning.api import charts
from ersattning.api.colours import COMPONENT_COLOURS, UNKNOWN, colour, contrast
from ersattning.statements import COMPONENT_LABELS_SV


def test_every_component_has_its_own_colour_with_enough_contrast():
    assert set(COMPONENT_COLOURS) == set(COMPONENT_LABELS_SV)
    assert len(set(COMPONENT_COLOURS.values())) == len(COMPONENT_COLOURS)
    assert UNKNOWN not in COMPONENT_COLOURS.values() and colour("no_such_component") == UNKNOWN
    assert min(contrast(c) for c in COMPONENT_COLOURS.values()) >= 3  # WCAG 2.1 non-text contrast
    assert round(contrast("#000000"), 1) == 21.0 and contrast("#ffffff") == 1


def test_a_chart_draws_each_component_in_its_colour_with_a_title_and_a_text_alternative():
    items = [{"component": "visit_fee", "amount_ore": 123456, "group": "variable"},
             {"component": "capitation_age", "amount_ore": -500, "group": "fixed"}]
    svg = charts.components_chart(items, "A1 2022-03: ersättning per komponent")
    opening = svg[:svg.index(">")]
    assert 'role="img"' in opening and 'aria-label="A1 2022-03: ersättning per komponent: ' in opening
    assert "<title>A1 2022-03: ersättning per komponent</title>" in svg
    desc = svg[svg.index("<desc>"):svg.index("</desc>")]
    assert "Besöksersättning 1\u00a0234,56\u00a0kr" in desc and "\u22125,00\u00a0kr" in desc
    for item in items:
        assert colour(item["component"]) in svg.lower()
    # The same component keeps its colour in a chart of other components.
    other = charts.components_chart([items[0], {"component": "collaboration", "amount_ore": 1, "group": "adjustment"}], "t")
    assert colour("visit_fee") in other.lower()
