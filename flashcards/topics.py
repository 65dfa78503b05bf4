"""Step 2b: assign each paper a few topic slugs (tags `topic::<slug>`) from an editable taxonomy.

STUB — the deck-definitions work replaces the bodies; the signatures are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flashcards.model import Paper


@dataclass(frozen=True)
class Taxonomy:
    source: str


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy in `path`, or the one bundled with the package when None."""
    return Taxonomy(source="<bundled>")


def assign_topics(paper: Paper, taxonomy: Taxonomy, *, limit: int = 3) -> tuple[str, ...]:
    """At least one and at most `limit` topic slugs for `paper`, most relevant first."""
    return ("general",)
