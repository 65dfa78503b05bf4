"""Small digests built in code for the build tests (invented papers, our own writing), and a
look inside the packages they build."""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from flashcards.anki.state import load_state
from flashcards.model import Digest, Paper, Question

OPTIONS = ("A sparse router", "A dense adapter", "A token cache")

QUIZ_FIELDS = {
    "topic": "Efficient inference for large language models.",
    "previous_research": "Mixture-of-experts models route tokens; this work routes fewer.",
    "problem": "Dense layers waste compute on easy tokens.",
    "methods": "A learned router sends each token to a sparse path or a dense adapter.",
    "results": "Inference is 1.8x faster at equal accuracy on three benchmarks.",
    "workflow": "Tokens -> router -> experts -> merge",
}


def question(number: int, prompt: str | None = None, **changes: object) -> Question:
    base = Question(
        number=number,
        prompt=prompt or f"Which component does question {number} ask about?",
        options=OPTIONS,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def quiz_paper(
    arxiv_id: str | None = "2501.00001",
    title: str = "Routing Tokens Sparsely",
    *,
    fields: dict[str, str] | None = None,
    questions: Sequence[Question] | None = None,
) -> Paper:
    return Paper(
        title=title,
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None,
        authors=("Ada Example", "Bo Sample"),
        fields=dict(QUIZ_FIELDS if fields is None else fields),
        questions=tuple(questions if questions is not None else [question(n) for n in (1, 2, 3)]),
    )


def table_paper(arxiv_id: str = "2502.00002", title: str = "A Benchmark of Small Things") -> Paper:
    return Paper(
        title=title,
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        authors=("Cy Person",),
        fields={"summary": "The paper measures small models on a new benchmark of tiny tasks."},
    )


def digest(day: date, *papers: Paper, source: str | None = None) -> Digest:
    return Digest(
        source=source or f"{day.isoformat()}.txt",
        format="quiz-text" if any(p.questions for p in papers) else "markdown-table",
        date=day,
        papers=tuple(papers),
    )


def package_db(data: bytes) -> sqlite3.Connection:
    """The collection inside an .apkg's bytes, as an in-memory SQLite database."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        collection = archive.read("collection.anki2")
    connection = sqlite3.connect(":memory:")
    connection.deserialize(collection)
    return connection


def deck_state_disagreements(package: Path, state: Path) -> list[str]:
    """How the package on disk and the state file beside it disagree: every note of the package
    must be in the state with the same modification time and id (a new state beside an old deck,
    or the reverse, differs in both). Empty when they agree."""
    recorded = load_state(state).notes
    problems = []
    rows = package_db(package.read_bytes()).execute("select guid, mod, id from notes").fetchall()
    for guid, mod, note_id in rows:
        entry = recorded.get(guid)
        if entry is None:
            problems.append(f"{guid}: in the package, not in the state")
        elif (entry.mtime, entry.id) != (mod, note_id):
            problems.append(f"{guid}: package has ({mod}, {note_id}), state {entry}")
    return problems
