"""The report's tables from an `Analysis`: shares by component and category, per clinic, per
area (listing and residence perspectives), production vs consumption, concentration index
over areas ranked by income (with its standard error), correlations between components.

These work on small aggregated tables (years × clinics or areas × components), never on persons.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ersattning.analysis.categories import CATEGORIES, FIXED, LABELS, VARIABLE, component_categories, visit_type
from ersattning.analysis.core import Analysis

#: Categories and the three sums the report's concentration index is shown for (Figure 16).
SUMS = ("fixed", "variable", "total")


def _sek(ore) -> pd.Series:
    return ore / 100.0


def categories_of(a: Analysis) -> dict[str, str]:
    """Component → report category as the analysis's rulebook declares them."""
    return a.categories or component_categories()


def _with_category(df: pd.DataFrame, a: Analysis) -> pd.DataFrame:
    df = df.copy()
    declared = categories_of(a)
    undeclared = sorted(set(df["component"]) - set(declared))
    if undeclared:
        raise KeyError(f"components the rulebook does not declare (rules/COMPONENT/component.yaml): {', '.join(undeclared)}")
    df["category"] = df["component"].map(declared)
    return df


def shares(a: Analysis) -> pd.DataFrame:
    """shares.csv: year, component, amount_sek, share_of_total, share_of_capitation (%), then the report category."""
    df = _with_category(a.lines.to_pandas(), a)
    g = df.groupby(["year", "component", "category"], as_index=False)["amount_ore"].sum()
    total = g.groupby("year")["amount_ore"].transform("sum")
    cap = g.assign(f=np.where(g.category.isin(FIXED), g.amount_ore, 0)).groupby("year")["f"].transform("sum")
    out = pd.DataFrame({
        "year": g.year, "component": g.component, "amount_sek": _sek(g.amount_ore),
        "share_of_total": 100.0 * g.amount_ore / total,
        "share_of_capitation": np.where(g.category.isin(FIXED), 100.0 * g.amount_ore / cap.where(cap != 0), np.nan),
        "category": g.category,
    })
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return out.assign(_o=out.category.map(order)).sort_values(["year", "_o", "component"]).drop(columns="_o").reset_index(drop=True)


def categories(a: Analysis) -> pd.DataFrame:
    """The report's categories by year: amount, shares of total and of capitation, per listed and per inhabitant."""
    s = shares(a)
    g = s.groupby(["year", "category"], as_index=False)[["amount_sek", "share_of_total"]].sum()
    cap = g[g.category.isin(FIXED)].groupby("year")["amount_sek"].sum()
    g["share_of_capitation"] = np.where(g.category.isin(FIXED), 100.0 * g.amount_sek / g.year.map(cap), np.nan)
    pop = a.population.to_pandas().groupby("year")[["residents", "listed"]].sum()
    g["per_listed_sek"] = g.amount_sek / g.year.map(pop.listed)
    g["per_inhabitant_sek"] = g.amount_sek / g.year.map(pop.residents)
    g["label"] = g.category.map(LABELS)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return g.assign(_o=g.category.map(order)).sort_values(["year", "_o"]).drop(columns="_o").reset_index(drop=True)


def groups(a: Analysis) -> pd.DataFrame:
    """Capitation (fixed), variable and total by year, with shares of the total."""
    c = categories(a)
    rows = []
    for year, part in c.groupby("year"):
        total = part.amount_sek.sum()
        for name, cats in (("fixed", FIXED), ("variable", VARIABLE), ("goal_based", ("goal_based",)), ("total", CATEGORIES)):
            amount = part[part.category.isin(cats)].amount_sek.sum()
            rows.append({"year": year, "group": name, "amount_sek": amount, "share_of_total": 100.0 * amount / total if total else np.nan})
    return pd.DataFrame(rows)


def visit_types(a: Analysis) -> pd.DataFrame:
    """Base visit pay by visit type (product) and year: the report's 'visits by type'."""
    df = a.lines.to_pandas()
    df = df[df.component.isin(["visit_fee", "visit_out_of_county"])]
    df = df.assign(visit_type=df.product_code.map({p: visit_type(p) for p in df.product_code.unique()}))
    g = df.groupby(["year", "visit_type"], as_index=False)["amount_ore"].sum()
    total = a.lines.to_pandas().groupby("year")["amount_ore"].sum()
    g["amount_sek"] = _sek(g.amount_ore)
    g["share_of_total"] = 100.0 * g.amount_ore / g.year.map(total)
    return g.drop(columns="amount_ore")


def _wide(df: pd.DataFrame, index: list[str], value: str) -> pd.DataFrame:
    w = df.pivot_table(index=index, columns="category", values=value, aggfunc="sum", fill_value=0.0)
    for c in CATEGORIES:
        if c not in w:
            w[c] = 0.0
    w = w[list(CATEGORIES)]
    w["fixed"] = w[list(FIXED)].sum(axis=1)
    w["variable"] = w[list(VARIABLE)].sum(axis=1)
    w["total"] = w[list(CATEGORIES)].sum(axis=1)
    return w


def clinic_table(a: Analysis) -> pd.DataFrame:
    """Per clinic and year: SEK by category, total, listed persons (mean of month-ends), per listed."""
    df = _with_category(a.lines.to_pandas(), a)
    w = _sek(_wide(df, ["year", "clinic_id"], "amount_ore")).reset_index()
    listed = _clinic_listed(a)
    w = w.merge(a.clinics.to_pandas(), on="clinic_id", how="left").merge(listed, on=["year", "clinic_id"], how="left")
    w["listed"] = w["listed"].fillna(0.0)
    w["total_per_listed_sek"] = np.where(w.listed > 0, w.total / w.listed.where(w.listed > 0), np.nan)
    w["fixed_share"] = 100.0 * w.fixed / w.total.where(w.total != 0)
    cols = ["year", "clinic_id", "name", "area_code", "listed", *CATEGORIES, *SUMS, "total_per_listed_sek", "fixed_share"]
    return w[cols].sort_values(["year", "clinic_id"]).reset_index(drop=True)


def _clinic_listed(a: Analysis) -> pd.DataFrame:
    if a.clinic_listed is None:
        return pd.DataFrame({"year": [], "clinic_id": [], "listed": []})
    return a.clinic_listed.to_pandas()


def area_table(a: Analysis) -> pd.DataFrame:
    """areas.csv (long: one row per year, area and category, plus fixed/variable/total):
    listing perspective (pay for listed residents, by where they live, per listed person) and
    residence perspective (all pay for residents' care, unlisted included, per inhabitant)."""
    al = _with_category(a.allocated.to_pandas(), a)
    al = al[al.area_code.notna()]
    # summed in whole öre (exact), then shown in SEK: equal inputs give exactly equal sums
    listing = _sek(_wide(al[al.listed], ["year", "area_code"], "amount_ore")).stack().rename("listing_sek")
    residence = _sek(_wide(al, ["year", "area_code"], "amount_ore")).stack().rename("residence_sek")
    df = pd.concat([listing, residence], axis=1).fillna(0.0).reset_index()
    pop = a.population.to_pandas()
    areas = a.areas.to_pandas()
    df = df.merge(pop, on=["year", "area_code"], how="left").merge(areas[["area_code", "name", "income_sek"]], on="area_code", how="left")
    df["unlisted_share"] = 100.0 * (1 - df.listed / df.residents.where(df.residents > 0))
    df["per_listed_sek"] = df.listing_sek / df.listed.where(df.listed > 0)
    df["per_inhabitant_sek"] = df.residence_sek / df.residents.where(df.residents > 0)
    cols = ["year", "area_code", "name", "income_sek", "residents", "listed", "unlisted_share", "category",
            "listing_sek", "per_listed_sek", "residence_sek", "per_inhabitant_sek"]
    return df[cols].sort_values(["year", "area_code", "category"]).reset_index(drop=True)


def production(a: Analysis) -> pd.DataFrame:
    """Base visits by area: produced (at clinics in the area) vs consumed (by its residents), seed 003 Figure 11."""
    v = a.visits.to_pandas().merge(a.clinics.to_pandas()[["clinic_id", "area_code"]], on="clinic_id", how="left")
    produced = v.groupby(["year", "area_code"])["n"].sum().rename("produced")
    consumed = v[v.patient_area.notna()].groupby(["year", "patient_area"])["n"].sum().rename("consumed")
    consumed.index = consumed.index.set_names(["year", "area_code"])
    df = pd.concat([produced, consumed], axis=1).fillna(0).reset_index()
    df = df.merge(a.areas.to_pandas()[["area_code", "name"]], on="area_code", how="left")
    df["produced_per_consumed"] = df.produced / df.consumed.where(df.consumed > 0)
    pop = a.population.to_pandas()
    df = df.merge(pop[["year", "area_code", "residents"]], on=["year", "area_code"], how="left")
    df["consumed_per_inhabitant"] = df.consumed / df.residents.where(df.residents > 0)
    return df[["year", "area_code", "name", "produced", "consumed", "produced_per_consumed", "consumed_per_inhabitant"]]


def concentration_index(y, w, rank) -> tuple[float, float]:
    """Concentration index of `y` (e.g. pay per person) over groups ranked by `rank` (mean
    income), groups weighted by `w` (persons), with its standard error.

    C = (2/μ) Σ fₜ yₜ Rₜ − 1, where fₜ are population shares, μ = Σ fₜ yₜ and Rₜ the fractional
    rank (persons in poorer groups plus half the group's own). C < 0: more to poorer areas.
    Standard error: Kakwani, Wagstaff & van Doorslaer (1997), grouped data, between-group
    term with n = number of groups: var = (1/n)[Σ fₜ aₜ² − (1 + C)²], aₜ = (yₜ/μ)(2Rₜ − 1 − C)
    + 2 − qₜ₋₁ − qₜ, qₜ the Lorenz ordinate (cumulative share of y) at group t.
    """
    y, w, rank = (np.asarray(v, dtype=float) for v in (y, w, rank))
    keep = np.isfinite(y) & np.isfinite(w) & np.isfinite(rank) & (w > 0)
    y, w, rank = y[keep], w[keep], rank[keep]
    order = np.argsort(rank, kind="stable")
    y, f = y[order], w[order] / w[order].sum()
    mu = float((f * y).sum())
    if len(y) < 2 or mu == 0:
        return math.nan, math.nan
    R = np.cumsum(f) - f / 2
    C = float(2.0 / mu * (f * y * R).sum() - 1.0)
    q = np.cumsum(f * y) / mu
    q_prev = np.r_[0.0, q[:-1]]
    a_t = (y / mu) * (2 * R - 1 - C) + 2 - q_prev - q
    var = ((f * a_t ** 2).sum() - (1 + C) ** 2) / len(y)
    return C, math.sqrt(max(var, 0.0))


def concentration(a: Analysis) -> pd.DataFrame:
    """concentration.csv: year, perspective, category, index, std_error, areas (ranked by mean income)."""
    areas = area_table(a)
    areas = areas[areas.income_sek.notna()]
    rows = []
    for (year, category), part in areas.groupby(["year", "category"]):
        for perspective, y, w in (("listing", "per_listed_sek", "listed"), ("residence", "per_inhabitant_sek", "residents")):
            c, se = concentration_index(part[y], part[w], part.income_sek)
            if not math.isnan(c):
                rows.append({"year": year, "perspective": perspective, "category": category, "index": c, "std_error": se,
                             "areas": int(part[w].gt(0).sum())})
    return pd.DataFrame(rows, columns=["year", "perspective", "category", "index", "std_error", "areas"])


def correlations(a: Analysis, perspective: str = "listing") -> pd.DataFrame:
    """correlations.csv: Pearson correlations over areas between the categories' pay per listed
    person (or per inhabitant), each year (seed 003 Table 5); categories that do not vary are left out."""
    areas = area_table(a)
    value = "per_listed_sek" if perspective == "listing" else "per_inhabitant_sek"
    rows = []
    for year, part in areas.groupby("year"):
        wide = part.pivot_table(index="area_code", columns="category", values=value).dropna()
        cols = [c for c in (*CATEGORIES, *SUMS) if c in wide and wide[c].std() > 1e-9]
        m = wide[cols].corr()
        for i in cols:
            for j in cols:
                rows.append({"year": year, "perspective": perspective, "category_a": i, "category_b": j, "correlation": m.loc[i, j]})
    return pd.DataFrame(rows, columns=["year", "perspective", "category_a", "category_b", "correlation"])


def income_deciles(a: Analysis, year: int) -> pd.Series:
    """Each area's income decile (1 = poorest tenth of inhabitants), areas ranked by mean income."""
    pop = a.population.to_pandas()
    pop = pop[pop.year == year].merge(a.areas.to_pandas()[["area_code", "income_sek"]], on="area_code")
    pop = pop.sort_values(["income_sek", "area_code"])
    share = pop.residents / pop.residents.sum()
    mid = share.cumsum() - share / 2
    return pd.Series(np.minimum(10, np.floor(mid * 10).astype(int) + 1).values, index=pop.area_code.values, name="decile")
