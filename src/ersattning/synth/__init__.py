"""A deterministic synthetic Stockholm region at any size, written as the input files (DESIGN.md).

`generate(out_dir, persons=..., seed=..., first_year=..., last_year=..., fmt="csv"|"parquet")`;
calibrated to RULES.md §9. Used by the demo, the tests and the benchmark.
"""

from ersattning.synth.areas import Areas, load_areas
from ersattning.synth.region import FILES, generate

__all__ = ["Areas", "FILES", "generate", "load_areas"]
