"""statement_lines.csv and statements.csv of a stored month (the DESIGN.md output contract)."""

from __future__ import annotations

from pathlib import Path

from ersattning.export.data import MonthData
from ersattning.statements import lines_csv_table, statements_csv_table, write_csv

LINES_FILE = "statement_lines.csv"
STATEMENTS_FILE = "statements.csv"


def write_month_csv(data: MonthData, output: Path) -> list[Path]:
    """The two contract files in `output`: SEK with two decimals, the same as `ersattning statements`."""
    paths = [output / LINES_FILE, output / STATEMENTS_FILE]
    write_csv(lines_csv_table(data.lines), paths[0])
    write_csv(statements_csv_table(data.statements), paths[1])
    return paths
