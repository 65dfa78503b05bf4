"""Soak test (issue 9): a deck lives through many days of edits, interrupted and concurrent
builds, and is re-imported into one real Anki collection after every step.

Each round (seeded, so a failure replays) edits the digests at random (a typo fixed, a new
digest, a digest removed, papers reordered), then builds: in process, in a subprocess stopped by
SIGTERM or SIGINT at a random moment, or as two subprocesses at once (a fix in between). After
every build:

- the deck and the state beside it agree (every note of the package has the state's time and
  id), and no temporary file is left;
- the package imports with no conflicting note, every note of the package is in the collection
  with the package's fields (fixes arrive), no note of the collection is lost, no card is blank;
- every card reviewed so far keeps its review state.

No assertion depends on timing: the random delays only vary where a signal lands.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from anki_helpers import CardAnswer, blank_cards, fresh_collection, import_package, schedule
from build_samples import deck_state_disagreements, package_db
from digest_writers import write_markdown, write_quiz_text

from flashcards.build import build
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc

ROUNDS = 10
SEED = 20261203
FIRST_DAY = date(2025, 6, 2)
WORDS = ("sparse", "attention", "routers", "retrieval", "tokens", "lanterns", "agents", "memory",
         "reward", "video", "diffusion", "planning", "graphs", "experts", "kernels")  # fmt: skip
TITLE_WORDS = ["Мир", "α-Net", "注意力", "C++", "Ré"]  # some titles need their Unicode keys


class Digests:
    """The digests on disk and the model they are written from: per file, its date, format and
    papers (each with the link its quiz text gives, if any)."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.rng = rng
        self.files: dict[str, tuple[date, str, list[tuple[Paper, str]]]] = {}
        self.serial = 0
        self.day = FIRST_DAY

    def _sentence(self) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(4, 9))) + "."

    def _paper(self, fmt: str) -> tuple[Paper, str]:
        self.serial += 1
        number = self.serial
        linked = self.rng.random() < 0.8
        words = [self.rng.choice(WORDS).title() for _ in range(3)]
        if not linked and self.rng.random() < 0.5:
            words.append(self.rng.choice(TITLE_WORDS))
        title = " ".join([*words, str(number)])
        arxiv_id = f"2506.{number:05d}" if linked else None
        if fmt == "md":
            return Paper(title=title, arxiv_id=arxiv_id, fields={"summary": self._sentence()}), ""
        fields = {k: self._sentence() for k in ("topic", "problem", "methods", "results")}
        questions = tuple(
            Question(n, f"What does paper {number} use, part {n}?", ("Experts", "Kernels", "Maps"))
            for n in range(1, self.rng.randint(1, 3) + 1)
        )
        link = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else ""
        return Paper(title=title, arxiv_id=arxiv_id, fields=fields, questions=questions), link

    def new_digest(self) -> None:
        fmt = self.rng.choice(["txt", "md"])
        self.day += timedelta(days=1)
        papers = [self._paper(fmt) for _ in range(self.rng.randint(1, 3))]
        self.files[f"{self.day.isoformat()}.{fmt}"] = (self.day, fmt, papers)

    def fix_typo(self) -> None:
        name = self.rng.choice(sorted(self.files))
        papers = self.files[name][2]
        index = self.rng.randrange(len(papers))
        paper, link = papers[index]
        field = self.rng.choice(sorted(paper.fields))
        fields = {**paper.fields, field: paper.fields[field] + " Fixed."}
        papers[index] = (Paper(**{**paper.__dict__, "fields": fields}), link)

    def remove_digest(self) -> None:
        if len(self.files) > 1:
            del self.files[self.rng.choice(sorted(self.files))]

    def reorder(self) -> None:
        self.rng.shuffle(self.files[self.rng.choice(sorted(self.files))][2])

    def write(self) -> None:
        for stale in set(p.name for p in self.folder.iterdir()) - set(self.files):
            (self.folder / stale).unlink()
        for name, (day, fmt, papers) in self.files.items():
            if fmt == "txt":
                text = write_quiz_text(day, papers)
            else:
                text = write_markdown([(day, [paper for paper, _link in papers])])
            # Renamed into place: a build running meanwhile reads the old file or the new one.
            part = self.folder / f"{name}.part"
            part.write_text(text, encoding="utf-8")
            os.replace(part, self.folder / name)


def _cli_build(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "flashcards", "build", "-i", "digests", "-o", "out/deck.apkg"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _check(col, project: Path, reviewed: dict[int, tuple], seen: set[str]) -> None:
    out = project / "out"
    deck, state = out / "deck.apkg", out / "deck.state.json"
    assert deck_state_disagreements(deck, state) == []
    assert sorted(p.name for p in out.iterdir()) == ["deck.apkg", "deck.cache", "deck.state.json"]
    cache = {p.name for p in (out / "deck.cache").iterdir()}  # no temporary file left there either
    assert cache <= {"build.json", "chunks.sqlite", "entries.sqlite"}, cache

    result = import_package(col, deck)
    assert result.conflicting == 0
    in_package = dict(package_db(deck.read_bytes()).execute("select guid, flds from notes"))
    in_collection = dict(col.db.all("select guid, flds from notes"))
    assert {g: in_collection.get(g) for g in in_package} == in_package  # every fix arrived
    assert seen <= set(in_collection)  # no note lost
    seen.update(in_collection)
    assert blank_cards(col) == []
    for card_id, state_before in reviewed.items():
        assert schedule(col.get_card(card_id)) == state_before


def _study_next(col):
    col.decks.select(col.decks.id_for_name("AI Papers"))
    queued = col.sched.get_queued_cards(fetch_limit=1).cards
    if not queued:
        return None
    card = col.get_card(queued[0].card.id)
    card.start_timer()
    states = queued[0].states
    col.sched.answer_card(col.sched.build_answer(card=card, states=states, rating=CardAnswer.EASY))
    return col.get_card(card.id)


@pytest.mark.slow
def test_soak(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    project = tmp_path / "project"
    (project / "digests").mkdir(parents=True)
    digests = Digests(project / "digests", rng)
    for _ in range(3):
        digests.new_digest()
    digests.write()
    plan = plan_adhoc([project / "digests"], project / "out" / "deck.apkg")
    reviewed: dict[int, tuple] = {}
    seen: set[str] = set()
    with fresh_collection(tmp_path) as col:
        build(plan)
        _check(col, project, reviewed, seen)
        for _round in range(ROUNDS):
            # Study the next card, as a user would between two imports ("easy": it leaves the
            # learning queue, so the next round studies another card).
            reviewed_card = _study_next(col)
            if reviewed_card is not None:
                reviewed[reviewed_card.id] = schedule(reviewed_card)

            for _ in range(rng.randint(1, 2)):
                rng.choice([digests.fix_typo, digests.new_digest, digests.remove_digest,
                            digests.reorder])()  # fmt: skip
            digests.write()

            mode = rng.choice(["in process", "interrupted", "concurrent"])
            if mode == "in process":
                build(plan)
            elif mode == "interrupted":
                child = _cli_build(project)
                time.sleep(rng.uniform(0.0, 1.5))
                signum = rng.choice([signal.SIGTERM, signal.SIGINT])
                child.send_signal(signum)
                _, err = child.communicate(timeout=120)
                assert child.returncode in (0, 128 + signum, -signum, 1), err.decode()
            else:
                # Two builds at once, the second after one more fix: each must see the other's
                # state whole, or the last rename of each file could pair one build's deck
                # with the other's state.
                children = [_cli_build(project)]
                time.sleep(rng.uniform(0.0, 0.8))
                digests.fix_typo()
                digests.write()
                children.append(_cli_build(project))
                for child in children:
                    _, err = child.communicate(timeout=120)
                    assert child.returncode == 0, err.decode()
            _check(col, project, reviewed, seen)

        # A last, undisturbed build delivers everything the interrupted ones may have held back.
        build(plan)
        _check(col, project, reviewed, seen)
        assert len(reviewed) >= ROUNDS // 2
