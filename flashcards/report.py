"""Machine-readable reports: what `flashcards build --json` prints.

Warnings are the same `{path, line, code, message}` items as `flashcards check --json`, so a
script reads both alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flashcards.build import BuildReport
from flashcards.check import warning_finding


def build_document(reports: Sequence[BuildReport]) -> dict[str, Any]:
    """One JSON-ready object for a build: a `decks` list, one entry per deck."""
    return {"decks": [deck_entry(report) for report in reports]}


def deck_entry(report: BuildReport) -> dict[str, Any]:
    return {
        "deck": report.deck,
        "output": str(report.output),
        "state": str(report.state),
        "written": report.written,
        "bytes": report.bytes,
        "notes": report.notes,
        "cards": report.cards,
        "new": report.new,
        "changed": report.changed,
        "unchanged": report.unchanged,
        "unsure": report.unsure,
        "delta": (
            {"output": str(report.delta), "notes": report.delta_notes, "cards": report.delta_cards}
            if report.delta is not None
            else None
        ),
        "warnings": [warning_finding(w).to_dict() for w in report.warnings],
    }
