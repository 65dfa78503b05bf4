"""The deck description Anki shows on the deck's overview screen: what the deck holds and where
it comes from. Derived from the inputs only (never the clock or the machine), so a rebuild of the
same input stays byte-identical; a new flashcards version changes it, which is fine."""

from __future__ import annotations

import html
from collections.abc import Collection
from datetime import date

from flashcards import __version__


def describe(
    days: Collection[date], papers: int, *, notes: int, cards: int, origin: str | None
) -> str:
    """The description of a deck built from digests of these `days` holding `papers` different
    papers: HTML (Anki renders deck descriptions as HTML), every input-derived piece escaped."""
    dates = sorted(set(days))
    if not dates:
        span = "no digests"
    elif len(dates) == 1:
        span = f"1 digest day ({dates[0].isoformat()})"
    else:
        span = f"{len(dates)} digest days ({dates[0].isoformat()} to {dates[-1].isoformat()})"
    lines = [
        f"AI-paper flashcards from {span}: {papers} {_plural(papers, 'paper')}, "
        f"{notes} {_plural(notes, 'note')}, {cards} {_plural(cards, 'card')}.",
    ]
    if origin:
        lines.append(f"Built from {origin}.")
    lines.append(
        f"Made by flashcards {__version__}. Re-import a newer package to get new papers and "
        "fixes; your reviews are kept."
    )
    return "<br>".join(html.escape(line, quote=True) for line in lines)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
