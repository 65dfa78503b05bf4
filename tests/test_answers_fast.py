"""The fast paths of answer inference equal straightforward reference implementations (kept here,
not in the package): the longest run, the closeness to the question's words, the paper index's
word sets, and inference in worker processes against inference in this one."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import pytest
from helpers import FIXTURES, spy_on_worker_pools
from hypothesis import given, settings
from hypothesis import strategies as st

from flashcards.answers import resolve, resolve_answers
from flashcards.answers.features import (
    _CLAUSE_PENALTY,
    _REACH,
    PaperIndex,
    _closeness,
    _longest_run,
    _Segment,
)
from flashcards.model import FIELD_NAMES, Digest, Paper, Question
from flashcards.parse import parse_file

WORDS = st.sampled_from("abcde")


def _reference_longest_run(option: Sequence[str], segment: _Segment) -> int:
    """Every start in the option, every place of its word in the segment, extended."""
    best = 0
    words = segment.tokens
    for start in range(len(option)):
        for pos in range(len(words)):
            length = 0
            while (
                start + length < len(option)
                and pos + length < len(words)
                and words[pos + length] == option[start + length]
            ):
                length += 1
            best = max(best, length)
    return best


def _reference_closeness(
    token: str,
    segment: _Segment,
    where: dict[str, tuple[int, ...]],
    weights: dict[str, float],
) -> float:
    """Every place of every question word measured, the nearest taken."""
    total = sum(weights.values()) or 1.0
    clauses = segment.clauses
    best = 0.0
    for i in segment.positions.get(token, ()):
        value = 0.0
        for word, places in where.items():
            nearest = min(
                abs(i - j) + _CLAUSE_PENALTY * abs(clauses[i] - clauses[j]) for j in places
            )
            if nearest <= _REACH:
                value += weights[word] / math.sqrt(max(1, nearest))
        best = max(best, value / total)
    return best


@st.composite
def segments(draw: st.DrawFn) -> _Segment:
    words = draw(st.lists(WORDS, min_size=1, max_size=40))
    # Clause numbers never decrease along a segment (each break starts the next clause).
    breaks = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
    clauses = tuple(itertools.accumulate(int(b) for b in breaks))
    negated = tuple(draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words))))
    positions: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        positions.setdefault(word, []).append(i)
    return _Segment(
        "method",
        " ".join(words),
        tuple(words),
        negated,
        {t: tuple(p) for t, p in positions.items()},
        clauses,
    )


@settings(max_examples=300, deadline=None)
@given(segments(), st.lists(WORDS, min_size=1, max_size=10))
def test_longest_run_equals_the_reference(segment: _Segment, option: list[str]) -> None:
    assert _longest_run(option, segment) == _reference_longest_run(option, segment)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    segments(),
    WORDS,
    st.dictionaries(
        st.sampled_from("vwxyz"),
        st.floats(min_value=0.01, max_value=20.0),
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_closeness_equals_the_reference(
    segment: _Segment, token: str, weights: dict[str, float], data: st.DataObject
) -> None:
    # The question's words anywhere in the segment (an acronym's places are not its tokens).
    length = len(segment.tokens)
    where = {
        word: tuple(sorted(places))
        for word in weights
        if (
            places := data.draw(
                st.sets(st.integers(0, length - 1), max_size=6), label=f"places of {word}"
            )
        )
    }
    assert _closeness(token, segment, where, weights) == _reference_closeness(
        token, segment, where, weights
    )


def _papers() -> list[Paper]:
    papers = [
        paper
        for path in sorted((FIXTURES / "answers").glob("*.txt"))
        for digest in parse_file(path)
        for paper in digest.papers
    ]
    assert len(papers) >= 10
    return papers


@pytest.mark.slow
def test_paper_index_word_sets_equal_their_definitions() -> None:
    for paper in _papers():
        index = PaperIndex(paper)
        segments = index.segments
        pairs = [(s, t, n) for s in segments for t, n in zip(s.tokens, s.negated, strict=True)]
        own = [(s, t, n) for s, t, n in pairs if s.field != "previous_research"]
        assert index.vocabulary == {t for _, t, _ in pairs}
        assert index.affirmed == {t for _, t, n in pairs if not n}
        assert index.own_work == {t for _, t, _ in own}
        assert index.claimed == {t for _, t, n in own if not n}
        assert index.spread == Counter(t for s in segments for t in set(s.tokens))
        for word, numbers in index.holding.items():
            assert numbers == [n for n, s in enumerate(segments) if word in s.positions]
        words = [*sorted(index.vocabulary)[:30], "absent"]
        for first, second in itertools.product(words, words):
            assert index.side_by_side(first, second) == [
                n for n, s in enumerate(segments) if (first, second) in itertools.pairwise(s.tokens)
            ]
        for n, s in enumerate(segments):  # every pair of the text (most lie beyond `words`)
            for first, second in itertools.pairwise(s.tokens):
                assert n in index.side_by_side(first, second)
        for s in segments:  # each word's places, the words in the order they first occur
            places = {t: tuple(i for i, u in enumerate(s.tokens) if u == t) for t in s.tokens}
            assert list(s.positions.items()) == list(places.items())
        texts = [paper.title, *(paper.fields.get(n, "") for n in FIELD_NAMES)]
        assert index.plain_words == set(re.findall("[a-z]+", " ".join(texts).lower()))


def _digests() -> list[Digest]:
    return [
        digest
        for path in sorted((FIXTURES / "answers").glob("*.txt"))
        for digest in parse_file(path)
    ]


def test_workers_resolve_exactly_what_one_process_does(monkeypatch: pytest.MonkeyPatch) -> None:
    one = resolve_answers(_digests())
    monkeypatch.setattr(resolve, "PARALLEL_MIN_PAPERS", 2)
    spawned = spy_on_worker_pools(monkeypatch)
    assert resolve_answers(_digests()) == one
    assert spawned  # the workers did run


def test_a_memo_gives_what_it_has_and_stores_what_it_lacked() -> None:
    digests = _digests()
    plain = resolve_answers(digests)
    store: dict[str, Paper] = {}
    calls: list[str] = []

    def memo(paper: Paper, inputs: tuple[object, ...]) -> tuple[Paper | None, object]:
        calls.append(paper.key)

        def keep(resolved: Paper) -> None:
            assert repr(paper) not in store  # kept once, and only when it was lacking
            store[repr(paper)] = resolved

        return store.get(repr(paper)), keep

    assert resolve_answers(digests, memo=memo) == plain
    papers = [paper.key for digest in digests for paper in digest.papers]
    assert set(store) == {repr(paper) for digest in digests for paper in digest.papers}
    calls.clear()
    assert resolve_answers(digests, memo=memo) == plain  # every paper from the memo now
    assert calls == papers


def test_papers_with_nothing_to_infer_skip_the_memo() -> None:
    import dataclasses

    first = _digests()[0]
    bare = dataclasses.replace(first.papers[0], questions=(), title="No quiz", arxiv_id=None)
    asked = first.papers[1]
    marked = dataclasses.replace(
        asked,
        title="All marked",
        arxiv_id=None,
        questions=tuple(
            dataclasses.replace(q, answer=0, answer_source="marked") for q in asked.questions
        ),
    )
    digests = [first.with_papers((bare, asked, marked))]
    calls: list[str] = []

    def memo(paper: Paper, inputs: tuple[object, ...]) -> tuple[None, object]:
        calls.append(paper.title)
        return None, lambda resolved: calls.append(resolved.title)

    assert resolve_answers(digests, memo=memo) == resolve_answers(digests)
    assert calls == [asked.title, asked.title]  # looked up once, kept once


def _reference_marked_tokens(text: str) -> tuple[str, ...]:
    """`marked_tokens` as it was written first: every step on every text, clause breaks
    replaced by a marker word before the tokens are found."""
    import unicodedata

    from flashcards.answers import text as words

    text = unicodedata.normalize("NFKC", text).lower().replace("×", "x").replace("n't", " not")
    text = text.translate(words._GREEK)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # the patterns as first written
    text = re.sub(r"\s*(?:percent|per cent)\b", "%", text)
    text = words._CLAUSE_BREAK.sub(f" {words._CLAUSE} ", text)
    return tuple(f for f in map(words._marked_form, words._TOKEN.findall(text)) if f)


_TEXT_PIECES = st.sampled_from(
    [" and ", " but ", " while ", "and", ", ", ",", ";", ":", "(", ")", " - ", " – ", " — ", "-",
     " ", "\n", "\t", "\u00a0", "1,000", "3.5", "24.5%", " percent", " per cent", "per", "7b",
     "x", "×", "β2", "Ω", "ﬁ", "without", "no", "not", "n't", "don't", "the", "Model", "models",
     "qqclauseqq", "ANDs", "AND", "Ⅻ", "é", "İ", "ß"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(_TEXT_PIECES | st.text(max_size=4), max_size=16).map("".join))
def test_marked_tokens_equal_the_two_pass_reference(text: str) -> None:
    from flashcards.answers.text import marked_tokens

    assert marked_tokens(text) == _reference_marked_tokens(text)


_FEATURES_OF_FIXTURES = """
import hashlib, sys
from pathlib import Path
from flashcards.answers.features import option_features
from flashcards.answers.model import shipped_frequencies
from flashcards.parse import parse_file
rows = [
    option_features(paper, question, shipped_frequencies())
    for path in sorted(Path(sys.argv[1]).glob("*.txt"))
    for digest in parse_file(path)
    for paper in digest.papers
    for question in paper.questions
]
print(hashlib.sha256(repr(rows).encode()).hexdigest())
"""


@pytest.mark.slow
def test_features_do_not_depend_on_the_string_hash_seed() -> None:
    # Sums over a set's order differ in their last bits from one run to the next; two options
    # that tie could then swap between two builds of the same digests.
    import os
    import subprocess
    import sys

    def features(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-c", _FEATURES_OF_FIXTURES, str(FIXTURES / "answers")]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout

    assert features("1") == features("2") == features("27")


_CHUNK_PIECES = st.sampled_from(
    ["and", "but", "while", "whereas", "though", "although", "-", "–", "—", " ", "  ", "\t",
     "\n", "\u00a0", "\u2003", "x", "and,", ",", "(and)", "7b", "3.5", "qqclauseqq", "no", "e"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.lists(_CHUNK_PIECES | st.text(max_size=3), max_size=20).map("".join))
def test_chunked_forms_equal_one_regex_pass(text: str) -> None:
    # Break words next to each other, at either end, between runs of whitespace of any kind.
    from flashcards.answers import text as words

    text = text.lower()
    expected = tuple(f for f in map(words._marked_form, words._PIECE.findall(text)) if f)
    assert words._chunked_forms(text) == expected


def test_question_shares_and_places_equal_their_definitions() -> None:
    import dataclasses

    from flashcards.answers.features import _asked
    from flashcards.answers.model import shipped_frequencies

    idf = shipped_frequencies().idf
    papers = _papers()
    # An acronym of the question that the text spells out ("TRPO") joins the word places.
    spelled = dataclasses.replace(
        papers[0],
        fields={**papers[0].fields, "methods": "We use trust region policy optimization, fast."},
    )
    asked = [(paper, question.prompt) for paper in papers for question in paper.questions]
    asked.append((spelled, "Why is TRPO fast compared with the method?"))
    for paper, prompt in asked:
        index = PaperIndex(paper)
        found = _asked(prompt, index, idf)
        assert len(found.shares) == len(found.near) == len(index.segments)
        for n, segment in enumerate(index.segments):
            where = found.positions.get(n, {})
            # The question's words the segment holds, in the question's order, at their places.
            words = {t: segment.positions[t] for t in found.weights if t in segment.positions}
            assert {t: where[t] for t in words} == words
            assert list(where)[: len(words)] == list(words)
            share = sum(w for t, w in found.weights.items() if t in where) / found.mass
            assert found.shares[n] == share
            near = tuple((places, found.locating.get(t, 0.0)) for t, places in where.items())
            assert found.near[n] == near
    where_spelled = _asked(asked[-1][1], PaperIndex(spelled), idf).positions
    assert any("trpo" in where for where in where_spelled.values())


def _reference_segment(field_name: str, text: str) -> _Segment | None:
    """`scoped` tokens of the text, each word's places collected one by one."""
    from flashcards.answers.text import marked_tokens, scoped

    clean, negated, clauses = scoped(marked_tokens(text))
    if not clean:
        return None
    places: dict[str, list[int]] = {}
    for i, token in enumerate(clean):
        places.setdefault(token, []).append(i)
    positions = {t: tuple(p) for t, p in places.items()}
    return _Segment(field_name, text, tuple(clean), tuple(negated), positions, tuple(clauses))


_SEGMENT_PIECES = st.sampled_from(
    ["model", "models", "data", "7b", "no", "without", "not", "and", "but", ", ", ". ", ";",
     " - ", "(", ")", " ", "the", "qqclauseqq"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_SEGMENT_PIECES, max_size=40).map(" ".join))
def test_segments_equal_the_reference(text: str) -> None:
    from flashcards.answers.features import _segment

    found = _segment("method", text)
    assert found == _reference_segment("method", text)
    if found is not None:  # dicts compare without their order: the order of the words too
        assert list(found.positions) == list(_reference_segment("method", text).positions)


_PROMPT_PIECES = st.sampled_from(
    ["Which", "What", "which", "is", "are", "does", "NOT", "not", "Not", "EXCEPT", "except",
     "*not*", "_not_", "least likely", "LEAST LIKELY", "not only", "that was not", "cannot",
     "avoid", "Avoids", "avoided", "eliminate", "get rid of", "does away with", "dispensed with",
     "bypass", "sidesteps", "no longer needs", "the need for", "compared", "earlier", "PRIOR",
     "baselines", "Mentioned", "listed", "older", "traditional", "?", ",", " ", "TRPO", "é",
     "ſ", "İ", "K"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.lists(_PROMPT_PIECES | st.text(max_size=3), max_size=12).map(" ".join))
def test_question_classifiers_equal_their_patterns(prompt: str) -> None:
    # The classifiers skip their searches on an ASCII prompt lacking every word a match needs.
    from flashcards.answers import text as words

    avoided = any(
        (asked := words._QUESTION_WORD.search(prompt, 0, verb.start())) is not None
        and asked.group().lower() in ("what", "which")
        and words._AVOIDED_IS_ASKED.match(prompt, verb.end())
        for verb in words._AVOIDANCE.finditer(prompt)
    )
    assert words.asks_what_is_avoided(prompt) == avoided
    assert words.asks_about_prior_work(prompt) == bool(words._ABOUT_PRIOR_WORK.search(prompt))
    quiet = words._NEGATED_QUIET.search(prompt)
    negated = bool(words._NEGATED_LOUD.search(prompt)) or (
        quiet is not None and not words._RELATIVE_CLAUSE_NOT.search(prompt, 1, quiet.end())
    )
    assert words.is_negated(prompt) == negated


_OPTION_PIECES = st.sampled_from(
    ["only", "Only", "solely", "every", "everything", "guarantee", "guarantees", "eliminates",
     "eliminated", "always", "never", "x", "7", "_", "-", " ", "é", "ONLY"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(_OPTION_PIECES | st.text(max_size=2), max_size=12).map("".join))
def test_absolute_words_are_found_as_whole_words(option: str) -> None:
    from flashcards.answers.features import _ABSOLUTE_WORD
    from flashcards.answers.text import ABSOLUTES

    lowered = option.lower()
    expected = [w for w in re.findall("[a-z]+", lowered) if w in ABSOLUTES]
    assert _ABSOLUTE_WORD.findall(lowered) == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.0, 2.5, -3.0]), min_size=1, max_size=6))
def test_best_two_equals_its_definition(values: list[float]) -> None:
    from flashcards.answers.features import _best_two

    first = max(range(len(values)), key=values.__getitem__)
    others = [v for i, v in enumerate(values) if i != first]
    found = _best_two(values)
    assert found == (first, values[first], max(others, default=0.0))
    assert [math.copysign(1, v) for v in found[1:]] == [
        math.copysign(1, v) for v in (values[first], max(others, default=0.0))
    ]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([".", "!", "?", ";", " ", "  ", "\n", "\u00a0", "a", "b."])))
def test_sentences_split_as_the_look_behind_pattern(pieces: list[str]) -> None:
    from flashcards.answers.features import _split_sentences

    text = "".join(pieces).strip()
    assert _split_sentences(text) == re.split(r"(?<=[.!?;])\s+(?=\S)", text)


_PAPER_WORDS = st.sampled_from(
    ["model", "models", "data", "router", "expert", "experts", "sparse", "no", "without",
     "and", ",", ".", ";", "the", "7b", "two", "gate", "gating"]
)  # fmt: skip
_PAPER_TEXTS = st.lists(_PAPER_WORDS, max_size=30).map(" ".join)


@st.composite
def papers_and_questions(draw: st.DrawFn) -> tuple[Paper, Question]:
    fields = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), _PAPER_TEXTS, max_size=4))
    options = tuple(draw(st.lists(_PAPER_TEXTS, min_size=2, max_size=4)))
    prompt = draw(_PAPER_TEXTS)
    return Paper(draw(_PAPER_TEXTS), fields=fields), Question(1, prompt, options)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(papers_and_questions())
def test_phrases_and_word_sets_of_made_up_papers_equal_their_definitions(
    made_up: tuple[Paper, Question],
) -> None:
    # The longest run is searched only where two of an option's pairs in a row are side by
    # side; the word sets reuse the vocabulary when nothing is denied or no field is earlier
    # work. Both against their definitions, on papers of few words (many runs and repeats).
    from flashcards.answers.features import FEATURE_NAMES, score_options
    from flashcards.answers.model import shipped_frequencies
    from flashcards.answers.text import tokens

    paper, question = made_up
    index = PaperIndex(paper)
    segments = index.segments
    pairs = [(s, t, n) for s in segments for t, n in zip(s.tokens, s.negated, strict=True)]
    own = [(s, t, n) for s, t, n in pairs if s.field != "previous_research"]
    assert index.vocabulary == {t for _, t, _ in pairs}
    assert index.affirmed == {t for _, t, n in pairs if not n}
    assert index.own_work == {t for _, t, _ in own}
    assert index.claimed == {t for _, t, n in own if not n}
    rows = score_options(paper, question, index, shipped_frequencies().idf).features
    asked = set(tokens(question.prompt))
    for raw, row in zip(question.options, rows, strict=True):
        option = tokens(raw)
        distinctive = set(option) - asked
        best = max(
            (_reference_longest_run(option, s) for s in segments if distinctive & set(s.tokens)),
            default=0,
        )
        phrase = best / len(option) if best > 1 else 0.0
        assert row[FEATURE_NAMES.index("phrase")] == phrase
