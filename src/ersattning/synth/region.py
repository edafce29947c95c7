"""`generate`: writes a deterministic synthetic Stockholm region as the DESIGN.md input files.

Files: clinics, kombika, persons, listings, risk, home_care, goals, affiliations, the claims
medical_service and requisitions for the contact years (`synth.claims`) (and, by default,
contacts: `synth.contacts`), as CSV (header, UTF-8, ISO dates, empty = missing) or
Parquet with the same columns, all text. The same arguments always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ersattning.synth.areas import load_areas
from ersattning.synth.arrays import OPEN, day
from ersattning.synth.claims import medical_service_table, requisitions_table
from ersattning.synth.clinics import affiliations_table, clinics_table, goals_table, kombika_table, make_clinics, psy_providers
from ersattning.synth.contacts import ContactInputs, acg_from_risk, contact_tables
from ersattning.synth.listings import make_home_care, make_listings
from ersattning.synth.population import born_abroad, make_population, persons_table
from ersattning.synth.risk import risk_tables

FILES = ("clinics", "kombika", "persons", "listings", "risk", "home_care", "goals", "affiliations",
         "medical_service", "requisitions")
FORMATS = ("csv", "parquet")
# One random stream per stage, so that changing one stage leaves the others' draws alone.
# A new stage goes last: SeedSequence.spawn gives the earlier stages the same streams as before.
_STAGES = ("population", "clinics", "listings", "home_care", "risk", "kombika", "goals", "providers", "born_abroad",
           "medical_service", "requisitions")
_CSV_OPTIONS = pacsv.WriteOptions(quoting_style="none", quoting_header="none")


SAMPLE_FILE = "sample.yaml"


def write_sample(out: Path, persons: int) -> None:
    """Declare the folder a sample of the region: region-wide amounts (the pots) are then
    scaled to its size by `load`, `statements` and the demo (Rulebook.for_sample)."""
    (out / SAMPLE_FILE).write_text(
        "# A synthetic region: a sample of Stockholm county. Region-wide yearly amounts (the\n"
        "# health-promotion pots) are scaled by persons / 2 440 027 when this folder is used.\n"
        f"persons: {persons}\n",
        encoding="utf-8",
    )


def read_sample(folder: str | Path) -> int | None:
    """The sample size a synthetic input folder declares (sample.yaml), or None for real data."""
    import yaml

    path = Path(folder) / SAMPLE_FILE
    if not path.is_file():
        return None
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    persons = doc.get("persons")
    if not isinstance(persons, int) or persons < 1:
        raise ValueError(f"{path}: persons must be a positive whole number")
    return persons


def generate(out_dir: str | Path, persons: int = 50_000, seed: int = 2022, first_year: int = 2015,
             last_year: int = 2023, fmt: str = "csv", contacts: bool = True,
             contact_years: Iterable[int] | None = None) -> dict:
    """Write the synthetic region's input files into `out_dir` and return a summary.

    `persons` is the number of Stockholm county residents on 31 December of `last_year`
    (exact). Persons who lived in the county earlier in the years (deaths, out-migration),
    out-of-county persons (~0.5 % of `persons`) and reservnummer holders (~0.2 %, county
    `01` with an area but no residence dates) come on top. Risk rows cover first_year to
    last_year: one per person and year (`YYYY-01`, or the month they arrive) plus one in
    the month of a move; listings may start before first_year. Parquet columns are the
    CSV's text. A file of the other format with the same name in `out_dir` is removed, so
    that the folder holds one version of each file.

    With `contacts` (the default) it also writes `contacts` (`synth.contacts`): a year of
    care contacts for each of `contact_years` (default first_year..last_year, within them).
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if not 2005 <= first_year <= last_year <= 2099:
        # persons live to 104: everyone present must be born 1900 or later (personnummer centuries 19, 20)
        raise ValueError("need 2005 <= first_year <= last_year <= 2099")
    years = sorted(set(range(first_year, last_year + 1) if contact_years is None else contact_years)) if contacts else []
    if any(not first_year <= y <= last_year for y in years):
        raise ValueError("contact_years must lie within first_year..last_year")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = dict(zip(_STAGES, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STAGES)))))

    areas = load_areas()
    pop = make_population(rng["population"], areas, persons, first_year, last_year)
    clinics = make_clinics(rng["clinics"], areas, persons, first_year, last_year)
    listings = make_listings(rng["listings"], pop, clinics, areas, first_year, last_year)
    home_care = make_home_care(rng["home_care"], pop, clinics, listings, day(last_year, 12, 31))
    provider, affiliated_to = psy_providers(rng["providers"], clinics, last_year)

    kombika = kombika_table(rng["kombika"], clinics, provider)  # kept: the contacts are reported on it
    tables = {  # built one at a time, so that only one output table is held at once
        "clinics": lambda: clinics_table(clinics, areas),
        "kombika": lambda: kombika,
        "persons": lambda: persons_table(pop, areas, born_abroad(rng["born_abroad"], pop, areas)),
        "listings": lambda: listings.table(pop, clinics),
        "home_care": lambda: home_care.table(pop, clinics),
        # The contact years' care-guarantee share comes from the contacts' first_contact and
        # requested_on (products.goals), so goals.csv leaves it out for them.
        "goals": lambda: goals_table(rng["goals"], clinics, first_year, last_year, share_from_contacts=years),
        "affiliations": lambda: affiliations_table(clinics, affiliated_to),
        # The claims of the years with contacts (the years a demo or test computes).
        "medical_service": lambda: medical_service_table(rng["medical_service"], pop, clinics, listings, years),
        "requisitions": lambda: requisitions_table(rng["requisitions"], clinics, listings, years),
    }
    rows = {name: _write(build(), out, name, fmt) for name, build in tables.items()}
    acg: dict[int, np.ndarray] = {}

    def keep_acg(tables):  # each contact year's ACG weights, as written, scale the persons' visits
        for year, table in zip(range(first_year, last_year + 1), tables):
            if year in years:
                acg[year] = acg_from_risk(table, pop.person_id)
            yield table

    rows["risk"] = _write_stream(keep_acg(risk_tables(rng["risk"], pop, listings, areas, first_year, last_year)), out, "risk", fmt)
    if years:
        inputs = ContactInputs.from_region(pop, clinics, listings, home_care, kombika, affiliated_to, areas, acg)
        rows["contacts"] = _write_stream(contact_tables(inputs, years, seed), out, "contacts", fmt)
    else:
        for other in FORMATS:
            (out / f"contacts.{other}").unlink(missing_ok=True)

    end = day(last_year, 12, 31)
    residents = pop.resident & (pop.entry <= end) & (pop.exit >= end)
    on_end = (listings.start <= end) & (listings.end >= end)
    listed = np.zeros(len(pop), dtype=bool)
    listed[listings.person[on_end]] = True
    digital = np.zeros(len(pop), dtype=bool)
    digital[listings.person[on_end & clinics.digital[listings.clinic]]] = True
    write_sample(out, int(residents.sum()))
    return {
        "out_dir": str(out),
        "format": fmt,
        "seed": seed,
        "first_year": first_year,
        "last_year": last_year,
        "persons": int(residents.sum()),
        "persons_ever": int(len(pop)),
        "out_of_county": int((~pop.resident & ~pop.reserv).sum()),
        "reservnummer": int(pop.reserv.sum()),
        "samordningsnummer": int(pop.coordination.sum()),
        "rows": {name: rows[name] for name in (*FILES, "contacts") if name in rows},
        "contact_years": years,
        "n_clinics": len(clinics),
        "n_digital_clinics": int(clinics.digital.sum()),
        "n_new_clinics": int(clinics.new.sum()),
        "n_closed_clinics": int((clinics.closed < OPEN).sum()),
        "n_psy_providers": int(provider.sum()),
        "n_affiliated": int((affiliated_to >= 0).sum()),
        "unlisted_share": round(float(1 - (listed & residents).sum() / residents.sum()), 4),
        "digital_share": round(float((digital & residents).sum() / max(1, (listed & residents).sum())), 4),
    }


def _path(out: Path, name: str, fmt: str) -> Path:
    for other in FORMATS:
        if other != fmt:
            (out / f"{name}.{other}").unlink(missing_ok=True)
    return out / f"{name}.{fmt}"


def _write(table: pa.Table, out: Path, name: str, fmt: str) -> int:
    path = _path(out, name, fmt)
    if fmt == "csv":
        pacsv.write_csv(table, path, _CSV_OPTIONS)
    else:
        pq.write_table(table, path)
    return table.num_rows


def _write_stream(tables, out: Path, name: str, fmt: str) -> int:
    """Write a file from a sequence of tables of one schema without holding them all."""
    path = _path(out, name, fmt)
    writer, count = None, 0
    try:
        for table in tables:
            if writer is None:
                writer = pacsv.CSVWriter(path, table.schema, write_options=_CSV_OPTIONS) if fmt == "csv" \
                    else pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            count += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return count
