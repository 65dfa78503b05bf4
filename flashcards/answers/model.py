"""Step 2a, last source (`flashcards.answers` calls it): infer the correct option of a question
from the paper's own text.

A lexical method, no model download: each option is described by a few features measuring how
well the digest's text (fields, title, workflow) supports the words that are *distinctive* to
that option, plus a few style features; a conditional logit (softmax over the options of one
question) turns them into probabilities, and a Platt map calibrated on held-out labelled digests
turns the winner's probability into a confidence that means what it says (0.9 → right about 9
times in 10). Weights, calibration and the document-frequency table are data files
(`data/model.json`, `data/answer_idf.tsv`) written by `benchmarks/answers_eval.py --refit`; see
docs/answers.md for how well it does.

The real digests' questions were written from the full papers; in a digest whose summary states
the answer, what the summary repeats is the answer. So the probabilities pool a fit on the real
digests with a fit on digests that state their answers (`option_probabilities`). The real
digests' fit also learns their quiz writer's habits (the right option is the longest, rarely
says "only"), which another writer need not share: a plain question's confidence is the mean of
the pooled model's and a text-only model's calibrated opinions of the same answer (`decide`).

No answer-position prior is used on purpose: the real digests favour the second option, but a
digest from another writer need not, and a position prior made confident mistakes on such
digests in our tests.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from flashcards.answers.features import (
    FEATURE_NAMES,
    LONGEST_QUOTE_WORDS,
    DocumentFrequencies,
    PaperIndex,
    score_options,
)
from flashcards.model import Paper, Question, steps_around

#: The features the model of plain questions reads, in the order of `WEIGHTS`.
PLAIN_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n not in ("backed_frac", "backed_dominance")
)

#: Features that read the quiz writer's style, not the paper: right options are the longest,
#: distractors say "only" or "always", and (weakly) right options echo the question less.
STYLE_FEATURES: tuple[str, ...] = ("longer", "absolutes", "question_echo")

#: The second opinion on plain questions (see `decide`): the same features without the style.
HABIT_FREE_FEATURES: tuple[str, ...] = tuple(n for n in PLAIN_FEATURES if n not in STYLE_FEATURES)

#: A negated question ("which is NOT…", "EXCEPT") asks for the option the paper does not
#: claim for its own work: it has its own weights over these features (measured as for any
#: question, not flipped). What the paper only denies ("no Markov chains") or ascribes to
#: earlier work does not count as claimed.
NEGATED_FEATURES: tuple[str, ...] = ("backed_frac", "backed_dominance", "phrase", "bigrams")

#: The shipped fit (see `shipped_model`), next to this module.
MODEL_FILE = "data/model.json"
IDF_FILE = "data/answer_idf.tsv"


@dataclass(frozen=True)
class Inference:
    """The option inferred for one question."""

    answer: int  # 0-based index of the chosen option
    confidence: float  # calibrated probability that `answer` is right, in [0, 0.99]
    evidence: str | None  # the digest sentence the choice rests on
    probabilities: tuple[float, ...] = ()  # the model's (uncalibrated) share of each option
    negated: bool = False


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """Weights of the conditional logit (one set for plain, one for negated questions), the
    Platt calibration of the winner's probability, and the document frequencies."""

    weights: tuple[float, ...]
    negated_weights: tuple[float, ...]
    calibration: tuple[float, float]
    frequencies: DocumentFrequencies
    #: The habit-free second opinion on plain questions (`HABIT_FREE_FEATURES`); empty: none.
    habit_free_weights: tuple[float, ...] = ()
    habit_free_calibration: tuple[float, float] = (1.0, 0.0)
    #: The same two models fitted on digests whose summaries state the answers, and their
    #: share in the pooled probabilities (see `option_probabilities`); empty: not pooled.
    stated_weights: tuple[float, ...] = ()
    stated_negated_weights: tuple[float, ...] = ()
    stated_share: float = 0.0


#: The weight sets of `data/model.json`: (key, `Model` attribute, the features it reads).
_WEIGHT_SETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plain", "weights", PLAIN_FEATURES),
    ("negated", "negated_weights", NEGATED_FEATURES),
    ("habit_free", "habit_free_weights", HABIT_FREE_FEATURES),
    ("stated_plain", "stated_weights", PLAIN_FEATURES),
    ("stated_negated", "stated_negated_weights", NEGATED_FEATURES),
)
_CALIBRATIONS: tuple[tuple[str, str], ...] = (
    ("calibration", "calibration"),
    ("habit_free_calibration", "habit_free_calibration"),
)
#: Decimals the shipped numbers keep: a refit that moves a weight by less changes nothing.
_DECIMALS = 4


def _rounded(value: float) -> float:
    return float(f"{value:.{_DECIMALS}f}")


def model_json(model: Model, fitted_on: Mapping[str, Any]) -> str:
    """The text of `data/model.json` for `model` (its weights named by feature, rounded to
    `_DECIMALS`), with `fitted_on` saying what it was fitted on. `load_model` reads it back."""
    out: dict[str, Any] = {
        "about": "Written by benchmarks/answers_eval.py --refit; do not edit by hand.",
        "fitted_on": dict(fitted_on),
        "stated_share": model.stated_share,
    }
    for key, attribute, names in _WEIGHT_SETS:
        values: tuple[float, ...] = getattr(model, attribute)
        out[key] = dict(zip(names, (_rounded(v) for v in values), strict=True))
    for key, attribute in _CALIBRATIONS:
        a, b = getattr(model, attribute)
        out[key] = {"a": _rounded(a), "b": _rounded(b)}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def load_model(text: str, frequencies: DocumentFrequencies) -> Model:
    """The `Model` of a `model_json` text. Weights are matched to features by name: a file
    whose features are not the ones this code computes is refused (`ValueError`), since
    weights read by position would silently weigh the wrong features."""
    data = json.loads(text)
    weights: dict[str, tuple[float, ...]] = {}
    for key, attribute, names in _WEIGHT_SETS:
        named: dict[str, float] = data[key]
        if tuple(named) != names:
            raise ValueError(f"model {key} weights are for {tuple(named)}, expected {names}")
        weights[attribute] = tuple(float(named[name]) for name in names)
    calibrations: dict[str, tuple[float, float]] = {}
    for key, attribute in _CALIBRATIONS:
        calibrations[attribute] = (float(data[key]["a"]), float(data[key]["b"]))
    return Model(
        weights=weights["weights"],
        negated_weights=weights["negated_weights"],
        calibration=calibrations["calibration"],
        frequencies=frequencies,
        habit_free_weights=weights["habit_free_weights"],
        habit_free_calibration=calibrations["habit_free_calibration"],
        stated_weights=weights["stated_weights"],
        stated_negated_weights=weights["stated_negated_weights"],
        stated_share=float(data["stated_share"]),
    )


@cache
def shipped_frequencies() -> DocumentFrequencies:
    """The document frequencies shipped with the package (fitted on the labelled corpus)."""
    data = resources.files("flashcards.answers").joinpath(IDF_FILE)
    return DocumentFrequencies.from_tsv(data.read_text(encoding="utf-8"))


@cache
def shipped_model() -> Model:
    """The model fitted by `benchmarks/answers_eval.py --refit` and shipped as data files."""
    data = resources.files("flashcards.answers").joinpath(MODEL_FILE)
    return load_model(data.read_text(encoding="utf-8"), shipped_frequencies())


_PLAIN_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in PLAIN_FEATURES)
_NEGATED_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in NEGATED_FEATURES)
_HABIT_FREE_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in HABIT_FREE_FEATURES)
#: Columns of the plain model's rows that measure the text (not the quiz writer's style).
_TEXT_COLUMNS = tuple(PLAIN_FEATURES.index(name) for name in HABIT_FREE_FEATURES)
_TEXT_GETTER = operator.itemgetter(*_TEXT_COLUMNS)

#: See `decide`: the confidence of an answer the paper's text does not favour at all.
UNBACKED_CAP = 0.85
#: No inference from a summary is certain (the questions were written from the full paper):
#: an inferred answer never shows more than 99%, whatever the calibration says.
MAX_INFERRED_CONFIDENCE = 0.99


_PLAIN_GETTER = operator.itemgetter(*_PLAIN_COLUMNS)
_NEGATED_GETTER = operator.itemgetter(*_NEGATED_COLUMNS)
_HABIT_FREE_GETTER = operator.itemgetter(*_HABIT_FREE_COLUMNS)


def model_rows(rows: Sequence[Sequence[float]], negated: bool) -> list[list[float]]:
    """The columns of `option_features` rows that the plain or the negated model reads."""
    columns = _NEGATED_GETTER if negated else _PLAIN_GETTER
    return [list(columns(row)) for row in rows]


def habit_free_rows(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """The columns of `option_features` rows that the habit-free model reads."""
    return [list(_HABIT_FREE_GETTER(row)) for row in rows]


def _scores(weights: Sequence[float], rows: Sequence[Sequence[float]]) -> list[float]:
    # (`sum` of the products in the weights' order: the same additions as a generator's.)
    width = len(weights)
    if any(map(width.__ne__, map(len, rows))):
        raise ValueError(f"rows of {width} features expected")
    return [sum(map(operator.mul, weights, row)) for row in rows]


def habit_free_probabilities(
    weights: Sequence[float], rows: Sequence[Sequence[float]]
) -> list[float]:
    return softmax(_scores(weights, habit_free_rows(rows)))


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _log_softmax(weights: Sequence[float], rows: Sequence[Sequence[float]]) -> list[float]:
    scores = _scores(weights, rows)
    top = max(scores)
    total = math.log(sum([math.exp(s - top) for s in scores])) + top
    return [s - total for s in scores]


def option_probabilities(
    model: Model, rows: Sequence[Sequence[float]], negated: bool
) -> list[float]:
    """Each option's probability: the corpus model's, pooled (log-linear, `stated_share`) with
    the model fitted on digests that state their answers. The real digests' questions were
    written from the full papers, so their fit learns to distrust an option the summary
    repeats word for word; in a digest whose summary states the answer, that option is it."""
    return _pooled(model, model_rows(rows, negated), negated)


def _pooled(model: Model, columns: Sequence[Sequence[float]], negated: bool) -> list[float]:
    """`option_probabilities` of the `model_rows` `columns`."""
    scores = _log_softmax(model.negated_weights if negated else model.weights, columns)
    stated = model.stated_negated_weights if negated else model.stated_weights
    if stated and model.stated_share:
        share = model.stated_share
        other = _log_softmax(stated, columns)
        scores = [(1 - share) * a + share * b for a, b in zip(scores, other, strict=True)]
    return softmax(scores)


def decide(
    model: Model, rows: Sequence[Sequence[float]], negated: bool
) -> tuple[int, float, list[float]]:
    """The chosen option, its confidence and every option's (uncalibrated) probability.

    The winner is the pooled model's (`option_probabilities`). Its confidence, for a plain
    question, is the mean of two calibrated opinions: the pooled model's, and that of a
    text-only ("habit-free") model fitted without the `STYLE_FEATURES`. Quiz writers of the
    real digests make the right option the longest and keep "only" for distractors, and the
    pooled model leans on that; a writer who does not (hand-made digests with long, specific
    distractors, or a right answer that says "only") made it confidently wrong, and the
    text-only opinion pulls such answers under the threshold. Negated questions have no style
    features to begin with. The confidence is at most `MAX_INFERRED_CONFIDENCE`. An answer
    the text-only part of the score does not put ahead of every rival rests on the quiz
    writer's habits alone (the longer option…): those are
    right on the real digests, but a digest from another writer need not share them, so its
    confidence is capped at `UNBACKED_CAP`, below the default unsure threshold. ("What
    regulariser could the authors remove?", weight decay or dropout, in a digest that names
    neither: the longer option alone would give 0.90.) The cap reaches no further: an earlier
    one on every answer the text favoured by less than 1.5 logits made 9% of all answers
    unsure that were, on held-out months, right as often as their confidence said.
    """
    # (The columns as tuples: `model_rows` makes lists for callers that change them.)
    columns = list(map(_NEGATED_GETTER if negated else _PLAIN_GETTER, rows))
    probabilities = _pooled(model, columns, negated)
    best = probabilities.index(max(probabilities))  # (the first of equals, as `max` keeps)
    confidence = calibrate(probabilities[best], *model.calibration)
    if negated:
        return best, min(confidence, MAX_INFERRED_CONFIDENCE), probabilities
    # The habit-free model's columns are the text-only part of the plain model's row.
    text_columns = list(map(_HABIT_FREE_GETTER, rows))
    if model.habit_free_weights:
        scores = _scores(model.habit_free_weights, text_columns)
        second = softmax(scores)[best]
        confidence = (confidence + calibrate(second, *model.habit_free_calibration)) / 2
    if len(rows) > 1:
        weights = _TEXT_GETTER(model.weights)
        text = [sum(map(operator.mul, weights, row)) for row in text_columns]
        if text[best] <= max(text[:best] + text[best + 1 :]):
            confidence = min(confidence, UNBACKED_CAP)
    return best, min(confidence, MAX_INFERRED_CONFIDENCE), probabilities


def calibrate(probability: float, a: float, b: float) -> float:
    """Platt map of the winner's probability to a confidence."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    z = a * math.log(p / (1 - p)) + b
    return 1.0 / (1.0 + math.exp(-z))


def infer_answer(
    paper: Paper,
    question: Question,
    *,
    index: PaperIndex | None = None,
    model: Model | None = None,
) -> Inference:
    """The most likely option of `question` given `paper`'s text, its confidence and evidence.

    `index` lets a caller reuse one `PaperIndex` for all questions of a paper; `model` defaults
    to the shipped fit (the benchmark passes the ones it fits on training months).
    """
    model = model or shipped_model()
    idf = model.frequencies.idf_lookup
    scored = score_options(paper, question, index or PaperIndex(paper), idf)
    best, confidence, probabilities = decide(model, scored.features, scored.negated)
    evidence = scored.evidence[best]
    if scored.negated and not scored.avoided:
        # The answer is the option the text does not back; what backs the others is the proof.
        others = [e for i, e in enumerate(scored.evidence) if i != best and e]
        evidence = others[0] if others else None
    if evidence is not None and "workflow" in paper.fields:
        evidence = steps_around(evidence, paper.fields["workflow"], LONGEST_QUOTE_WORDS)
    return Inference(
        answer=best,
        confidence=round(confidence, 4),
        evidence=evidence,
        probabilities=tuple(map(round, probabilities, itertools.repeat(4))),
        negated=scored.negated,
    )
