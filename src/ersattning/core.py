"""The one entry point every interface calls (CLI, API, web pages, demo, tests): a database and
the rulebook that applies to it, decided once, with the operations on them.

`Core` opens the database, decides which rulebook applies (base, a reform file, the rules as of
a date, scaled to a sample of the region) and offers load, run (a range of months; one month is
a range of one, a whole year takes the shared year path), manual lines and the trace. A month
stores the rulebook it was computed with; the trace of its lines reads exactly that one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ersattning import rulebook as rulebook_mod
from ersattning import store
from ersattning.engine import Engine
from ersattning.jobs import job
from ersattning.period import months_of, next_month
from ersattning.rulebook.loader import Rulebook
from ersattning.statements import MonthResult, compute_year

#: progress(done, total, text): called after each step of a long operation.
Progress = Callable[[int, int, str], None]


@dataclass
class MonthRun:
    """What running one month did: its status after the run and its lines (None: issued before, unchanged)."""

    month: str
    status: str
    result: MonthResult | None


def choose_rulebook(reform: str | Path | None = None, as_of: dt.date | None = None, sample_persons: int | None = None,
                    base: Rulebook | None = None) -> Rulebook:
    """The one rule for which rulebook applies: the base (the packaged rulebook, or `base`), with a
    reform file overlaid or frozen as of a date, then scaled to a sample of `sample_persons` of
    the region (its region-wide pots shared in proportion; a reform's pots are scaled too)."""
    if reform is not None and as_of is not None:
        raise ValueError("a reform file or the rules as of a date, not both")
    book = base or rulebook_mod.load()
    if reform is not None:
        book = rulebook_mod.apply_reform(book, reform)
    elif as_of is not None:
        book = book.frozen_at(as_of)
    return book.for_sample(sample_persons) if sample_persons else book


class Core:
    """A database (an `Engine`) and the rulebook that applies to it."""

    def __init__(self, engine: Engine, *, reform: str | Path | None = None, as_of: dt.date | None = None,
                 base: Rulebook | None = None, compute: Callable[[str, Rulebook], MonthResult] | None = None):
        if reform is not None and as_of is not None:
            raise ValueError("a reform file or the rules as of a date, not both")
        self.engine = engine
        self.reform = Path(reform) if reform is not None else None
        self.as_of = as_of
        self._base = base
        self._chosen: Rulebook | None = None
        self._book: Rulebook | None = None
        #: computes a month's engine lines elsewhere (on Spark: ersattning.spark); they are stored
        #: here with the manual and adjustment lines, as every month is
        self.compute = compute

    @classmethod
    def open(cls, db: str | Path, **options) -> "Core":
        """The core on a database file (created with its tables when missing)."""
        return cls(store.open_engine(db), **options)

    # --- the rulebook that applies ----------------------------------------------------------

    @property
    def chosen(self) -> Rulebook:
        """The rulebook chosen by the options, before sample scaling: base, reform or as of a date."""
        if self._chosen is None:
            self._chosen = choose_rulebook(self.reform, self.as_of, base=self._base)
        return self._chosen

    @property
    def book(self) -> Rulebook:
        """The rulebook a month computed now is computed with: the chosen one, scaled to the stored
        region when it is a sample (its region-wide pots shared in proportion)."""
        if self._book is None:
            self._book = store.book_for(self.engine, self.chosen) if self._has("settings") else self.chosen
        return self._book

    def options(self) -> dict:
        """The choices behind `book`, stored with every month computed."""
        return {
            "reform": str(self.reform) if self.reform is not None else None,
            "as_of": self.as_of.isoformat() if self.as_of is not None else None,
            "sample_persons": store.sample_size(self.engine) if self._has("settings") else None,
        }

    def book_of_month(self, month: str) -> Rulebook:
        """The rulebook `month` was computed with; the current one for a month not computed (or
        computed before months stored theirs)."""
        stored = store.month_rulebook(self.engine, month) if self._has("months") else None
        return stored if stored is not None else self.book

    def _has(self, table: str) -> bool:
        return self.engine.backend == "duckdb" and table in self.engine.table_names()

    # --- operations -------------------------------------------------------------------------

    def load(self, folder: str | Path, sample=None, dry_run: bool = False, who: str | None = None,
             via: str = "cli") -> store.LoadResult:
        """Validate and store the input files in `folder`, all or nothing (`store.load_folder`),
        as a job in the history (a dry run writes nothing, not even its job). `sample`: the
        sample setting to store (`store.KEEP` to keep it); None decides it from the folder
        (`sample_setting`)."""
        if sample is None:
            sample = sample_setting(folder)
        if dry_run:
            return store.load_folder(self.engine, folder, self.chosen, sample=sample, dry_run=True)
        files = sorted(p.name for p in Path(folder).iterdir() if p.is_file())
        with job(self.engine, "load", {"folder": Path(folder).name, "files": files}, who or store.login_name(), via,
                 total=1) as j:
            result = store.load_folder(self.engine, folder, self.chosen, sample=sample)
            self._book = None  # the sample setting may have changed
            problems = result.errors.num_rows
            j.progress(1, f"{problems} problem(s)" if problems else "loaded")
            if problems:
                j.fail(f"{problems} problem(s) in the input files; nothing loaded")
            else:
                j.finish(rulebook=self.chosen.origin)
        return result

    def run(self, months: list[str], issue: bool = False, dry_run: bool = False, user: str | None = None,
            progress: Progress | None = None, via: str = "cli") -> list[MonthRun]:
        """Compute `months` (in order) into the database as drafts, or issue them, as one job in
        the history (who, through what, the rulebook, the content hash of what it computed).

        Every month is checked first (none after the current month or before the rulebook).
        A calendar year whose twelve months are all asked for and none is issued is computed
        on the shared year path (`statements.compute_year`: the same lines, computed once per
        year instead of per month); the manual and adjustment lines are added month by month.
        """
        months = sorted(set(months))
        book = self.book
        if dry_run:  # writes nothing, not even its job
            for month in months:
                store.check_month(book, month)
            return self._run(months, issue, True, user, progress, None)
        args = {"months": f"{months[0]}..{months[-1]}" if len(months) > 1 else months[0], "issue": issue, **self.options()}
        with job(self.engine, "run", args, user or store.login_name(), via, total=len(months)) as j:
            for month in months:  # a refused run is on record too, failed with the reason
                store.check_month(book, month)
            out = self._run(months, issue, False, user, progress, j)
            hashes = [store.content_hash(r.result.lines, r.result.statements) for r in out if r.result is not None]
            result_hash = hashes[0] if len(hashes) == 1 else (_combined(hashes) if hashes else None)
            j.finish(rulebook=book.origin, rulebook_hash=store.rulebook_id(book), result_hash=result_hash)
        return out

    def _run(self, months, issue, dry_run, user, progress, j) -> list[MonthRun]:
        book = self.book
        # year -> its reconciliation, kept within this run only (a later run may see other inputs)
        reconciled: dict[int, list] = {}
        out = []
        for year, in_year in _by_year(months):
            whole_year = self.compute is None and in_year == months_of(year) and not self._any_issued(in_year)
            computed = {}
            if whole_year:
                computed, reconciled = self._year(year, reconciled.get(year - 1))
            for month in in_year:
                ready = computed.pop(month, None)
                if ready is None and self.compute is not None and store.month_status(self.engine, month) != "issued":
                    ready = self.compute(month, book)
                status, result = store.run_month(self.engine, month, book, issue=issue, user=user, dry_run=dry_run,
                                                 options=self.options(), computed=ready)
                out.append(MonthRun(month, status, result))
                if j is not None:
                    j.progress(len(out), f"{month} {status}")
                if progress is not None:
                    progress(len(out), len(months), month)
        return out

    def _year(self, year: int, previous: list | None) -> tuple[dict[str, MonthResult], dict[int, list]]:
        """The year's months by month, and {year: its reconciliation} for the next year of the run."""
        self.engine.attach_stored()
        store.attach_contacts(self.engine)
        # A run of consecutive whole years posts the year before's reconciliation (`previous`),
        # just computed on the same inputs, on January instead of counting its contacts again.
        results, reconciled = compute_year(self.engine, self.book, year, previous=previous)
        return {r.month: r for r in results}, {year: reconciled}

    def _any_issued(self, months: list[str]) -> bool:
        return any(store.month_status(self.engine, m) == "issued" for m in months)

    def report(self, path: str | Path, **options):
        """Intake of a contact file into the register (GVR: `register.intake`)."""
        from ersattning.register import intake

        return intake(self.engine, path, **options)

    def intake(self, records, source: str, received_at: dt.datetime, sender_clinic: str | None = None,
               before_commit=None):
        """Intake of a batch of records (an Arrow table of text columns, `register.records_table`):
        checked row by row, the good ones logged, the rejected ones stored with their codes; a
        `sender_clinic` may report only on its own kombika (`register.intake_table`)."""
        from ersattning.register import intake_table

        return intake_table(self.engine, records, source, received_at=received_at, sender_clinic=sender_clinic,
                            before_commit=before_commit)

    def export(self, month: str, fmt: str, output: Path, clinic: str | None = None, draft: bool = False):
        """The stored month as CSV, XLSX or e-invoices (`export.write_month`), labelled by the
        rulebook the month was computed with."""
        from ersattning.export import write_month

        return write_month(self.engine.con.con, month, fmt, output, clinic=clinic, draft=draft)

    def delete_month(self, month: str, user: str | None = None, via: str = "cli") -> dict:
        """Remove a draft month (`store.delete_draft_month`), as a job in the history."""
        with job(self.engine, "delete", {"month": month}, user or store.login_name(), via, total=1) as j:
            out = store.delete_draft_month(self.engine, month)
            j.progress(1, f"{month} deleted")
            j.finish(message=f"deleted {out['deleted_lines']} lines")
        return out

    def add_manual_line(self, **fields) -> dict:
        """A claimed item on a clinic's statement (`store.add_manual_line`)."""
        return store.add_manual_line(self.engine, **fields)

    def manual_lines(self, **where):
        return store.manual_lines(self.engine, **where)

    # --- the trace (AF) ---------------------------------------------------------------------

    def trace_line(self, line_id: str, limit: int = 100, offset: int = 0, keep_ids: bool = False) -> dict | None:
        """What lies behind a statement line, computed by the expression that paid it under the
        rulebook its month was computed with."""
        from ersattning.trace import trace_line

        return trace_line(self.engine, self.book_of_month, line_id, limit=limit, offset=offset, keep_ids=keep_ids)

    def trace_contact(self, kombika: str, contact_id: str, keep_ids: bool = False) -> dict | None:
        """A contact's path through the chain, priced under the rulebook of the month it falls in."""
        from ersattning.trace import trace_contact

        return trace_contact(self.engine, self.book_of_month, kombika, contact_id, keep_ids=keep_ids)


def sample_setting(folder: str | Path):
    """The sample setting a folder's load stores: what its sample.yaml declares; else, when it
    gives the persons, the whole region (None) — the setting describes the persons; else
    `store.KEEP` (the persons stay, and so does their setting). ValueError for a bad sample.yaml."""
    from ersattning.synth.region import read_sample

    declared = read_sample(folder)
    if declared is not None:
        return declared
    persons_given = any((Path(folder) / f"persons.{ext}").is_file() for ext in ("csv", "parquet"))
    return None if persons_given else store.KEEP


def _combined(hashes: list[str]) -> str:
    """One hash for several months' content hashes (in month order)."""
    import hashlib

    return hashlib.sha256("".join(hashes).encode()).hexdigest()


def _by_year(months: list[str]) -> list[tuple[int, list[str]]]:
    years: dict[int, list[str]] = {}
    for month in months:
        years.setdefault(int(month[:4]), []).append(month)
    return sorted(years.items())


def month_range(first: str, last: str | None = None) -> list[str]:
    """The months first..last (YYYY-MM, both included); one month when `last` is None."""
    if last is None or last == first:
        return [first]
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    out = [first]
    while out[-1] < last:
        out.append(next_month(out[-1]))
    return out
