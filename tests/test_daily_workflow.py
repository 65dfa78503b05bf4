"""The daily workflow end to end, as a scheduled CI job and its user live it, against the real
Anki backend: a deck definition whose `sources` glob picks up each day's new digest, builds
through the `flashcards` command, imports into one collection that is studied in between, and a
person who checks the unsure answers in a key file.

    day 1   one digest → build → import → review two cards
    day 2   a new digest (two new papers and yesterday's first paper again), a typo fixed in
            yesterday's digest → exactly the new notes added, the fixed note updated in place,
            reviews kept, the repeated paper's notes carry both dates
    key     `flashcards answers` → a person replaces one `?` → the next build says "From your
            answer key" on that card and drops its `answer::unsure` tag
    day 3   nothing new → byte-identical package and state, nothing to import

The digests are our own writing about well-known papers, serialised by tests/digest_writers.py.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from anki_helpers import (
    fresh_collection,
    guids,
    import_package,
    note_by_guid,
    rendered_cards,
    review_card,
    schedule,
)
from click.testing import CliRunner
from digest_writers import write_quiz_text

from flashcards.cli import main
from flashcards.identity import deck_namespace, note_guid
from flashcards.model import Paper, Question

DAY1, DAY2 = date(2025, 3, 3), date(2025, 3, 4)
TYPO, FIXED = "normalise each activation wiht?", "normalise each activation with?"


def _paper(arxiv_id: str, title: str, fields: dict[str, str], questions: list[tuple]) -> Paper:
    return Paper(
        title=title,
        arxiv_id=arxiv_id,
        published=date(2015, 12, 10),
        fields=fields,
        questions=tuple(
            Question(number, prompt, tuple(options))
            for number, (prompt, options) in enumerate(questions, 1)
        ),
    )


# Q1/Q2 of RESNET and Q1 of the others are stated by their summaries (inferred, sure); the last
# question of each paper is something the digest never says (inferred, unsure).
RESNET = _paper(
    "1512.03385",
    "Deep Residual Learning for Image Recognition",
    {
        "topic": "Image classification with very deep convolutional networks.",
        "previous_research": "Plain deep networks got worse as layers were added, even on their "
        "training data; residual learning makes each block learn a correction to its input.",
        "problem": "Stacking more layers made plain networks harder to optimise.",
        "methods": "Shortcut connections add each block's input unchanged, an identity mapping, "
        "to the output of its stacked layers, so the layers only learn the residual.",
        "results": "A network of 152 layers won the ImageNet 2015 classification task.",
        "workflow": "Input -> conv block -> add identity shortcut -> ReLU -> classifier",
    },
    [
        (
            "What do the shortcut connections add to the output of the stacked layers?",
            ["A learned attention mask", "The block's input, unchanged", "Gaussian noise"],
        ),
        ("How many layers did the deepest ImageNet network have?", ["34", "152", "1202"]),
        ("Who is the first author?", ["Kaiming He", "Geoffrey Hinton", "Yann LeCun"]),
    ],
)
BATCHNORM = _paper(
    "1502.03167",
    "Batch Normalization: Accelerating Deep Network Training",
    {
        "topic": "Training deep neural networks faster.",
        "previous_research": "Small learning rates and careful initialisation were needed "
        "because the inputs of each layer drift during training.",
        "problem": "Internal covariate shift slows training down.",
        "methods": "Each activation is normalised with the mean and variance of the current "
        "mini-batch, then scaled and shifted by two learned parameters.",
        "results": "An Inception network reached the same accuracy in 14 times fewer steps.",
    },
    [
        (
            f"Which statistics does the method {TYPO}",
            ["The mean and variance of the current mini-batch", "A running median", "None"],
        ),
        ("Which regulariser did the authors find they could remove?", ["Weight decay", "Dropout"]),
    ],
)
ADAM = _paper(
    "1412.6980",
    "Adam: A Method for Stochastic Optimization",
    {
        "topic": "Stochastic gradient-based optimisation.",
        "problem": "Plain stochastic gradient descent needs a hand-tuned learning rate.",
        "methods": "Adam keeps moving averages of the gradient and of its square, corrects their "
        "bias toward zero early in training, and scales each step by their ratio.",
        "results": "Adam converged as fast as or faster than other adaptive methods.",
    },
    [
        (
            "What does Adam correct in its moving averages early in training?",
            ["Their bias toward zero", "Their sign", "Their sparsity"],
        ),
        ("Which default value did the authors suggest for beta2?", ["0.9", "0.999", "0.5"]),
    ],
)
DROPOUT = _paper(
    "1207.0580",
    "Improving neural networks by preventing co-adaptation of feature detectors",
    {
        "topic": "Regularisation of large neural networks.",
        "problem": "Large networks trained on small datasets overfit as hidden units co-adapt.",
        "methods": "During training each hidden unit is omitted at random with probability one "
        "half, so no unit can rely on particular others being present.",
        "results": "Omitting hidden units lowered the error on speech and object recognition.",
    },
    [
        (
            "With what probability is each hidden unit omitted during training?",
            ["One half", "One tenth", "Nine tenths"],
        ),
        ("At which university were most of the authors based?", ["Oxford", "Toronto", "Montreal"]),
    ],
)


def _link(paper: Paper) -> str:
    return f"http://arxiv.org/pdf/{paper.arxiv_id}"


def _digest_text(day: date, *papers: Paper) -> str:
    return write_quiz_text(day, [(paper, _link(paper)) for paper in papers])


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _build(deck: Path) -> tuple[int, int, int, int, int]:
    """`flashcards build DECK` → (notes, cards, new, changed, unchanged) from its report line."""
    output = _cli("build", str(deck))
    match = re.fullmatch(
        r"Daily Papers → \S+daily\.apkg \((?:written|unchanged on disk)\): (\d+) notes, "
        r"(\d+) cards; (\d+) new, (\d+) changed, (\d+) unchanged\n",
        output,
    )
    assert match, output
    return tuple(int(n) for n in match.groups())  # type: ignore[return-value]


#: The namespace the deck gets at its first build (and keeps in its state).
NAMESPACE = deck_namespace("Daily Papers", "daily.apkg")


def _mcq(paper: Paper, number: int) -> str:
    return note_guid(paper.key, "mcq", number, namespace=NAMESPACE)


def _summary(paper: Paper) -> str:
    return note_guid(paper.key, "summary", namespace=NAMESPACE)


def test_daily_workflow(tmp_path: Path):
    digests = tmp_path / "digests"
    digests.mkdir()
    day1 = digests / f"{DAY1}.txt"
    day1.write_text(_digest_text(DAY1, RESNET, BATCHNORM), encoding="utf-8")
    deck = tmp_path / "daily.yaml"
    definition = "name: Daily Papers\nsources: [digests/*.txt]\noutput: out/daily.apkg\n"
    deck.write_text(definition, encoding="utf-8")
    package, state = tmp_path / "out" / "daily.apkg", tmp_path / "daily.state.json"

    # Day 1: 5 questions and 2 summaries (5 filled fields each; the topic makes no card in a new
    # deck, nor does the workflow).
    assert _build(deck) == (7, 13, 7, 0, 0)
    with fresh_collection(tmp_path) as col:
        result = import_package(col, package)
        assert (result.new, result.updated) == (7, 0)
        reviewed = {}
        for guid in (_mcq(RESNET, 1), _mcq(BATCHNORM, 2)):
            card_id = note_by_guid(col, guid).card_ids()[0]
            reviewed[card_id] = schedule(review_card(col, card_id))
        fixed_note_id = note_by_guid(col, _mcq(BATCHNORM, 1)).id
        day1_guids = guids(col)

        # Day 2: a new digest repeats RESNET beside two new papers; yesterday's typo is fixed.
        (digests / f"{DAY2}.txt").write_text(
            _digest_text(DAY2, ADAM, RESNET, DROPOUT), encoding="utf-8"
        )
        text = day1.read_text(encoding="utf-8")
        assert text.count(TYPO) == 1
        day1.write_text(text.replace(TYPO, FIXED), encoding="utf-8")
        # New: 2 + 2 questions and 2 summaries (3 cards each). Changed: RESNET's 4 notes (a new
        # date tag) and the fixed question. Unchanged: BATCHNORM's other question and summary.
        assert _build(deck) == (13, 23, 6, 5, 2)
        result = import_package(col, package)
        assert (result.new, result.updated, result.duplicate) == (6, 5, 2)
        new_guids = {_mcq(p, n) for p in (ADAM, DROPOUT) for n in (1, 2)}
        assert guids(col) == day1_guids | new_guids | {_summary(ADAM), _summary(DROPOUT)}
        assert col.note_count() == 13 and col.card_count() == 23
        fixed = note_by_guid(col, _mcq(BATCHNORM, 1))
        assert fixed.id == fixed_note_id
        assert FIXED in fixed["Prompt"] and TYPO not in fixed["Prompt"]
        for guid in (*(_mcq(RESNET, n) for n in (1, 2, 3)), _summary(RESNET)):
            tags = note_by_guid(col, guid).tags
            assert {f"date::{DAY1}", f"date::{DAY2}", "arxiv::1512.03385"} <= set(tags), tags
        assert f"date::{DAY2}" not in note_by_guid(col, _mcq(BATCHNORM, 1)).tags
        for card_id, before in reviewed.items():
            assert schedule(col.get_card(card_id)) == before
        assert col.db.scalar("select count() from revlog") == 2

        # A person checks yesterday's answers: unsure ones come as ?, one of them gets a letter.
        key = tmp_path / "daily.answers.yaml"
        said = _cli("answers", str(day1), "-o", str(key))
        assert said.startswith(f"wrote {key}: 5 answers (0 from the key, 0 marked in the ")
        assert "5 inferred, 2 of them unsure, written as ?" in said
        key_text = key.read_text(encoding="utf-8")
        unsure_lines = re.findall(r"(?m)^  - \?  # Q\d unsure .*$", key_text)
        assert len(unsure_lines) == 2 and "  - ?  # Q2 unsure" in unsure_lines[1], key_text
        key_text = key_text.replace(unsure_lines[1], "  - B  # Q2 checked: Dropout")
        key.write_text(key_text, encoding="utf-8")
        deck.write_text(definition + "answers: daily.answers.yaml\n", encoding="utf-8")
        # Confident inferred letters are written ~X (unchecked): they stay inferred. Only the
        # letter a person wrote changes its note: its answer now comes from the key.
        unchecked = re.findall(r"(?m)^  - ~[A-Z]  # Q\d inferred \(\d+%\), unchecked", key_text)
        assert len(unchecked) == 3
        letters = len(re.findall(r"(?m)^  - [A-Z] ", key_text))
        assert letters == 1
        assert _build(deck) == (13, 23, 0, letters, 13 - letters)
        result = import_package(col, package)
        assert (result.new, result.updated) == (0, letters)

        cards = {card.guid: card for card in rendered_cards(col)}
        checked = cards[_mcq(BATCHNORM, 2)]
        assert "From your answer key" in checked.answer and "Dropout" in checked.answer
        assert "Inferred" not in checked.answer
        assert "answer::unsure" not in note_by_guid(col, _mcq(BATCHNORM, 2)).tags
        for guid in (_mcq(BATCHNORM, 1), _mcq(RESNET, 1)):  # ~X in the key: still inferred
            assert "fc-source fc-src-inferred" in cards[guid].answer
        for guid in (_mcq(BATCHNORM, 1), _mcq(RESNET, 1)):  # ~X in the key: still inferred
            assert "fc-source fc-src-inferred" in cards[guid].answer
        inferred = cards[_mcq(ADAM, 1)]  # not in the key, stated by its summary
        assert re.search(r">Inferred, \d+%<", inferred.answer), inferred.answer
        assert "fc-source fc-src-inferred" in inferred.answer
        assert "answer key" not in inferred.answer
        still_unsure = cards[_mcq(RESNET, 3)]  # left as ? in the key
        assert "Unsure — inferred" in still_unsure.answer
        assert (
            "fc-source fc-src-unsure" in still_unsure.answer
            and "answer key" not in still_unsure.answer
        )
        # The notes tagged for checking in Anki are exactly the questions `parse` calls unsure.
        parsed = json.loads(_cli("parse", "--json", str(digests), "--answers", str(key)))
        unsure = {
            _mcq(Paper(p["title"], p["arxiv_id"]), q["number"])
            for d in parsed["digests"]
            for p in d["papers"]
            for q in p["questions"]
            if q["unsure"]
        }
        assert unsure == {_mcq(RESNET, 3), _mcq(ADAM, 2), _mcq(DROPOUT, 2)}
        tagged = {col.get_note(nid).guid for nid in col.find_notes("tag:answer::unsure")}
        assert tagged == unsure
        for card_id, before in reviewed.items():
            assert schedule(col.get_card(card_id)) == before
        assert col.db.scalar("select count() from revlog") == 2

        # Day 3: no new digest. The same bytes, and nothing for Anki to do.
        package_bytes, state_bytes = package.read_bytes(), state.read_bytes()
        assert _build(deck) == (13, 23, 0, 0, 13)
        assert package.read_bytes() == package_bytes and state.read_bytes() == state_bytes
        result = import_package(col, package)
        assert (result.new, result.updated, result.duplicate) == (0, 0, 13)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["daily.apkg"]
