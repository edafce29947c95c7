"""What an analysis's scenario can take from its base run unchanged: a computation on the same
inputs that read only rule values the two rulebooks share (`PassMemo`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ersattning.engine import Engine
from ersattning.rulebook.loader import ALL_READ, Parameter, Rulebook


@dataclass
class _Done:
    engine: Engine
    tables: dict
    contacts_between: object
    components: dict
    reads: dict[str, Parameter | None]
    result: Any


class PassMemo:
    """Computations of one analysis kept for its scenario run: a reform of capitation rates leaves
    every visit product, price and count as they were, so the scenario's visit pass over the same
    contacts is the base's (and so are the listed persons' counts, when the bands are unchanged).
    A result is given again only when it is provably the same: the same engine with the very same
    input table objects (a scenario that replaces the listings or the risk table gets new ones),
    the same component declarations, and every rule parameter the computation read
    (`Rulebook.recording`) equal in the asking rulebook; anything else computes. Lives as long as
    the analysis that made it (its inputs do not change while it runs)."""

    def __init__(self):
        self._done: dict[tuple, _Done] = {}
        #: the keys of the results given again, in order (the tests read them)
        self.given: list[tuple] = []

    @property
    def hits(self) -> int:
        return len(self.given)

    def call(self, key: tuple, engine: Engine, book: Rulebook, compute: Callable[[Rulebook], Any]) -> Any:
        """`compute(book)`, or its result from before under `key` when that is provably the same.
        `compute` may read only `engine`'s tables and the rulebook it is given; `key` holds
        everything else it depends on (months, options)."""
        done = self._done.get(key)
        if (done is not None and done.engine is engine and done.contacts_between is engine.contacts_between
                and done.tables.keys() == engine.tables.keys() and all(t is engine.tables[n] for n, t in done.tables.items())
                and done.components == book.components
                and all(book.parameters.get(name) == param for name, param in done.reads.items())):
            self.given.append(key)
            return done.result
        recording, seen = book.recording()
        result = compute(recording)
        if ALL_READ not in seen:  # a computation that went over every parameter is never given again
            self._done[key] = _Done(engine, dict(engine.tables), engine.contacts_between, book.components,
                                    {name: book.parameters.get(name) for name in seen}, result)
        return result
