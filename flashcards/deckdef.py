"""Deck definitions: the `decks/*.yaml` files that say what each deck is built from.

STUB — the deck-definitions work replaces the bodies; the signatures are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CARD_KINDS = ("mcq", "summary")


@dataclass(frozen=True)
class DeckDefinition:
    path: Path  # the YAML file; relative paths inside it resolve against its directory
    name: str  # Anki deck name, "::" for nesting
    sources: tuple[str, ...]  # globs
    output: Path
    state: Path  # where note content hashes and modification times are kept
    cards: tuple[str, ...] = CARD_KINDS
    subdecks: str | None = None  # None or "month" (subdeck per digest month) or "date"
    tags: tuple[str, ...] = ()  # extra tags on every note
    answers: Path | None = None  # answer-key file
    taxonomy: Path | None = None  # taxonomy file; None → the bundled one
    unsure_threshold: float | None = None  # None → flashcards.answers.DEFAULT_UNSURE_THRESHOLD

    def source_files(self) -> list[Path]:
        """Files matched by `sources`, sorted; a glob that matches nothing is a ConfigError."""
        raise NotImplementedError


def load_deck_definition(path: str | Path) -> DeckDefinition:
    raise NotImplementedError


def find_deck_definitions(directory: str | Path = "decks") -> list[Path]:
    return sorted(Path(directory).glob("*.yaml"))
