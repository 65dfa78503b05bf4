"""Answer inference measured on labelled digests, always held out.

Real digests: the fit (weights, calibration, document frequencies) sees March–August 2025
only; the assertions are on September–December 2025, as they are and without their flow
charts. Thresholds are what `benchmarks/answers_eval.py` measures minus a small margin (README
"## Answers"). Digests whose summaries state the answers (tests/fixtures/answers): each one
scored by the shipped model with the stated-answers weights refitted without it, or never in
any fit (blind_d, blind_e, blind_f).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flashcards.answers import DEFAULT_UNSURE_THRESHOLD

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "answers_eval.py"


@cache
def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answers_eval", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["answers_eval"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark()


@cache
def _later_months(daily_paper: Path) -> dict[str, list[Any]]:
    bench = load_benchmark()
    items = bench.load_labelled(daily_paper)
    assert len(items) >= 850  # the text/HTML pairing found (nearly) every labelled question
    return bench.forward_protocols(items, {"plain": list, "no_workflow": bench.without_workflow})


@pytest.fixture
def later_months(corpus: Path) -> dict[str, list[Any]]:
    """Predictions of the model fitted on March–August 2025 for September–December, as the
    digests are and without their flow charts (fitted once for the tests that share it)."""
    return _later_months(corpus / "daily_paper")


def test_held_out_later_months_meet_the_targets(
    later_months: dict[str, list[Any]], bench: ModuleType
) -> None:
    result = bench.summary(later_months["plain"], DEFAULT_UNSURE_THRESHOLD)
    # measured: accuracy 0.900, coverage 0.670, precision of sure answers 0.983
    assert result["questions"] >= 340
    assert result["accuracy"] >= 0.87
    assert result["precision_sure"] >= 0.96
    assert result["coverage"] >= 0.64


def test_later_months_without_flow_charts_meet_the_targets(
    later_months: dict[str, list[Any]], bench: ModuleType
) -> None:
    """Later pages (2026) mostly have no flow chart: the same held-out months with every
    paper's workflow line dropped (the fit still saw them) must still meet the targets."""
    bare = later_months["no_workflow"]
    assert len(bare) >= 340
    assert not any("workflow" in p.item.paper.fields for p in bare)
    result = bench.summary(bare, DEFAULT_UNSURE_THRESHOLD)
    # measured: accuracy 0.860, coverage 0.570, precision of sure answers 0.995
    assert result["accuracy"] >= 0.84
    assert result["precision_sure"] >= 0.96
    assert result["coverage"] >= 0.54


def test_shipped_model_beats_the_baselines_on_shuffled_options(
    corpus: Path, bench: ModuleType
) -> None:
    """No position prior: shuffling the options of every question changes nothing much."""
    items = bench.permuted(bench.load_labelled(corpus / "daily_paper"), seed=1)
    predictions = bench.predict(bench.shipped(), items)
    result = bench.summary(predictions, DEFAULT_UNSURE_THRESHOLD)
    # in-sample for the weights, but the position information is gone: measured accuracy
    # 0.896, coverage 0.655, precision of sure answers 0.981
    assert result["accuracy"] >= 0.87
    assert result["precision_sure"] >= 0.96
    assert result["coverage"] >= 0.62


#: name → (questions, right, not unsure, wrong but not unsure), out of fold (see module doc).
#: handmade 1–2 guided the features, 3 was written before them, 4 after them; the blind_*
#: digests were written by team members who had not seen the inference code (README).
STATED_MEASURED = {
    "handmade": (18, 18, 12, 0),
    "handmade2": (24, 24, 18, 0),
    "handmade3": (24, 23, 15, 0),
    "handmade4": (24, 23, 17, 0),
    "blind_a1": (15, 13, 9, 0),
    "blind_a2": (16, 14, 11, 0),
    "blind_a3": (15, 14, 9, 0),
    "blind_a4": (17, 14, 7, 0),
    "blind_b1": (15, 14, 11, 0),
    "blind_b2": (16, 14, 11, 0),
    "blind_b3": (16, 9, 4, 0),
    "blind_b4": (15, 10, 5, 0),
    "blind_c1": (15, 15, 13, 0),
    "blind_c2": (15, 13, 12, 1),
    "blind_c3": (15, 15, 12, 0),
    "blind_c4": (15, 11, 10, 0),
    "blind_g1": (15, 12, 11, 1),
    "blind_g2": (15, 14, 9, 0),
    "blind_g3": (15, 14, 11, 0),
    "blind_g4": (15, 13, 9, 0),
    "blind_h1": (16, 15, 13, 1),
    "blind_h2": (16, 16, 13, 0),
    "blind_h3": (14, 12, 11, 0),
    "blind_h4": (15, 14, 13, 0),
    "blind_i1": (15, 11, 8, 0),
    "blind_i2": (15, 11, 9, 0),
    "blind_i3": (16, 12, 9, 1),
    "blind_i4": (14, 11, 11, 1),
    "blind_d1": (15, 15, 11, 0),
    "blind_d2": (16, 16, 12, 0),
    "blind_d3": (14, 13, 10, 0),
    "blind_d4": (16, 16, 10, 0),
    "blind_e1": (15, 13, 6, 0),
    "blind_e2": (15, 14, 10, 0),
    "blind_e3": (16, 15, 12, 0),
    "blind_e4": (14, 11, 12, 1),
    "blind_f1": (15, 13, 9, 0),
    "blind_f2": (16, 15, 12, 0),
    "blind_f3": (14, 13, 9, 0),
    "blind_f4": (15, 14, 8, 0),
    "blind_j1": (15, 15, 13, 0),
    "blind_j2": (14, 12, 12, 0),
    "blind_j3": (14, 13, 11, 0),
    "blind_j4": (14, 13, 11, 0),
}


def _counts(predictions: list[Any]) -> dict[str, tuple[int, int, int, int]]:
    counts: dict[str, list[int]] = {}
    for p in predictions:
        c = counts.setdefault(p.item.source, [0, 0, 0, 0])
        sure = p.confidence >= DEFAULT_UNSURE_THRESHOLD
        c[0] += 1
        c[1] += p.right
        c[2] += sure
        c[3] += sure and not p.right
    return {name: (c[0], c[1], c[2], c[3]) for name, c in counts.items()}


def test_digests_that_state_their_answers(bench: ModuleType) -> None:
    """The issue's second target: on digests whose summaries state the answers, nearly every
    answer right and the misses unsure. Met on our own (88 of 90 right, no sure miss); by other
    writers 85% (in the fit, out of fold) to 93% (never fitted) right, and 6 wrong answers of
    694 are not marked unsure."""
    from flashcards.answers.model import shipped_model

    model = shipped_model()
    out_of_fold = bench.stated_out_of_fold(model, bench.load_handmade(bench.STATED_TRAIN))
    held_out = bench.predict(model, bench.load_handmade(bench.BLIND_HELD_OUT))
    counts = _counts(out_of_fold) | _counts(held_out)
    assert counts == STATED_MEASURED
    ours = [c for name, c in counts.items() if name.startswith("handmade")]
    assert sum(c[1] for c in ours) / sum(c[0] for c in ours) >= 0.95
    assert all(c[3] == 0 for c in ours)
    never_fitted = [
        c for n, c in counts.items() if n.startswith(("blind_d", "blind_e", "blind_f", "blind_j"))
    ]
    total = [sum(c[i] for c in never_fitted) for i in range(4)]
    assert total == [238, 221, 168, 1]  # 92.9% right, 70.6% not unsure, 99.4% right then
    everything = [sum(c[i] for c in counts.values()) for i in range(4)]
    assert everything == [694, 620, 471, 6]
    assert everything[3] / everything[2] <= 0.015
