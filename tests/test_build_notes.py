"""Identity and note building: GUIDs, escaping, links, tags, merging, answers on the card."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
from build_samples import QUIZ_FIELDS, digest, question, quiz_paper, table_paper
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flashcards import identity
from flashcards.anki.notes import (
    SUMMARY_FIELD_KEYS,
    NoteSpec,
    build_notes,
    escape_text,
    list_html,
    merge_paper,
    safe_link,
)
from flashcards.anki.notetypes import MCQ_FIELDS, SUMMARY_FIELDS, mcq_model, summary_model
from flashcards.model import FIELD_NAMES, Paper, Question
from flashcards.visible import visible_text

DAY1, DAY2 = date(2025, 4, 28), date(2025, 5, 2)


def _field(spec: NoteSpec, name: str) -> str:
    names = MCQ_FIELDS if spec.kind == "mcq" else SUMMARY_FIELDS
    return spec.fields[names.index(name)]


def _by_guid(specs: list[NoteSpec]) -> dict[str, NoteSpec]:
    return {s.guid: s for s in specs}


# --- identity ----------------------------------------------------------------------------------


def test_guids_are_pinned() -> None:
    # Changing these values would orphan every note users already have: this test must never be
    # "fixed" by updating the literals.
    assert identity.note_guid("arxiv:2504.17761", "mcq", 1) == "1IfDZSB1c589"
    assert identity.note_guid("arxiv:2504.17761", "summary") == "SzBu4piIbuN4"
    assert identity.deck_id("AI Papers") == 2051937763
    assert identity.field_id(identity.MCQ_MODEL_ID, "Prompt") == 3707052633226623
    assert (identity.MCQ_MODEL_ID, identity.SUMMARY_MODEL_ID) == (1655292312, 1282165969)


def test_identifiers_are_distinct_and_in_range() -> None:
    guids = {identity.note_guid("arxiv:2501.00001", "mcq", n) for n in range(1, 50)}
    guids.add(identity.note_guid("arxiv:2501.00001", "summary"))
    guids.add(identity.note_guid("arxiv:2501.00002", "summary"))
    assert len(guids) == 51
    assert all(re.fullmatch(r"[0-9A-Za-z]{12}", g) for g in guids)
    for name in ("AI Papers", "AI Papers::2025-04", "x"):
        assert (1 << 30) <= identity.deck_id(name) < (1 << 31)
    assert identity.deck_id("AI Papers") != identity.deck_id("AI Papers::2025-04")


def test_every_field_and_template_has_a_distinct_fixed_id() -> None:
    for model in (mcq_model(), summary_model()):
        ids = [f["id"] for f in model.fields] + [t["id"] for t in model.templates]
        assert all(isinstance(i, int) and 0 < i < 2**52 for i in ids)
        assert len(set(ids)) == len(ids)
    assert [f["name"] for f in mcq_model().fields] == list(MCQ_FIELDS)
    assert [t["name"] for t in summary_model().templates] == [
        "Topic",
        "Previous research",
        "Problem",
        "Methods",
        "Results",
        "Summary",
    ]


# --- GUID stability ----------------------------------------------------------------------------


def test_guids_survive_reordering_and_typo_fixes() -> None:
    a, b = quiz_paper("2501.00001"), quiz_paper("2501.00002", "Another Paper")
    before = build_notes([digest(DAY1, a, b)], deck="D")
    fixed_q = dataclasses.replace(a.questions[1], prompt="Which componnent is fixed now?")
    fixed = dataclasses.replace(
        a,
        title="Routing Tokens Sparsely (fixed)",
        fields={**a.fields, "problem": "Dense layers waste compute."},
        questions=(a.questions[0], fixed_q, a.questions[2]),
    )
    after = build_notes([digest(DAY1, b, fixed)], deck="D")
    assert set(_by_guid(before)) == set(_by_guid(after))
    assert len(before) == 8  # 2 summary notes + 6 questions
    old = _by_guid(before)
    changed = {g for g, s in _by_guid(after).items() if s.content_hash != old[g].content_hash}
    # The fixed paper's notes all change (its title is on every note); the other paper's do not.
    assert changed == {s.guid for s in before if "Routing" in _field(s, "Title")}


def test_a_paper_in_two_digests_is_one_note_with_merged_tags_and_latest_text() -> None:
    old = quiz_paper(fields={**QUIZ_FIELDS, "problem": "Old wording."})
    new = quiz_paper(
        fields={**QUIZ_FIELDS, "problem": "New wording.", "topic": ""},
        questions=[question(2, "A reworded second question?"), question(4)],
    )
    specs = build_notes([digest(DAY2, new), digest(DAY1, old)], deck="D")
    summary = [s for s in specs if s.kind == "summary"]
    assert len(summary) == 1
    assert _field(summary[0], "Problem") == "New wording."
    assert _field(summary[0], "Topic") == escape_text(QUIZ_FIELDS["topic"])  # empty never wins
    assert _field(summary[0], "Date") == "2025-04-28"
    assert {"date::2025-04-28", "date::2025-05-02", "arxiv::2501.00001"} <= set(summary[0].tags)
    numbers = sorted(int(_field(s, "Number")) for s in specs if s.kind == "mcq")
    assert numbers == [1, 2, 3, 4]
    q2 = next(s for s in specs if s.kind == "mcq" and _field(s, "Number") == "2")
    assert _field(q2, "Prompt") == "A reworded second question?"


def test_merge_prefers_the_most_trustworthy_answer() -> None:
    keyed = question(1, answer=2, answer_source="key", confidence=1.0)
    inferred = question(1, answer=0, answer_source="inferred", confidence=0.95, unsure=False)
    specs = build_notes(
        [
            digest(DAY1, quiz_paper(questions=[keyed])),
            digest(DAY2, quiz_paper(questions=[inferred])),
        ],
        deck="D",
        kinds=["mcq"],
    )
    assert [_field(s, "AnswerLetter") for s in specs] == ["C"]


def test_papers_without_arxiv_id_are_keyed_by_title() -> None:
    a = quiz_paper(None, "Learning to Route: A Study")
    b = quiz_paper(None, "learning to route -- a study")  # same title, other spelling
    specs = build_notes([digest(DAY1, a), digest(DAY2, b)], deck="D", kinds=["summary"])
    assert len(specs) == 1
    assert specs[0].guid == identity.note_guid("title:learning-to-route-a-study", "summary")
    assert not any(t.startswith("arxiv::") for t in specs[0].tags)


# --- fields ------------------------------------------------------------------------------------


HOSTILE = (
    '<script>alert(1)</script> <img src=x onerror=alert(2)> {{c1::secret}} [sound:a.mp3] & "q"'
)


def test_escape_text_makes_digest_text_inert() -> None:
    escaped = escape_text(HOSTILE + "\nsecond line")
    assert "<script" not in escaped and "<img" not in escaped
    assert "{" not in escaped and "}" not in escaped and "[sound:" not in escaped
    assert escaped == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; "
        "&#123;&#123;c1::secret&#125;&#125; &#91;sound:a.mp3] &amp; &quot;q&quot;<br>second line"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2501.00001", "https://arxiv.org/abs/2501.00001"),
        ("http://example.org/a?b=1&c=2", "http://example.org/a?b=1&amp;c=2"),
        ("HTTPS://EXAMPLE.ORG/x", "HTTPS://EXAMPLE.ORG/x"),
        ("javascript:alert(1)", ""),
        ("JavaScript://example.org/%0Aalert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("file:///etc/passwd", ""),
        ("//example.org/no-scheme", ""),
        ('https://example.org/a"onmouseover=alert(1)', ""),
        ("https://exa mple.org/", ""),
        ("https:///no-host", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_link_keeps_only_http_links(url: str | None, expected: str) -> None:
    assert safe_link(url) == expected


def test_hostile_paper_gives_only_our_own_markup() -> None:
    q = question(1, HOSTILE, options=(HOSTILE, "b", "c"), answer=0, answer_source="marked")
    paper = dataclasses.replace(
        quiz_paper(fields={"problem": HOSTILE}, questions=[q]),
        title=HOSTILE,
        url="javascript:alert(3)",
        authors=(HOSTILE,),
    )
    for spec in build_notes([digest(DAY1, paper)], deck="D"):
        for value in spec.fields:
            assert "<script" not in value and "<img" not in value and "{{" not in value
            assert "javascript:" not in value
        assert _field(spec, "Link") == "https://arxiv.org/abs/2501.00001"  # from the arXiv id


def test_mcq_fields_say_where_the_answer_comes_from() -> None:
    questions = [
        question(1, answer=1, answer_source="key", confidence=1.0),
        question(2, answer=2, answer_source="marked", confidence=1.0),
        question(
            3,
            answer=0,
            answer_source="inferred",
            confidence=0.834,
            unsure=False,
            evidence="Routers send tokens.",
        ),
        question(4, answer=1, answer_source="inferred", confidence=0.41, unsure=True),
        question(5),
    ]
    specs = build_notes(
        [digest(DAY1, quiz_paper(questions=questions))], deck="D", kinds=["mcq"], shuffle=False
    )
    rows = [
        (
            _field(s, "AnswerLetter"),
            _field(s, "Answer"),
            re.sub(r"<[^>]+>", "", _field(s, "AnswerSource")),
            _field(s, "Evidence"),
            "answer::unsure" in s.tags,
        )
        for s in specs
    ]
    assert rows == [
        ("B", "A dense adapter", "From your answer key", "", False),
        ("C", "A token cache", "Marked in the digest", "", False),
        ("A", "A sparse router", "Inferred, 83%", "Routers send tokens.", False),
        ("B", "A dense adapter", "Unsure — inferred, 41%: check it against the paper", "", True),
        ("", "", "", "", False),
    ]
    kinds = [
        re.findall(r'class="fc-source (fc-src-\w+)"', _field(s, "AnswerSource")) for s in specs
    ]
    assert kinds == [["fc-src-key"], ["fc-src-marked"], ["fc-src-inferred"], ["fc-src-unsure"], []]
    options = _field(specs[0], "Options")
    assert options == (
        '<ol class="fc-choices" id="fc-choices" type="A">'
        '<li data-o="0">A sparse router</li>'
        '<li data-o="1">A dense adapter</li>'
        '<li data-o="2">A token cache</li></ol>'
    )


# --- shuffled options ---------------------------------------------------------------------------

_LI = re.compile(r'<li data-o="(\d+)">(.*?)</li>')
_ORDER = re.compile(r'<ol [^>]*?(?: data-order="([\d,]+)")?>')


def _listed(spec: NoteSpec) -> list[tuple[int, str]]:
    """(digest index, text) of each option as the Options field lists them."""
    return [(int(o), text) for o, text in _LI.findall(_field(spec, "Options"))]


def _shown(spec: NoteSpec) -> list[tuple[int, int, str]]:
    """(position shown, digest index, text) of each option in the order the card script shows
    them: the field's `data-order`, else the order listed."""
    listed = dict(_listed(spec))
    match = _ORDER.match(_field(spec, "Options"))
    assert match is not None
    order = [int(o) for o in match.group(1).split(",")] if match.group(1) else list(listed)
    return [(shown, o, listed[o]) for shown, o in enumerate(order)]


def test_options_are_shuffled_per_note_and_the_letter_follows() -> None:
    options = ("Alpha", "Bravo", "Charlie", "Delta")
    questions = [
        question(n, options=options, answer=1, answer_source="key", confidence=1.0)
        for n in range(1, 41)
    ]
    papers = quiz_paper(questions=questions)
    specs = build_notes([digest(DAY1, papers)], deck="D", kinds=["mcq"])
    again = build_notes([digest(DAY1, papers)], deck="D", kinds=["mcq"])
    assert [s.fields for s in specs] == [s.fields for s in again]  # fixed, not per build
    letters = set()
    for spec in specs:
        # Without JavaScript: the digest's order, and the letter names the digest's option.
        assert _listed(spec) == list(enumerate(options))
        assert _field(spec, "AnswerLetter") == "B"
        assert _field(spec, "Answer") == "Bravo"
        shown = _shown(spec)
        assert sorted(o for _, o, _ in shown) == [0, 1, 2, 3]
        assert all(text == options[o] for _, o, text in shown)
        letters.add("ABCD"[next(i for i, o, _ in shown if o == 1)])
    # Seeded per note: over 40 questions the right answer is shown under every letter.
    assert letters == {"A", "B", "C", "D"}


def test_options_about_the_others_stay_last_and_letter_references_stay_put() -> None:
    above = ("Sparse", "Dense", "All of the above", "None of these")
    by_letter = ("Sparse", "Dense", "Both A and B")
    questions = [question(n, options=above, answer=2, answer_source="key") for n in range(1, 21)]
    questions.append(question(21, options=by_letter, answer=2, answer_source="key"))
    specs = build_notes([digest(DAY1, quiz_paper(questions=questions))], deck="D", kinds=["mcq"])
    for spec in specs[:20]:
        assert [o for _, o, _ in _shown(spec)][2:] == [2, 3]
    assert [o for _, o, _ in _shown(specs[20])] == [0, 1, 2]
    assert "data-order" not in _field(specs[20], "Options")
    assert _field(specs[20], "AnswerLetter") == "C"


def test_shuffle_false_keeps_the_digests_order() -> None:
    questions = [question(n, answer=2, answer_source="key") for n in range(1, 11)]
    specs = build_notes(
        [digest(DAY1, quiz_paper(questions=questions))], deck="D", kinds=["mcq"], shuffle=False
    )
    for spec in specs:
        assert [o for _, o, _ in _shown(spec)] == [0, 1, 2]
        assert "data-order" not in _field(spec, "Options")
        assert _field(spec, "AnswerLetter") == "C"


def test_unanswered_question_gets_the_most_related_summary_as_context() -> None:
    q = question(1, "How much faster is inference at equal accuracy?", options=("2x", "3x", "4x"))
    (spec,) = build_notes([digest(DAY1, quiz_paper(questions=[q]))], deck="D", kinds=["mcq"])
    assert _field(spec, "Answer") == ""
    assert _field(spec, "Context") == (
        '<span class="fc-label">Results</span>' + escape_text(QUIZ_FIELDS["results"])
    )


def test_evidence_inside_a_summary_field_is_marked_there_not_repeated() -> None:
    inside = question(
        1,
        answer=0,
        answer_source="inferred",
        confidence=0.93,
        unsure=False,
        evidence="a sparse path <or> a dense adapter",
    )
    fields = {
        **QUIZ_FIELDS,
        "methods": "A router sends each token to a sparse path <or> a dense adapter.",
    }
    (spec,) = build_notes(
        [digest(DAY1, quiz_paper(fields=fields, questions=[inside]))], deck="D", kinds=["mcq"]
    )
    assert _field(spec, "Evidence") == ""
    assert _field(spec, "Context") == (
        '<span class="fc-label">Methods · evidence marked</span>A router sends each token to '
        '<mark class="fc-hl">a sparse path &lt;or&gt; a dense adapter</mark>.'
    )
    # Evidence from the flow chart (not a summary field) stays its own block.
    outside = dataclasses.replace(inside, evidence="Tokens -> router")
    (spec,) = build_notes(
        [digest(DAY1, quiz_paper(fields=fields, questions=[outside]))], deck="D", kinds=["mcq"]
    )
    assert _field(spec, "Evidence") == "Tokens -&gt; router"
    assert "<mark" not in _field(spec, "Context")


def test_fields_pick_the_summary_cards() -> None:
    paper = quiz_paper()
    (every,) = build_notes([digest(DAY1, paper)], deck="D", kinds=["summary"])
    (picked,) = build_notes(
        [digest(DAY1, paper)], deck="D", kinds=["summary"], fields=["problem", "results"]
    )
    assert every.cards == sum(bool(paper.fields.get(k)) for k in SUMMARY_FIELD_KEYS) > 2
    assert picked.cards == 2 and picked.guid == every.guid
    assert _field(picked, "Problem") == _field(every, "Problem") != ""
    assert _field(picked, "Methods") == "" and _field(picked, "Topic") == ""
    assert build_notes([digest(DAY1, paper)], deck="D", kinds=["summary"], fields=["summary"]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Three gains: i) speed; ii) memory, and iii) accuracy.",
            'Three gains:<ol class="fc-list" type="i"><li>speed;</li><li>memory, and</li>'
            "<li>accuracy.</li></ol>",
        ),
        (
            "a) Routers <fast> b) Adapters",
            '<ol class="fc-list" type="a"><li>Routers &lt;fast&gt;</li><li>Adapters</li></ol>',
        ),
        (
            "Steps: 1. tokenise 2. route 3. merge",
            'Steps:<ol class="fc-list" type="1"><li>tokenise</li><li>route</li><li>merge</li></ol>',
        ),
        ("Costs $5 (a) lot, version 2. Fine.", None),  # no run of two markers from the first
        ("Only ii) and iii) here.", None),
    ],
)
def test_numbered_summaries_stay_lists(text: str, expected: str | None) -> None:
    assert list_html(text) == expected
    paper = quiz_paper(fields={"summary": text})
    (spec,) = build_notes([digest(DAY1, paper)], deck="D", kinds=["summary"])
    assert _field(spec, "Summary") == (expected or escape_text(text))


_MARKER_TEXT = st.lists(
    st.sampled_from(["i", "ii", "iv", "x", "a", "b", "l", "m", "1", "2", "12", "(", ")", "."])
    | st.sampled_from([" ", "\n", "\t", "\u00a0", "\u3000"])
    | st.text(max_size=3),
    max_size=24,
).map("".join)


@pytest.mark.slow
@given(_MARKER_TEXT)
@settings(max_examples=400, deadline=None)
@example("i) one")
@example("x (b)\u00a0two")
@example("12.\tthree")
def test_the_list_shortcut_never_skips_a_marker(text: str) -> None:
    # list_html skips texts `_may_hold_a_list` rejects: every text any marker pattern matches
    # passes it.
    from flashcards.anki import notes

    if any(pattern.search(text) for _kind, pattern, _labels in notes._LIST_MARKERS):
        assert notes._may_hold_a_list(text)


def test_summary_cards_only_for_non_empty_fields() -> None:
    quiz = quiz_paper(fields={**QUIZ_FIELDS, "topic": "", "results": "   "})
    specs = build_notes([digest(DAY1, quiz, table_paper())], deck="D", kinds=["summary"])
    assert [s.cards for s in specs] == [3, 1]  # previous research, problem, methods; summary
    bare = quiz_paper("2501.00009", fields={}, questions=[question(1)])
    only_mcq = build_notes([digest(DAY1, bare)], deck="D")
    assert [s.kind for s in only_mcq] == ["mcq"]  # no summary note without summary fields


# --- tags, decks, order ------------------------------------------------------------------------


def test_tags_decks_and_order() -> None:
    specs = build_notes(
        [digest(DAY2, table_paper()), digest(DAY1, quiz_paper())],
        deck="AI Papers",
        subdecks="month",
        extra_tags=["ai papers", "weekly"],
        topics_for=lambda paper: ("llm efficiency", "routing"),
    )
    assert [(s.kind, s.order[0], s.order[3]) for s in specs] == [
        ("summary", "2025-04-28", 0),
        ("mcq", "2025-04-28", 1),
        ("mcq", "2025-04-28", 2),
        ("mcq", "2025-04-28", 3),
        ("summary", "2025-05-02", 0),
    ]
    assert specs[0].tags == (
        "ai-papers",
        "arxiv::2501.00001",
        "date::2025-04-28",
        "topic::llm-efficiency",
        "topic::routing",
        "weekly",
    )
    assert [s.deck for s in specs] == ["AI Papers::2025-04"] * 4 + ["AI Papers::2025-05"]
    assert all(" " not in t for s in specs for t in s.tags)


def test_content_hash_ignores_the_deck_but_not_tags_or_fields() -> None:
    (spec,) = build_notes([digest(DAY1, table_paper())], deck="D")
    assert dataclasses.replace(spec, deck="E").content_hash == spec.content_hash
    assert dataclasses.replace(spec, tags=("x",)).content_hash != spec.content_hash
    other = dataclasses.replace(spec, fields=("x", *spec.fields[1:]))
    assert other.content_hash != spec.content_hash


# --- property: identity never depends on content or order ----------------------------------------

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda text: visible_text(text).strip())
# An empty summary field would (rightly) drop the summary note, and so does one holding only
# characters a card does not show (controls, bidi marks: `visible_text`).


@st.composite
def _papers(draw: st.DrawFn) -> list[Paper]:
    ids = draw(st.lists(st.integers(1, 99999), min_size=1, max_size=5, unique=True))
    papers = []
    for n in ids:
        numbers = draw(st.lists(st.integers(1, 9), max_size=4, unique=True))
        questions = [question(k, draw(_text), options=(draw(_text), draw(_text))) for k in numbers]
        papers.append(
            quiz_paper(
                f"2501.{n:05d}", draw(_text), fields={"problem": draw(_text)}, questions=questions
            )
        )
    return papers


@settings(max_examples=60, deadline=None)
@given(papers=_papers(), data=st.data())
def test_guids_depend_only_on_paper_role_and_number(
    papers: list[Paper], data: st.DataObject
) -> None:
    before = build_notes([digest(DAY1, *papers)], deck="D")
    shuffled = data.draw(st.permutations(papers))
    edited = [
        dataclasses.replace(
            p,
            title=data.draw(_text),
            fields={"problem": data.draw(_text)},
            questions=tuple(dataclasses.replace(q, prompt=data.draw(_text)) for q in p.questions),
        )
        for p in shuffled
    ]
    after = build_notes([digest(DAY2, *edited)], deck="D")
    assert sorted(s.guid for s in before) == sorted(s.guid for s in after)
    expected = {identity.note_guid(p.key, "summary") for p in papers} | {
        identity.note_guid(p.key, "mcq", q.number) for p in papers for q in p.questions
    }
    assert {s.guid for s in after} == expected


def test_the_card_templates_reference_only_their_note_types_fields() -> None:
    """The template files (flashcards/anki/templates/) are read once on import: every
    `{{Field}}`, `{{#Field}}` or `{{/Field}}` in a note type's templates names one of its
    fields (or Anki's FrontSide), and every field but Extra's spare room is shown somewhere."""
    for model, fields in ((mcq_model(), MCQ_FIELDS), (summary_model(), SUMMARY_FIELDS)):
        text = "".join(t["qfmt"] + t["afmt"] for t in model.templates)
        used = set(re.findall(r"\{\{[#/^]?([A-Za-z]+)\}\}", text))
        assert used <= {*fields, "FrontSide"}, model.name
        assert {*fields} - used <= {"ArxivId", "Number"}, model.name
        assert "${" not in text  # every placeholder of the summary templates was filled


# --- fast paths equal the straightforward code ---------------------------------------------------

_TEXTS = st.text(alphabet=st.sampled_from('ab "\\\n\t\x00\x1f\x7fé€😀{}<>&'), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["mcq", "summary"]),
    fields=st.lists(st.one_of(st.text(max_size=12), _TEXTS), max_size=6),
    tags=st.lists(_TEXTS, max_size=3),
)
def test_content_json_is_what_json_dumps_writes(
    kind: str, fields: list[str], tags: list[str]
) -> None:
    import json

    spec = NoteSpec("g", kind, tuple(fields), tuple(tags), "D", ("", "", 0, 0), 1)  # type: ignore[arg-type]
    assert spec.content_json() == json.dumps([kind, fields, tags], ensure_ascii=False)


_QUESTIONS = st.lists(
    st.builds(
        Question,
        number=st.integers(1, 4),
        prompt=st.sampled_from(["Why?", "How?"]),
        options=st.just(("A one", "B two")),
        answer=st.sampled_from([None, 0, 1]),
        answer_source=st.sampled_from([None, "key", "marked", "inferred"]),
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(
    arxiv_id=st.sampled_from([None, "", "2504.17761"]),
    url=st.sampled_from([None, "", "https://example.org/x"]),
    category=st.sampled_from([None, "", "cs.CL"]),
    authors=st.sampled_from([(), ("Ada",)]),
    fields=st.dictionaries(
        st.sampled_from(FIELD_NAMES), st.sampled_from(["", " ", "text", "\n"]), max_size=3
    ),
    questions=_QUESTIONS,
)
def test_a_paper_in_one_digest_merges_as_it_would_beside_itself(
    arxiv_id: str | None,
    url: str | None,
    category: str | None,
    authors: tuple[str, ...],
    fields: dict[str, str],
    questions: list[Question],
) -> None:
    # Merged with itself, a paper takes the general path: the one-digest shortcut must agree.
    paper = Paper(
        title="T",
        arxiv_id=arxiv_id,
        url=url,
        authors=authors,
        fields=fields,
        questions=tuple(questions),
        category=category,
    )
    alone = merge_paper(paper.key, [(date(2025, 1, 2), "a.txt", 0, paper)])
    twice = merge_paper(
        paper.key, [(date(2025, 1, 2), "a.txt", 0, paper), (date(2025, 1, 3), "b.txt", 0, paper)]
    )
    assert alone.paper == twice.paper
    assert alone.dates == (date(2025, 1, 2),) and alone.order == twice.order


_MARKUP = st.text(alphabet=st.sampled_from("ab $\\^_{}[]&<>\"'\n\r\tAB,&+x0"), max_size=24)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_MARKUP, st.text(max_size=24)))
@example(text="$x^2$ and $y$")
@example(text=" a [sound:b] {c}\r\n")
def test_escaping_text_that_needs_none_is_the_full_escape(text: str) -> None:
    from flashcards.anki.notes import _AV_TAG, _escape_plain
    from flashcards.maths import maths_html

    full = maths_html(visible_text(text).strip(), _escape_plain)
    assert escape_text(text) == (_AV_TAG.sub("&#91;", full) if "[" in full else full)


@settings(max_examples=300, deadline=None)
@given(
    options=st.lists(st.one_of(_MARKUP, st.sampled_from(["A and", "B", " or C", "D"])), max_size=5)
)
@example(options=["xA and B"])
@example(options=["(A, C)", "éB or D"])
@example(options=["A", "B", "C and D"])
def test_options_naming_letters_are_found_in_one_search(options: list[str]) -> None:
    from flashcards.anki.notes import _NAMES_A_LETTER

    # `option_order` searches the options joined by NUL, as if one by one, with the pattern
    # written to start with the letter: the same matches as written plainly.
    plain = re.compile(r"\b[A-H]\s*(?:,|and|or|&|\+)\s*[A-H]\b")
    names = any(plain.search(option) for option in options)
    assert bool(_NAMES_A_LETTER.search("\0".join(options))) == names


_OPTION_WORDS = st.sampled_from(
    [
        "all",
        "None",
        "BOTH",
        "neither",
        "of",
        "OF",
        "the",
        "above",
        "Below",
        "options",
        "choices",
        "these",
        "them",
        "previous",
        "any",
        "option",
        "\u212a",
        "İ",
        "ı",
        "ſ",
        "é",
        "A",
        "x",
    ]
)
_OPTION_GAPS = st.sampled_from(["", " ", "  ", "\n", "-", ".", "(", ")", "\u00a0", "_", "!"])
_OPTIONS = st.lists(st.tuples(_OPTION_WORDS, _OPTION_GAPS), max_size=6).map(
    lambda parts: "".join(word + gap for word, gap in parts)
)


@settings(max_examples=500, deadline=None)
@given(option=st.one_of(_OPTIONS, st.text(max_size=16)))
@example(option="All of the above")
@example(option="(none)\n")
@example(option="Options ABOVE")
def test_options_referring_to_others_are_those_the_pattern_finds(option: str) -> None:
    from flashcards.anki.notes import _REFERS_TO_OTHERS, _refers_to_others

    assert _refers_to_others(option) == bool(_REFERS_TO_OTHERS.search(option))


def _guid_one_digit_at_a_time(paper_key: str, role: str, number: int | None, namespace: str) -> str:
    """`identity.note_guid` as it was first written (the GUIDs users have)."""
    parts = [paper_key, role] if number is None else [paper_key, role, str(number)]
    if namespace:
        parts.insert(0, identity._namespace_hash(namespace))
        raw = identity._digest("deck-note", *parts)
    else:
        raw = identity._digest("note", *parts)
    value = int.from_bytes(raw[:12], "big")
    chars = []
    for _ in range(12):
        value, rest = divmod(value, 62)
        chars.append(identity._GUID_ALPHABET[rest])
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(
    paper_key=st.text(max_size=30),
    role=st.sampled_from(["mcq", "summary", "x|y"]),
    number=st.one_of(st.none(), st.integers(0, 10**6)),
    namespace=st.one_of(st.just(""), st.text(max_size=12)),
)
@example(paper_key="arxiv:2504.17761", role="mcq", number=1, namespace="")
def test_note_guids_are_those_computed_one_digit_at_a_time(
    paper_key: str, role: str, number: int | None, namespace: str
) -> None:
    expected = _guid_one_digit_at_a_time(paper_key, role, number, namespace)
    assert identity.note_guid(paper_key, role, number, namespace=namespace) == expected


@settings(max_examples=100, deadline=None)
@given(day=st.dates())
def test_date_tags_are_the_iso_date(day: date) -> None:
    from flashcards.anki.notes import tag

    # paper_notes writes them without `tag`.
    assert tag("date", day.isoformat()) == f"date::{day.isoformat()}"
