"""The one exception family of the project.

Library code raises a `FlashcardsError` (or a subclass) naming the file and, where it helps, the
line; only the CLI turns it into a message and an exit code.
"""

from __future__ import annotations

from pathlib import Path


class FlashcardsError(Exception):
    """An error a user can act on: what is wrong, in which file, on which line."""

    exit_code = 2

    def __init__(
        self, message: str, path: str | Path | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return where + self.message


class ParseError(FlashcardsError):
    """A digest file cannot be read or is not a well-formed digest."""


class NotADigestError(ParseError):
    """The file is readable text but in none of the digest formats (skipped in directory scans)."""


class ConfigError(FlashcardsError):
    """A deck definition, taxonomy or answer-key file is invalid."""


class BuildError(FlashcardsError):
    """Writing a deck failed (disk full, permissions, ...); the previous deck is left untouched."""

    exit_code = 1
