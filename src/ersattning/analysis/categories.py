"""Statement components → the report's categories (seed 003 §4.2, §5): age, CNI, ACG, home care, …

A component not named here falls into its statement group's "other" category, so that
components added later (goal-based pay, caps, manual lines) appear without a code change.
"""

from __future__ import annotations

from ersattning.statements import COMPONENT_GROUP

#: The report's categories in its order; `fixed` ones make up capitation (kapitering).
CATEGORIES = (
    "age", "cni", "acg", "home_care", "on_call_health_promotion", "other_fixed",
    "visits", "other_variable", "goal_based", "adjustment",
)
FIXED = ("age", "cni", "acg", "home_care", "on_call_health_promotion", "other_fixed")
VARIABLE = ("visits", "other_variable")
LABELS = {
    "age": "Age", "cni": "CNI", "acg": "ACG", "home_care": "Home care (enrolled)",
    "on_call_health_promotion": "On-call + health promotion", "other_fixed": "Other fixed",
    "visits": "Visits", "other_variable": "Other variable", "goal_based": "Goal-based", "adjustment": "Adjustments",
    "fixed": "Capitation (fixed)", "variable": "Variable", "total": "Total",
}

COMPONENT_CATEGORY = {
    "capitation_age": "age",
    "capitation_cni": "cni",
    "capitation_acg": "acg",
    "capitation_home_care": "home_care",
    "capitation_on_call": "on_call_health_promotion",
    "health_promotion": "on_call_health_promotion",
    "capitation_child_mental_health": "other_fixed",
    "capitation_sick_leave_coordination": "other_fixed",
    "visit_fee": "visits",
    "visit_out_of_county": "visits",
    "goal_quality": "goal_based",
    "goal_care_guarantee": "goal_based",
    "penalty_quality": "goal_based",
    "penalty_no_out_of_hours": "goal_based",
    "adjustment": "adjustment",
}
_GROUP_FALLBACK = {"fixed": "other_fixed", "variable": "other_variable", "goal": "goal_based", "adjustment": "adjustment"}

#: Base-fee products → the visit type the report shows (doctor, other staff, digital, home …).
VISIT_TYPES = {
    "VF_DR_VISIT": "doctor visit", "VF_DR_HOME": "doctor home visit", "VF_DR_PHONE": "doctor phone",
    "VF_DR_VIDEO": "doctor video", "VF_PSY_VISIT": "psychosocial visit", "VF_OTHER_VISIT": "other staff visit",
    "VF_OTHER_HOME": "other staff home visit", "VF_OTHER_PHONE": "other staff phone", "VF_OTHER_VIDEO": "other staff video",
    "VF_HOME_CARE": "home-care visit", "VF_TEAM": "team visit", "VF_GROUP_TEAM": "group team visit", "VF_GROUP": "group visit",
    "VF_BASE": "base fee (any visit)", "VF_PSYCHOLOGIST": "psychologist visit",
}


def category_of(component: str) -> str:
    """The report category of a statement component (unknown ones by their statement group)."""
    if component in COMPONENT_CATEGORY:
        return COMPONENT_CATEGORY[component]
    if component.startswith("capitation_"):
        return "other_fixed"
    return _GROUP_FALLBACK.get(COMPONENT_GROUP.get(component, "variable"), "other_variable")


def visit_type(product_code: str) -> str:
    if product_code in VISIT_TYPES:
        return VISIT_TYPES[product_code]
    return "out-of-county visit" if product_code.startswith("UL_") else product_code


def mapping_rows(components) -> list[dict]:
    """The mapping as rows (component, category, group) for the components seen, for the outputs."""
    return [
        {"component": c, "category": category_of(c), "group": "fixed" if category_of(c) in FIXED else
         "variable" if category_of(c) in VARIABLE else category_of(c)}
        for c in sorted(set(components))
    ]
