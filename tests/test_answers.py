"""Answer resolution: the key file, precedence key > marked > inferred, the unsure threshold,
negated questions, our own hand-made digest, and the `flashcards answers` round trip."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import FIXTURES

from flashcards.answers import (
    DEFAULT_UNSURE_THRESHOLD,
    AnswerCounts,
    AnswerKey,
    count_answers,
    format_answer_key,
    load_answer_key,
    paper_key_of,
    resolve_answers,
)
from flashcards.answers.features import (
    FEATURE_NAMES,
    PaperIndex,
    option_features,
)
from flashcards.answers.model import (
    MAX_INFERRED_CONFIDENCE,
    PLAIN_FEATURES,
    UNBACKED_CAP,
    Model,
    calibrate,
    decide,
    infer_answer,
    option_probabilities,
    shipped_frequencies,
    shipped_model,
)
from flashcards.answers.text import (
    asks_about_prior_work,
    asks_what_is_avoided,
    is_negated,
    stem,
    tokens,
)
from flashcards.cli import main
from flashcards.errors import ConfigError
from flashcards.model import Digest, Paper, Question
from flashcards.parse import parse_file

ANSWER_FIXTURES = FIXTURES / "answers"
HANDMADE = ANSWER_FIXTURES / "handmade.txt"
HANDMADE_KEY = ANSWER_FIXTURES / "handmade_key.yaml"


def write(tmp_path: Path, text: str, name: str = "key.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sample_digest() -> Digest:
    """Two papers: one with a marked question, one whose text clearly answers its question."""
    marked = Question(1, "Which colour?", ("red", "green", "blue"), 2, "marked", 1.0, False)
    open_q = Question(
        2,
        "Which optimiser trains the sparse gating network?",
        ("Plain stochastic gradient descent", "Evolution strategies", "Simulated annealing"),
    )
    first = Paper(
        "A Paper About Gating",
        arxiv_id="2401.00001",
        fields={
            "methods": "The sparse gating network is trained with evolution strategies, "
            "because its routing decisions are not differentiable.",
            "results": "Routing quality improves by 12% over a dense baseline.",
        },
        questions=(marked, open_q),
    )
    second = Paper(
        "A Paper Without Link",
        fields={"methods": "Layers are pruned by magnitude."},
        questions=(Question(1, "How are layers pruned?", ("By magnitude", "At random")),),
    )
    return Digest("sample.txt", "quiz-text", date(2025, 1, 2), (first, second))


# -- the key file ------------------------------------------------------------------------------


def test_key_file_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '"2504.17761": [B, C, A]\n'
        "2504.17760: [a, ~, null]\n"  # unquoted: must keep its trailing zero
        "arxiv:2401.00001v2: [B, ?]\n"
        "title:a-paper-without-link: BCA\n"
        "Another Paper, Its Title!:\n  - C\n  - ?\n",
    )
    key = load_answer_key(path)
    assert key.answers == {
        "arxiv:2504.17761": (1, 2, 0),
        "arxiv:2504.17760": (0, None, None),
        "arxiv:2401.00001": (1, None),
        "title:a-paper-without-link": (1, 2, 0),
        "title:another-paper-its-title": (2, None),
    }
    assert key.lines["arxiv:2401.00001"] == 3
    assert key.source == str(path)


def test_paper_key_of_matches_paper_key() -> None:
    paper = Paper("GigaTok: Scaling Visual Tokenizers to 3 Billion Parameters")
    assert paper_key_of(paper.title) == paper.key
    assert paper_key_of("hep-th/0601001v3") == "arxiv:hep-th/0601001"
    # The same id grammar as the parsers' links, version suffix in either case.
    assert paper_key_of("arXiv: 2504.17761V2") == "arxiv:2504.17761"


def test_empty_key_file_is_an_empty_key(tmp_path: Path) -> None:
    assert load_answer_key(write(tmp_path, "# nothing confirmed yet\n")).answers == {}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            '"2504.17761": [B, E7]\n',
            "2504.17761: 'E7' is not an option letter "
            "(A, B, C, …, ~B for an unchecked guess, or ? for unknown)",
            1,
        ),
        ('"2504.17761": [B]\n"2504.17761": [C]\n', "2504.17761: listed twice (first on line 1)", 2),
        ('"2504.17761": 3\n', "2504.17761: expected a list of letters like [B, C, A]", 1),
        (
            '"2504.17761": [[B]]\n',
            "2504.17761: expected an option letter, got a nested structure",
            1,
        ),
        (
            "- B\n- C\n",
            "an answer key maps arXiv ids (or titles) to lists of letters, "
            'e.g. "2504.17761": [B, C, A]',
            1,
        ),
        ('"2504.17761": [B\n', "invalid YAML: expected ',' or ']', but got '<stream end>'", 2),
    ],
)
def test_key_file_errors(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_answer_key(path)
    assert info.value.message == message
    assert (info.value.path, info.value.line) == (str(path), line)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="answer key file not found"):
        load_answer_key(tmp_path / "nope.yaml")


def test_key_matching_no_paper_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '"2401.00001": [B]\n"2501.99999": [A]\n')
    with pytest.raises(ConfigError) as info:
        resolve_answers([sample_digest()], load_answer_key(path))
    assert str(info.value) == f"{path}:2: 2501.99999: matches no paper of the digests read"


def test_key_letter_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, '"2401.00001": [A, D]\n')
    with pytest.raises(ConfigError) as info:
        resolve_answers([sample_digest()], load_answer_key(path))
    assert str(info.value) == (
        f"{path}:1: 2401.00001: answer D for Q2 is out of range (the question has 3 options, A–C)"
    )


def test_key_letter_out_of_range_names_the_letter_line(tmp_path: Path) -> None:
    """In the block form `flashcards answers` writes, each letter sits lines below its entry,
    under its question: the error points at the letter to fix."""
    path = write(
        tmp_path,
        '"2401.00001":\n  # Q1. …\n  - A  # Q1\n  # Q2. …\n  #   A) …\n  - D  # Q2 checked\n',
    )
    with pytest.raises(ConfigError) as info:
        resolve_answers([sample_digest()], load_answer_key(path))
    assert str(info.value) == (
        f"{path}:6: 2401.00001: answer D for Q2 is out of range (the question has 3 options, A–C)"
    )
    path.write_text('"title:a-paper-without-link":\n  - A\n  # a fourth letter\n  - B\n')
    with pytest.raises(ConfigError) as info:
        resolve_answers([sample_digest()], load_answer_key(path))
    assert info.value.line == 4


def test_key_with_more_answers_than_questions(tmp_path: Path) -> None:
    path = write(tmp_path, '"title:a-paper-without-link": [A, B]\n')
    with pytest.raises(ConfigError) as info:
        resolve_answers([sample_digest()], load_answer_key(path))
    assert info.value.message == (
        "title:a-paper-without-link: 2 answers given but the paper has 1 questions"
    )


# -- precedence and threshold ---------------------------------------------------------------


def questions_of(digests: list[Digest]) -> list[Question]:
    return [q for d in digests for p in d.papers for q in p.questions]


def test_precedence_key_over_marked_over_inferred() -> None:
    digest = sample_digest()
    plain = questions_of(resolve_answers([digest]))
    assert [(q.answer, q.answer_source) for q in plain] == [
        (2, "marked"),
        (1, "inferred"),  # the text says "evolution strategies"
        (0, "inferred"),
    ]
    assert plain[0].confidence == 1.0 and plain[0].unsure is False
    assert "evolution strategies" in (plain[1].evidence or "")
    key = AnswerKey("k.yaml", {"arxiv:2401.00001": (0, None)})
    keyed = questions_of(resolve_answers([digest], key))
    assert [(q.answer, q.answer_source) for q in keyed] == [
        (0, "key"),  # the key beats the digest's own mark
        (1, "inferred"),  # `?` in the key leaves the question to inference
        (0, "inferred"),
    ]
    assert (keyed[0].confidence, keyed[0].unsure, keyed[0].evidence) == (1.0, False, None)


def test_every_question_gets_all_answer_fields() -> None:
    for question in questions_of(resolve_answers([sample_digest()])):
        assert question.answer is not None
        assert question.answer_source in ("key", "marked", "inferred")
        assert question.confidence is not None and 0.0 <= question.confidence <= 1.0
        assert question.unsure is not None


def test_unsure_threshold() -> None:
    digest = sample_digest()
    inferred = [q for q in questions_of(resolve_answers([digest])) if q.answer_source == "inferred"]
    assert all(q.unsure == (q.confidence < DEFAULT_UNSURE_THRESHOLD) for q in inferred)
    nobody = questions_of(resolve_answers([digest], threshold=0.0))
    everybody = questions_of(resolve_answers([digest], threshold=1.0))
    assert [q.unsure for q in nobody] == [False, False, False]
    # A mark is never unsure, whatever the threshold.
    assert [q.unsure for q in everybody] == [False, True, True]
    with pytest.raises(ConfigError, match="between 0 and 1"):
        resolve_answers([digest], threshold=1.5)


# -- inference -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "negated"),
    [
        ("Which of the following is NOT part of the pipeline?", True),
        ("All of these were evaluated EXCEPT:", True),
        ("Which approach was found to *not* work well?", True),
        ("Which component is not part of the reward design?", True),
        ("Which of these was not used in pre-training?", True),
        ("What phenomenon was observed that was not present in supervised data?", False),
        ("Why does the model not only rely on text?", False),
        ("What is the main innovation of the paper?", False),
    ],
)
def test_is_negated(prompt: str, negated: bool) -> None:
    assert is_negated(prompt) is negated


def test_negated_question_picks_the_option_the_text_does_not_back() -> None:
    paper = Paper(
        "Gadget",
        fields={
            "methods": "Gadget combines a retrieval module, a planning module and a verifier "
            "that checks every step.",
        },
    )
    question = Question(
        1,
        "Which of these is NOT a component of Gadget?",
        ("A retrieval module", "A reinforcement-learned reward model", "A verifier"),
    )
    guess = infer_answer(paper, question)
    assert guess.negated and guess.answer == 1
    positive = Question(1, "Which component checks every step?", question.options)
    assert infer_answer(paper, positive).answer == 2


def test_numbers_and_percentages_match_exactly() -> None:
    assert tokens("a 24.5 percent gain, 4.6× faster, 10,000 times") == (
        "24.5%",
        "gain",
        "4.6x",
        "fast",
        "10000",
        "time",
    )
    paper = Paper("P", fields={"results": "Accuracy rises to 24.5% on the test set."})
    question = Question(1, "What accuracy is reached?", ("12.5%", "24.5%", "42.5%"))
    assert infer_answer(paper, question).answer == 1


def paper_of(**fields: str) -> Paper:
    return Paper("A Made-Up Paper", fields=fields)


def test_numbers_bind_to_the_words_of_the_question() -> None:
    """Several options' numbers in one sentence: the one next to the question's words wins,
    whatever the rarity of the number itself."""
    paper = paper_of(
        methods="Each layer holds sixteen adapters, of which a gate activates three per "
        "request; the model was tuned for 9 days."
    )
    question = Question(
        1, "How many adapters does the gate activate per request?", ("Nine", "Sixteen", "Three")
    )
    assert infer_answer(paper, question).answer == 2
    total = Question(1, "How many adapters does each layer hold?", question.options)
    assert infer_answer(paper, total).answer == 1


def test_a_multi_word_name_counts_as_one_clue() -> None:
    """ "Gizmo 4x2B" names the subject; what is asked about it ("active") decides."""
    paper = paper_of(
        methods="Gizmo 4x2B has 9B weights in total but uses only 3B active weights per "
        "query; it reads 16k tokens."
    )
    question = Question(
        1, "How many weights are active per query in Gizmo 4x2B?", ("2B", "3B", "9B")
    )
    assert infer_answer(paper, question).answer == 1


def test_acronyms_in_questions_find_their_spelled_out_words() -> None:
    paper = paper_of(
        previous_research="Deep belief networks need slow layer-wise pretraining.",
        methods="Stacked ridge units replace them and train end to end.",
    )
    index = PaperIndex(paper)
    # segments: the title, the previous-research sentence, the methods sentence
    assert index.acronym_positions("dbn") == ((), (0,), ())
    assert index.acronym_positions("xyz") == ((), (), ())


@pytest.mark.parametrize(
    ("prompt", "avoided"),
    [
        ("Compared with TRPO, what does PPO avoid?", True),
        ("What does the method eliminate the need for?", True),
        ("Which step does the pipeline no longer require?", True),
        ("Which of the following does the method eliminate?", True),
        ("What does the method use instead of a reward model?", False),
        ("What happens when the regulariser is removed?", False),
        # the avoided thing is given; the question asks for the means
        ("How does FlashAttention avoid storing the attention matrix?", False),
        ("What does the model use to avoid collapse?", False),
        ("What technique helps avoid overfitting?", False),
    ],
)
def test_asks_what_is_avoided(prompt: str, avoided: bool) -> None:
    assert asks_what_is_avoided(prompt) is avoided


def test_what_a_method_avoids_is_what_the_text_leaves_to_others() -> None:
    paper = paper_of(
        previous_research="Iterative mesh refinement is accurate but slow, relying on a costly "
        "global solver at every step.",
        methods="Our sampler alternates between drawing points from the surface and "
        "fitting a local quadratic patch to each batch.",
    )
    options = (
        "Drawing points from the surface between fits",
        "A costly global solver",
        "Fitting local patches",
    )
    question = Question(1, "Compared with IMR, what does our sampler avoid?", options)
    assert infer_answer(paper, question).answer == 1
    positive = Question(1, "What does the sampler alternate with fitting patches?", options)
    assert infer_answer(paper, positive).answer == 0


def test_negated_question_answer_may_be_what_the_text_denies() -> None:
    """ "no replay buffer" mentions the buffer, but does not claim it: that is what the
    method does NOT use."""
    paper = paper_of(
        previous_research="Earlier agents depended on a replay buffer; ours needs none.",
        methods="A policy network and a value network are trained together from fresh "
        "rollouts, without any replay buffer.",
    )
    question = Question(
        1,
        "Which of these does the agent NOT use?",
        ("A policy network", "A value network", "A replay buffer of past transitions"),
    )
    guess = infer_answer(paper, question)
    assert guess.negated and guess.answer == 2


def test_british_and_american_spellings_meet() -> None:
    for british, american in [
        ("labelled", "labeled"),
        ("optimise", "optimize"),
        ("optimiser", "optimizer"),
        ("localisation", "localization"),
        ("normalised", "normalized"),
        ("analyse", "analyze"),
    ]:
        assert stem(british) == stem(american), british
    assert stem("localization") != stem("local")  # "-ization" no longer strips to the root


# -- the human in the loop: `flashcards answers` ------------------------------------------------


def test_answers_command_round_trips_through_the_key(tmp_path: Path) -> None:
    """Sure answers come back from the key; unsure ones are written as ? (best guess in the
    comment) and stay inferred and unsure: an unchecked guess never passes for the key's."""
    out = tmp_path / "key.yaml"
    result = CliRunner().invoke(main, ["answers", str(HANDMADE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    resolved = questions_of(resolve_answers(parse_file(HANDMADE)))
    unsure = [q for q in resolved if q.unsure]
    assert 0 < len(unsure) < len(resolved)
    assert result.output == (
        f"wrote {out}: 18 answers (0 from the key, 0 marked in the digests, 18 inferred, "
        f"{len(unsure)} of them unsure, written as ?: check those)\n"
    )
    text = out.read_text(encoding="utf-8")
    assert '"1706.03762":' in text
    first = unsure[0]
    percent = round(100 * (first.confidence or 0))
    assert (
        f"  - ?  # Q{first.number} unsure ({percent}%): best guess "
        f"{'ABC'[first.answer or 0]} — evidence: "
    ) in text
    # Each letter has its question and lettered options above it.
    assert f"  # Q{first.number}. {first.prompt}\n  #   A) {first.options[0]}\n" in text
    key = load_answer_key(out)
    # Sure inferred answers are written as ~X (unchecked): unknown to the key, kept as guesses.
    assert [a for letters in key.answers.values() for a in letters] == [None] * len(resolved)
    assert [g for entry in key.answers for g in key.guesses.get(entry, (None,) * 6)][
        : len(resolved)
    ] == [None if q.unsure else q.answer for q in resolved]
    # The next parse still calls every one of them inferred: nobody checked them.
    parsed = CliRunner().invoke(main, ["parse", "--json", str(HANDMADE), "--answers", str(out)])
    assert parsed.exit_code == 0, parsed.output
    document = json.loads(parsed.output)
    questions = [q for p in document["digests"][0]["papers"] for q in p["questions"]]
    assert [(q["answer_source"], q["unsure"]) for q in questions] == [
        ("inferred", q.unsure) for q in resolved
    ]
    assert [q["answer"] for q in questions] == [q.answer for q in resolved]


def test_guess_unsure_writes_unsure_answers_as_unchecked_guesses(tmp_path: Path) -> None:
    """--guess-unsure writes an unsure answer's letter, but as `~X`: a guess under the threshold
    must not come back as "from your answer key" before a person has checked it."""
    out = tmp_path / "key.yaml"
    result = CliRunner().invoke(main, ["answers", str(HANDMADE), "-o", str(out), "--guess-unsure"])
    assert result.exit_code == 0, result.output
    assert "unsure, written as ~ and their best guess: check those)" in result.output
    resolved = questions_of(resolve_answers(parse_file(HANDMADE)))
    assert any(q.unsure for q in resolved)
    key = load_answer_key(out)
    assert [a for letters in key.answers.values() for a in letters] == [None] * len(resolved)
    assert [g for entry in key.answers for g in key.guesses.get(entry, (None,) * 6)][
        : len(resolved)
    ] == [q.answer for q in resolved]
    assert "best guess" not in out.read_text(encoding="utf-8")
    # The next build still calls the unsure ones inferred and unsure.
    parsed = CliRunner().invoke(main, ["parse", "--json", str(HANDMADE), "--answers", str(out)])
    assert parsed.exit_code == 0, parsed.output
    questions = [
        q for p in json.loads(parsed.output)["digests"][0]["papers"] for q in p["questions"]
    ]
    assert [(q["answer_source"], q["unsure"]) for q in questions] == [
        ("inferred", q.unsure) for q in resolved
    ]


def test_key_lines_say_where_each_answer_came_from() -> None:
    resolved = resolve_answers([sample_digest()], threshold=1.0)
    commented = format_answer_key(resolved)
    text = "".join(line for line in commented.splitlines(True) if not line.startswith("  #"))
    assert '"2401.00001":\n  - C  # Q1 marked in the digest\n  - ?  # Q2 unsure (' in text
    assert "): best guess B — evidence: The sparse gating network is trained with" in text
    assert '"title:a-paper-without-link":\n  - ?  # Q1 unsure (' in text
    guessed = format_answer_key(resolved, guess_unsure=True)
    assert "  - ~B  # Q2 unsure (" in guessed and "best guess" not in guessed
    sure = format_answer_key(resolve_answers([sample_digest()], threshold=0.0))
    assert "  - ~B  # Q2 inferred (" in sure and "  - ?" not in sure
    keyed = resolve_answers([sample_digest()], AnswerKey("k.yaml", {"arxiv:2401.00001": (0,)}))
    assert "  - A  # Q1 from the answer key\n" in format_answer_key(keyed)


def test_inferred_confidence_stops_at_99_percent() -> None:
    """No inference from a summary is certain: even text that states the answer outright
    gives 0.99 at most, so the key file and the cards say "inferred (99%)", never 100%."""
    inferred = [
        q
        for q in questions_of(resolve_answers([sample_digest()], threshold=0.0))
        if q.answer_source == "inferred"
    ]
    assert [q.confidence for q in inferred] == [MAX_INFERRED_CONFIDENCE] * 2
    assert "  - ~B  # Q2 inferred (99%), unchecked: evidence: The sparse" in format_answer_key(
        resolve_answers([sample_digest()], threshold=0.0)
    )
    # Whatever the fit: a model all but certain of option A still says 0.99.
    sure_of_a = Model((1.0,) * len(PLAIN_FEATURES), (0.0,) * 4, (5.0, 5.0), shipped_frequencies())
    rows = [[10.0] * len(FEATURE_NAMES), [0.0] * len(FEATURE_NAMES)]
    assert calibrate(option_probabilities(sure_of_a, rows, False)[0], 5.0, 5.0) > 0.9999
    assert decide(sure_of_a, rows, negated=False)[:2] == (0, MAX_INFERRED_CONFIDENCE)


def test_an_answer_the_text_does_not_favour_is_never_sure() -> None:
    """A digest that names neither option: only the quiz writer's habits (the longer option)
    choose, and a digest from another writer need not share them, so the answer stays under
    the unsure threshold however strongly those habits pull."""
    paper = paper_of(
        methods="Activations are normalised with the statistics of each mini-batch.",
        results="Training needs fourteen times fewer steps.",
    )
    question = Question(1, "Which regulariser could the authors drop?", ("Weight decay", "Dropout"))
    guess = infer_answer(paper, question)
    assert guess.answer == 0  # the longer option
    assert guess.confidence <= UNBACKED_CAP < DEFAULT_UNSURE_THRESHOLD
    # The cap holds by itself: the real digests' model alone (no stated-answers pooling, no
    # habit-free second opinion) would be sure of the longer option.
    model = dataclasses.replace(shipped_model(), habit_free_weights=(), stated_share=0.0)
    alone = infer_answer(paper, question, model=model)
    assert calibrate(max(alone.probabilities), *model.calibration) >= DEFAULT_UNSURE_THRESHOLD
    assert alone.confidence == UNBACKED_CAP
    # Once the text names one of them, the cap no longer applies.
    stated = paper_of(methods="With this, dropout could be removed without overfitting.")
    backed = infer_answer(stated, question)
    assert backed.answer == 1 and backed.confidence > UNBACKED_CAP


def test_count_answers_tallies_every_question_by_source() -> None:
    keyed = resolve_answers(
        [sample_digest()], AnswerKey("k.yaml", {"arxiv:2401.00001": (0,)}), threshold=1.0
    )
    assert count_answers(keyed) == AnswerCounts(questions=3, key=1, marked=0, inferred=2, unsure=2)
    assert count_answers(resolve_answers([sample_digest()], threshold=0.0)) == AnswerCounts(
        questions=3, key=0, marked=1, inferred=2, unsure=0
    )


def test_parse_json_fills_answers_and_honours_unsure_below(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["parse", "--json", "--unsure-below", "0", str(HANDMADE)])
    assert result.exit_code == 0, result.output
    questions = [
        q for p in json.loads(result.output)["digests"][0]["papers"] for q in p["questions"]
    ]
    assert all(q["answer_source"] == "inferred" and q["unsure"] is False for q in questions)
    assert all(isinstance(q["answer"], int) and q["evidence"] for q in questions)
    bad = write(tmp_path, '"9999.99999": [A]\n')
    result = runner.invoke(main, ["parse", str(HANDMADE), "--answers", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}:1: 9999.99999: matches no paper of the digests read"
    )


def test_answers_command_writes_like_every_other_output(tmp_path: Path) -> None:
    """Through `atomicfile`: the usual file mode (not mkstemp's 0600), and a failed write is a
    one-line error with the exit code of failed writes (1)."""
    out = tmp_path / "keys" / "key.yaml"
    result = CliRunner().invoke(main, ["answers", str(HANDMADE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    failed = CliRunner().invoke(main, ["answers", str(HANDMADE), "-o", str(tmp_path)])
    assert failed.exit_code == 1
    assert failed.stderr == (
        f"error: {tmp_path}: cannot write: Is a directory; nothing was changed\n"
    )


def test_written_key_says_only_plain_letters_are_the_key() -> None:
    from flashcards.answers import format_answer_key
    from flashcards.parse import parse_file

    text = format_answer_key(resolve_answers(parse_file(FIXTURES / "answers" / "handmade.txt")))
    header = [line for line in text.splitlines()[:8] if line.startswith("#")]
    assert any('Only plain letters read "from your answer key"' in line for line in header)
    assert any("~B is an inferred letter nobody has checked" in line for line in header)


def test_unchecked_letters_stay_inferred_until_the_tilde_goes(tmp_path: Path) -> None:
    """`~B` is unknown to the key (the build infers again); `B` is the key's; `~` alone and `?`
    still mean unknown, as in old files; rewriting keeps a `~B` guess of a paper not read."""
    path = write(tmp_path, '"2401.00001": [~C, ~B]\n"2401.99999": [~A, B, ~, ?]\n"x y": ~BA\n')
    key = load_answer_key(path)
    assert key.answers["arxiv:2401.00001"] == (None, None)
    assert key.guesses["arxiv:2401.00001"] == (2, 1)
    assert key.answers["arxiv:2401.99999"] == (None, 1, None, None)
    assert key.answers["title:x-y"] == (None, 0)
    questions = questions_of(resolve_answers([sample_digest()], key, require_match=False))
    assert questions[1].answer_source == "inferred"
    confirmed = write(tmp_path, '"2401.00001": [~C, B]\n')
    questions = questions_of(resolve_answers([sample_digest()], load_answer_key(confirmed)))
    assert (questions[1].answer, questions[1].answer_source) == (1, "key")
    text = format_answer_key(resolve_answers([sample_digest()]), kept=key)
    assert '"2401.99999": [~A, B, ?, ?]\n' in text


def test_answers_command_keeps_the_checked_letters_of_an_existing_key(tmp_path: Path) -> None:
    """Refreshing a key must not lose a person's work: a letter that replaced a `?` survives,
    and entries for papers of other days are carried over as they were (the daily loop is
    `flashcards answers today.txt -o KEY.yaml`). `--fresh` starts over."""
    out = tmp_path / "key.yaml"
    runner = CliRunner()
    assert runner.invoke(main, ["answers", str(HANDMADE), "-o", str(out)]).exit_code == 0
    resolved = questions_of(resolve_answers(parse_file(HANDMADE)))
    position = next(i for i, q in enumerate(resolved) if q.unsure)
    checked = "ABC"[(resolved[position].answer or 0) + 1]  # the person disagrees with the guess
    lines = out.read_text(encoding="utf-8").splitlines()
    question_lines = [i for i, line in enumerate(lines) if line.startswith("  - ")]
    lines[question_lines[position]] = f"  - {checked}  # checked by hand"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = load_answer_key(out)

    other_day = ANSWER_FIXTURES / "handmade2.txt"
    result = runner.invoke(main, ["answers", str(other_day), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(
        f"; kept {len(before.answers)} entries of {out} for papers not read"
    )
    after = load_answer_key(out)
    for entry, letters in before.answers.items():
        assert after.answers[entry] == letters, entry
    assert set(after.answers) > set(before.answers)

    again = runner.invoke(main, ["answers", str(HANDMADE), str(other_day), "-o", str(out)])
    assert again.exit_code == 0, again.output
    rebuilt = questions_of(
        resolve_answers(parse_file(HANDMADE), load_answer_key(out), require_match=False)
    )
    assert rebuilt[position].answer == "ABC".index(checked)
    assert rebuilt[position].answer_source == "key"

    fresh = runner.invoke(main, ["answers", str(HANDMADE), "-o", str(out), "--fresh"])
    assert fresh.exit_code == 0, fresh.output
    assert "kept" not in fresh.output
    assert load_answer_key(out).answers.keys() == before.answers.keys()
    assert (
        questions_of(resolve_answers(parse_file(HANDMADE), load_answer_key(out)))[
            position
        ].answer_source
        == "inferred"
    )


@pytest.mark.parametrize("extra", [[], ["--fresh"], ["--answers", "KEY"]])
def test_answers_command_never_writes_over_a_digest_it_reads(
    tmp_path: Path, extra: list[str]
) -> None:
    """`-o` naming one of the digests read (a slip of the tab key) must not replace that digest
    with a key: with `--fresh` or another `--answers` the -o file is not read first, so nothing
    else stops it. The digest is refused whether named as a file or found in a folder."""
    folder = tmp_path / "digests"
    folder.mkdir()
    digest = folder / "day.txt"
    digest.write_bytes(HANDMADE.read_bytes())
    key = tmp_path / "key.yaml"
    key.write_text("", encoding="utf-8")
    extra = [str(key) if arg == "KEY" else arg for arg in extra]
    for inputs in ([str(digest)], [str(folder)]):
        result = CliRunner().invoke(main, ["answers", *inputs, "-o", str(digest), *extra])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {digest}: ")
        assert "is a digest" in result.stderr and "nothing was written" in result.stderr
        assert digest.read_bytes() == HANDMADE.read_bytes()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deck.state.json", '{\n"namespace": "AI Papers (deck.apkg)",\n"notes": {}\n}\n'),
        ("deck.yaml", "name: AI Papers\nsources: [digests]\n"),
        ("deck.apkg", "PK\x03\x04 not text"),
    ],
)
def test_fresh_key_never_replaces_a_file_that_is_not_a_key(
    tmp_path: Path, name: str, text: str
) -> None:
    """`--fresh` (or `--answers OTHER.yaml`) does not read the -o file's answers, but it must
    not replace a state file, a deck definition or a package named there by mistake."""
    out = tmp_path / name
    out.write_text(text, encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text("", encoding="utf-8")
    for extra in (["--fresh"], ["--answers", str(other)]):
        result = CliRunner().invoke(main, ["answers", str(HANDMADE), "-o", str(out), *extra])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {out}: is not an answer key"), result.stderr
        assert "nothing was written" in result.stderr
        assert out.read_text(encoding="utf-8") == text


def test_kept_entries_round_trip_with_unknown_letters(tmp_path: Path) -> None:
    kept = AnswerKey(
        "old.yaml",
        {"arxiv:2401.99999": (1, None, 0), "title:gone-paper": ()},
        names={"arxiv:2401.99999": "2401.99999", "title:gone-paper": "title:gone-paper"},
    )
    text = format_answer_key(resolve_answers([sample_digest()]), kept=kept)
    assert text.endswith('"2401.99999": [B, ?, A]\n"title:gone-paper": []\n')
    reloaded = load_answer_key(write(tmp_path, text)).answers
    assert {entry: reloaded[entry] for entry in kept.answers} == kept.answers


def test_greek_letters_are_words() -> None:
    """ "β2 = 0.999" keeps its β: otherwise the question's "β2" is the bare number 2."""
    assert tokens("defaults β1 = 0.9, β2 = 0.999, λ small") == (
        "default",
        "beta1",
        "0.9",
        "beta2",
        "0.999",
        "lambda",
        "small",
    )


def test_an_absolute_the_paper_itself_uses_is_no_distractor_cue() -> None:
    """ "Only" in an option is a distractor's overstatement, unless the paper says "only" too."""
    column = FEATURE_NAMES.index("absolutes")
    question = Question(1, "What data was used?", ("Only public datasets", "Private crawls"))
    says_only = paper_of(methods="Trained on only publicly available data.")
    does_not = paper_of(methods="Trained on publicly available data.")
    assert option_features(says_only, question, shipped_frequencies())[0][column] == 0.0
    assert option_features(does_not, question, shipped_frequencies())[0][column] == 1.0


def test_a_question_about_earlier_work_may_be_answered_from_it() -> None:
    """What the paper says of earlier work does not count against an option when the question
    asks about earlier work (or about what the summary mentions at all)."""
    column = FEATURE_NAMES.index("prior_work_only")
    paper = paper_of(
        previous_research="Combines the strengths of AdaGrad and RMSProp.",
        methods="Keeps running averages of the gradient and its square.",
    )
    options = ("AdaGrad and RMSProp", "Nesterov momentum and L-BFGS")
    earlier = Question(1, "Which two earlier optimizers does it build on?", options)
    plain = Question(1, "Which two optimizers does it build on?", options)
    assert asks_about_prior_work(earlier.prompt) and not asks_about_prior_work(plain.prompt)
    assert option_features(paper, plain, shipped_frequencies())[0][column] == pytest.approx(1.0)
    assert option_features(paper, earlier, shipped_frequencies())[0][column] == 0.0
    assert infer_answer(paper, earlier).answer == 0
