"""Everything `ersattning analyze` writes: the tables (CSV and one XLSX) and report.html.

Outputs hold clinic ids, area codes and sums only: never a person number.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ersattning.analysis import measures
from ersattning.analysis.calibration import calibration_table
from ersattning.analysis.categories import mapping_rows
from ersattning.analysis.core import Analysis
from ersattning.analysis.report import report_html
from ersattning.analysis.scenarios import compare

#: Files (name → table key) in the order they are written and in the XLSX.
CSV_FILES = {
    "shares.csv": "shares", "categories.csv": "categories", "visit_types.csv": "visit_types", "clinics.csv": "clinics",
    "areas.csv": "areas", "production.csv": "production", "concentration.csv": "concentration",
    "correlations.csv": "correlations", "components.csv": "components", "calibration.csv": "calibration",
    "reform_clinics.csv": "reform_clinics", "reform_areas.csv": "reform_areas", "reform_deciles.csv": "reform_deciles",
}


def tables(a: Analysis, base: Analysis | None = None) -> dict[str, pd.DataFrame]:
    """Every output table of analysis `a`; with `base`, the reform's differences from it."""
    out = {
        "shares": measures.shares(a),
        "categories": measures.categories(a),
        "visit_types": measures.visit_types(a),
        "clinics": measures.clinic_table(a),
        "areas": measures.area_table(a),
        "production": measures.production(a),
        "concentration": measures.concentration(a),
        "correlations": measures.correlations(a),
        "components": pd.DataFrame(mapping_rows(a.lines["component"].to_pylist(), measures.categories_of(a))),
        # the report's figures are of the rulebook in force: for a scenario, of its base run
        "calibration": pd.DataFrame(calibration_table(base if base is not None else a)),
    }
    if base is not None:
        diff = compare(base, a)
        out.update({"reform_clinics": diff["clinics"], "reform_areas": diff["areas"], "reform_deciles": diff["deciles"]})
    return out


def write_outputs(out: dict[str, pd.DataFrame], folder: Path, title: str, notes: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, key in CSV_FILES.items():
        if key in out:
            path = folder / name
            out[key].to_csv(path, index=False, float_format="%.6g" if key in ("concentration", "correlations", "calibration") else "%.2f")
            written.append(path)
    xlsx = folder / "analysis.xlsx"
    with pd.ExcelWriter(xlsx, engine="xlsxwriter") as writer:
        for name, key in CSV_FILES.items():
            if key in out:
                out[key].to_excel(writer, sheet_name=name.removesuffix(".csv")[:31], index=False)
    written.append(xlsx)
    page = folder / "report.html"
    page.write_text(report_html(out, title=title, notes=notes), encoding="utf-8")
    written.append(page)
    return written
