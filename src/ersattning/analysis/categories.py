"""Statement components → the report's categories (seed 003 §4.2, §5): age, CNI, ACG, home care, …

Each component declares its category in its `component.yaml` (the rulebook checks that the
category lies in the component's statement group), so that a component added to the rulebook
appears in the report without a code change.
"""

from __future__ import annotations

from ersattning.rulebook.components import CATEGORY_GROUP, packaged_components
from ersattning.rulebook.loader import Rulebook

#: The report's categories in its order; `fixed` ones make up capitation (kapitering).
CATEGORIES = tuple(CATEGORY_GROUP)
FIXED = tuple(c for c, g in CATEGORY_GROUP.items() if g == "fixed")
VARIABLE = tuple(c for c, g in CATEGORY_GROUP.items() if g == "variable")
GOAL = tuple(c for c, g in CATEGORY_GROUP.items() if g == "goal")
LABELS = {
    "age": "Age", "cni": "CNI", "acg": "ACG", "home_care": "Home care (enrolled)",
    "on_call_health_promotion": "On-call + health promotion", "other_fixed": "Other fixed",
    "visits": "Visits", "other_variable": "Other variable", "goal_based": "Goal-based", "adjustment": "Adjustments",
    "fixed": "Capitation (fixed)", "variable": "Variable", "total": "Total",
}


def component_categories(book: Rulebook | None = None) -> dict[str, str]:
    """Statement component → its declared report category (default: the packaged rulebook's)."""
    components = book.components if book is not None else packaged_components()
    return {name: c.category for name, c in components.items()}


def category_of(component: str, book: Rulebook | None = None) -> str:
    """The report category of a statement component, as its declaration gives it."""
    try:
        return component_categories(book)[component]
    except KeyError:
        raise KeyError(f"component {component!r} is not declared in the rulebook (rules/{component}/component.yaml)") from None


#: Base-fee products → the visit type the report shows (doctor, other staff, digital, home …).
VISIT_TYPES = {
    "VF_DR_VISIT": "doctor visit", "VF_DR_HOME": "doctor home visit", "VF_DR_PHONE": "doctor phone",
    "VF_DR_VIDEO": "doctor video", "VF_PSY_VISIT": "psychosocial visit", "VF_OTHER_VISIT": "other staff visit",
    "VF_OTHER_HOME": "other staff home visit", "VF_OTHER_PHONE": "other staff phone", "VF_OTHER_VIDEO": "other staff video",
    "VF_HOME_CARE": "home-care visit", "VF_TEAM": "team visit", "VF_GROUP_TEAM": "group team visit", "VF_GROUP": "group visit",
    "VF_BASE": "base fee (any visit)", "VF_PSYCHOLOGIST": "psychologist visit",
}


def visit_type(product_code: str) -> str:
    if product_code in VISIT_TYPES:
        return VISIT_TYPES[product_code]
    return "out-of-county visit" if product_code.startswith("UL_") else product_code


def report_group(category: str) -> str:
    """The report's sum a category adds to: fixed (capitation), variable, or the category itself."""
    group = CATEGORY_GROUP[category]
    return group if group in ("fixed", "variable") else category


def mapping_rows(components, categories: dict[str, str] | None = None) -> list[dict]:
    """The mapping as rows (component, category, group) for the components seen, for the outputs
    (`categories`: component → category, `component_categories(book)`; default the packaged rulebook's)."""
    categories = component_categories() if categories is None else categories
    return [
        {"component": c, "category": categories[c], "group": report_group(categories[c])}
        for c in sorted(set(components))
    ]
