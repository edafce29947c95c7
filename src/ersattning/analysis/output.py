"""Everything `ersattning analyze` writes: the tables (CSV and one XLSX) and report.html.

Outputs hold clinic ids, area codes and sums only: never a person number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ersattning.analysis import measures, need
from ersattning.analysis.calibration import calibration_table
from ersattning.analysis.categories import mapping_rows
from ersattning.analysis.core import Analysis
from ersattning.analysis.report import report_html
from ersattning.analysis.scenarios import budget, compare

#: Files (name → table key) in the order they are written and in the XLSX.
CSV_FILES = {
    "shares.csv": "shares", "categories.csv": "categories", "visit_types.csv": "visit_types", "clinics.csv": "clinics",
    "areas.csv": "areas", "production.csv": "production", "concentration.csv": "concentration",
    "correlations.csv": "correlations", "components.csv": "components", "calibration.csv": "calibration",
    "budget.csv": "budget", "neutral.csv": "neutral", "reform_bands.csv": "reform_bands",
    "reform_clinics.csv": "reform_clinics", "reform_areas.csv": "reform_areas", "reform_deciles.csv": "reform_deciles",
    "need.csv": "need", "need_concentration.csv": "need_concentration", "case_mix.csv": "case_mix",
}

#: A scenario's tables side by side with the base's: the columns naming a row; every other
#: column X becomes X_base, X_scenario and X_difference (scenario − base).
KEYS = {
    "shares": ["year", "component", "category"],
    "categories": ["year", "category", "label"],
    "visit_types": ["year", "visit_type"],
    "clinics": ["year", "clinic_id", "name", "area_code"],
    "areas": ["year", "area_code", "name", "income_sek", "category"],
    "production": ["year", "area_code", "name"],
    "concentration": ["year", "perspective", "category"],
    "correlations": ["year", "perspective", "category_a", "category_b"],
    "need": ["year", "area_code", "name", "income_sek"],
    "need_concentration": ["year", "measure"],
}
#: Amounts a run without the row pays 0 of (shares and ratios stay empty).
_AMOUNTS = {"amount_sek", "listing_sek", "residence_sek", "produced", "consumed", *measures.CATEGORIES, *measures.SUMS}


def run_tables(a: Analysis) -> dict[str, pd.DataFrame]:
    """Every output table of one analysis (one run)."""
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
    }
    out["calibration"] = pd.DataFrame(calibration_table(a, out))  # the figures from the tables above
    if a.need_cells is not None:  # with `need` (analyze --need): need-standardised pay by area and its concentration index
        out["need"] = need.need_table(a, out["areas"])
        out["need_concentration"] = need.need_concentration(a, out["need"])
    return out


def side_by_side(base: pd.DataFrame, scenario: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One table of two runs: for every value column X, X_base, X_scenario, X_difference."""
    values = [c for c in scenario.columns if c not in keys]
    m = base.merge(scenario, on=keys, how="outer", suffixes=("_base", "_scenario"), indicator=True)
    for v in values:
        for run, missing in (("base", "right_only"), ("scenario", "left_only")):
            if v in _AMOUNTS:
                m.loc[m._merge == missing, f"{v}_{run}"] = 0.0
        if pd.api.types.is_numeric_dtype(m[f"{v}_scenario"]) and pd.api.types.is_numeric_dtype(m[f"{v}_base"]):
            m[f"{v}_difference"] = m[f"{v}_scenario"] - m[f"{v}_base"]
        elif not len(m):  # an empty table (e.g. no areas with an income) keeps the same columns
            m[f"{v}_difference"] = pd.Series(dtype=float)
    cols = keys + [f"{v}_{run}" for v in values for run in ("base", "scenario", "difference") if f"{v}_{run}" in m]
    return m[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def calibration_side_by_side(base: pd.DataFrame, scenario: pd.DataFrame) -> pd.DataFrame:
    """The report's figures against the base run (the rulebook in force, which the report
    describes) and the scenario run, each with its own check."""
    keys = ["key", "figure", "report", "tolerance", "source"]
    m = base[keys + ["engine", "status"]].merge(scenario[["key", "engine", "status"]], on="key", suffixes=("_base", "_scenario"))
    m["engine_difference"] = m.engine_scenario - m.engine_base
    return m[["key", "figure", "report", "tolerance", "engine_base", "status_base", "engine_scenario", "status_scenario",
              "engine_difference", "source"]]


def tables(a: Analysis, base: Analysis | None = None, neutral: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every output table of analysis `a`; with `base`, `a` is the scenario: every table holds
    base, scenario and difference side by side, with the budget effect, winners and losers
    (and, for a budget-neutral reform, `neutral`: the factor and the rescaled rate). The two
    runs' own tables are under `runs` ({"base": …, "scenario": …}) for the report's charts."""
    if base is None:
        return run_tables(a)
    runs = {"base": run_tables(base), "scenario": run_tables(a)}
    out: dict = {key: side_by_side(runs["base"][key], runs["scenario"][key], keys) for key, keys in KEYS.items()
                 if key in runs["base"] and key in runs["scenario"]}
    out["components"] = pd.DataFrame(mapping_rows(sorted(set(a.lines["component"].to_pylist()) | set(base.lines["component"].to_pylist())),
                                                  {**measures.categories_of(base), **measures.categories_of(a)}))
    out["calibration"] = calibration_side_by_side(runs["base"]["calibration"], runs["scenario"]["calibration"])
    out["budget"] = budget(base, a)
    if neutral is not None:
        out["neutral"] = neutral
    diff = compare(base, a)
    out.update({"reform_clinics": diff["clinics"], "reform_areas": diff["areas"], "reform_deciles": diff["deciles"],
                "reform_bands": diff["bands"]})
    out["runs"] = runs
    return out


#: How floats are written: SEK with two decimals; indices and correlations with six digits;
#: the neutral factor and totals with all their digits.
_FORMATS = {"concentration": "%.6g", "correlations": "%.6g", "calibration": "%.6g", "neutral": "%.15g"}
#: need.csv with six decimals (its ratio; its money is in öre), the index and case mix with six digits.
_FORMATS.update({"need": "%.6f", "need_concentration": "%.6g", "case_mix": "%.6g"})


def write_outputs(out: dict[str, pd.DataFrame], folder: Path, title: str, notes: list[str], lang: str = "sv") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, key in CSV_FILES.items():
        if key in out:
            path = folder / name
            out[key].to_csv(path, index=False, float_format=_FORMATS.get(key, "%.2f"))
            written.append(path)
    xlsx = folder / "analysis.xlsx"
    write_xlsx(out, xlsx, lang)
    written.append(xlsx)
    page = folder / "report.html"
    page.write_text(report_html(out, title=title, notes=notes, lang=lang), encoding="utf-8")
    written.append(page)
    return written


def _kind(column: str) -> str | None:
    """How a column's numbers are shown in the workbook: percent, SEK, a count, or as they are."""
    stem = re.sub(r"_(base|scenario|difference)$", "", column)
    if "share" in stem or stem.endswith("_pct"):
        return "percent"
    if stem.endswith("_sek") or stem in measures.CATEGORIES or stem in measures.SUMS:
        return "sek"
    if stem.endswith("_ore") or stem in ("residents", "listed", "produced", "consumed", "count", "persons", "areas"):
        return "count"
    return None


def write_xlsx(out: dict[str, pd.DataFrame], path: Path, lang: str = "sv") -> None:
    """Every table a sheet, headings in `lang`; percent cells as fractions with a percent format
    (the CSVs hold percents as numbers 0–100), SEK as `#,##0.00`, counts as `#,##0`."""
    from ersattning.analysis.language import category_labels, column, value_sv

    labels = category_labels(lang)
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        formats = {"percent": writer.book.add_format({"num_format": "0.0%"}),
                   "sek": writer.book.add_format({"num_format": "#,##0.00"}),
                   "count": writer.book.add_format({"num_format": "#,##0"})}
        for name, key in CSV_FILES.items():
            if key not in out:
                continue
            df = out[key].copy()
            kinds = {c: _kind(c) if pd.api.types.is_numeric_dtype(df[c]) else None for c in df.columns}
            for c, k in kinds.items():
                if k == "percent":
                    df[c] = df[c] / 100.0
            if lang == "sv":
                if "label" in df and "category" in df:
                    df["label"] = df["category"].map(labels).fillna(df["label"])
                # identifiers stay as they are; a category key beside its label too
                kept = {"name", "clinic_id", "area_code", "component", "key", "source", "label"} | ({"category"} if "label" in df else set())
                for c in df.columns:
                    if (df[c].dtype == object or pd.api.types.is_string_dtype(df[c])) and c not in kept:
                        # the same words as report.html's cells (a category key by its label)
                        df[c] = df[c].map(lambda v, c=c: value_sv(c, v) if isinstance(v, str) else v)
            df.columns = [column(c, lang) for c in df.columns]
            sheet = name.removesuffix(".csv")[:31]
            df.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            for i, (c, k) in enumerate(kinds.items()):
                ws.set_column(i, i, max(10, len(column(c, lang)) + 2), formats.get(k))
