"""One exception tree for bugs and refusals; data problems are rows in error tables."""

from __future__ import annotations


class ErsattningError(Exception):
    """Base of every error this package raises on purpose."""


class RulebookError(ErsattningError):
    """The rulebook or a reform file is malformed; names the file and the key."""

    def __init__(self, file: str, key: str, message: str):
        self.file, self.key, self.message = file, key, message
        super().__init__(f"{file}: {key}: {message}")


class InputError(ErsattningError):
    """Input files cannot be used (unreadable, or rows failed validation)."""

    def __init__(self, message: str, errors=None):
        self.errors = errors  # pyarrow.Table of error rows, when there are any
        super().__init__(message)


class StatementError(ErsattningError):
    """A statement cannot be computed or changed (e.g. a product without a price)."""
