"""The rulebook: dated parameters loaded from YAML (OpenFisca layout), reform overlays.

`load()` reads and checks every file under `rules/`; `Rulebook.at(date)` gives the values
in force on a date; `Rulebook.with_reform(path)` overlays a reform file checked whole.
"""

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

__all__ = ["FACTS", "KINDS", "UNITS", "Parameter", "Rulebook", "Value", "default_rules_dir", "load"]
