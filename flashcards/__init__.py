"""flashcards: turn daily AI-paper digests into Anki decks.

The pipeline, one module or package per step: `pull` (with `sources`; the only network use)
brings the digests in, then `parse` → `answers` and `topics` → `anki` (`notes` and `notetypes`,
then `state` and `export`); `build` runs it for a deck definition (`deckdef`) or ad-hoc inputs
(`description` writes the deck's description; `buildcache` keeps what the last build computed),
`check` runs the build without writing and lists what to look at, `preview` renders every card
into one page, `report` and `progress` serve `--json` and the terminal, and `cli` is a thin layer
over these. A step never imports a later one. Shared by all: `model`, `links`, `errors`,
`identity`, `yamlfile`, `atomicfile`.
"""

from flashcards.errors import FlashcardsError
from flashcards.model import Digest, Paper, Question

__all__ = ["Digest", "FlashcardsError", "Paper", "Question"]
__version__ = "0.1.0"
