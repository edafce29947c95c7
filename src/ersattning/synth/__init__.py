"""A deterministic synthetic Stockholm region at any size, written as the input files (DESIGN.md).

`generate(out_dir, persons=..., seed=..., first_year=..., last_year=..., fmt="csv"|"parquet")`;
calibrated to RULES.md §9; with care contacts (`contacts`, see `synth.contacts`) by default.
`generate_contacts(ContactInputs.from_folder(dir), year, seed)` draws a year of contacts
for any folder of input files. Used by the demo, the tests and the benchmark.
"""

from ersattning.synth.areas import Areas, load_areas
from ersattning.synth.contacts import ContactInputs, generate_contacts
from ersattning.synth.region import FILES, generate

__all__ = ["Areas", "ContactInputs", "FILES", "generate", "generate_contacts", "load_areas"]
