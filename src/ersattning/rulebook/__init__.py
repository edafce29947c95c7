"""The rulebook: dated parameters loaded from YAML (OpenFisca layout), reform overlays.

`load()` reads and checks every file under `rules/`; `Rulebook.at(date)` gives the values
in force on a date; `apply_reform(book, path)` overlays a reform file checked whole
(`reform.check_reform`: every problem at once); `Rulebook.components` holds the components
declared in `rules/COMPONENT/component.yaml`; `catalogue` lists and shows the parameters.
"""

from ersattning.rulebook.components import (
    CATEGORY_GROUP,
    Component,
    Product,
    band_code,
    packaged_components,
)

from ersattning.rulebook.loader import (
    FACTS,
    KINDS,
    UNITS,
    Parameter,
    Rulebook,
    Value,
    default_rules_dir,
    load,
)
from ersattning.rulebook.catalogue import UnknownParameter, parameter_detail, parameter_list
from ersattning.rulebook.reform import Problem, ReformError, apply_reform, check_reform

__all__ = ["apply_reform", "CATEGORY_GROUP", "Component", "Product", "band_code", "packaged_components", "FACTS", "KINDS", "UNITS", "Parameter", "Rulebook", "Value", "default_rules_dir", "load",
           "UnknownParameter", "parameter_detail", "parameter_list", "Problem", "ReformError", "check_reform"]
