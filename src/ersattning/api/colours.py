"""One colour per component, defined once: the charts, the admin's clinic table and every page use
this map, so a component keeps its colour across months and pages."""

from __future__ import annotations

import colorsys

from ersattning.statements import COMPONENT_LABELS_SV

UNKNOWN = "#5a6675"  # a component the packaged rulebook does not declare: neutral grey
# The golden angle spreads any number of hues so that neighbours in the list differ clearly;
# each hue is darkened until it reaches its contrast against white: at least 3:1 (WCAG 2.1
# non-text contrast, for bars and swatches beside their label), in three steps so that two
# components of a similar hue still differ in lightness.
_GOLDEN = 0.381966
_SATURATION = 0.7
_CONTRASTS = (3.2, 5.0, 8.0)


def _hex(index: int) -> str:
    hue, lightness = (index * _GOLDEN) % 1.0, 0.6
    target = _CONTRASTS[(index // 11) % len(_CONTRASTS)]
    while True:
        r, g, b = colorsys.hls_to_rgb(hue, lightness, _SATURATION)
        text = "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in (r, g, b)))
        if contrast(text) >= target:
            return text
        lightness -= 0.005


def colour(component: str) -> str:
    return COMPONENT_COLOURS.get(component, UNKNOWN)


def _luminance(hex_colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


#: component -> colour; by the components' sorted ids, so the map does not depend on the month shown.
COMPONENT_COLOURS: dict[str, str] = {c: _hex(i) for i, c in enumerate(sorted(COMPONENT_LABELS_SV))}
