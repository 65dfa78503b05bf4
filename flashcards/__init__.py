"""flashcards: turn daily AI-paper digests into Anki decks.

The pipeline, one module per step: `parse` → `answers` (and `topics`) → `notes` → `export`;
`build` runs it for a deck definition (`deckdef`). `cli` is a thin layer over these.
"""

from flashcards.errors import FlashcardsError
from flashcards.model import Digest, Paper, Question

__all__ = ["Digest", "FlashcardsError", "Paper", "Question"]
__version__ = "0.1.0"
