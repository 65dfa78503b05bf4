"""Bidi overrides and other invisible controls in digest text never reach a card, while the
invisible characters real text needs (ZWJ in emoji, ZWNJ in Persian, the soft hyphen) do."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

from anki_helpers import fresh_collection, guids, import_package, rendered_cards
from build_samples import question
from digest_writers import write_quiz_html
from helpers import NOW
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flashcards.anki.notes import escape_text
from flashcards.answers import load_answer_key, resolve_answers, write_answer_key
from flashcards.build import build
from flashcards.model import Paper
from flashcards.parse import parse_paths
from flashcards.plan import plan_adhoc
from flashcards.visible import _UNSEEN, _unseen_replacement, visible_text

DAY = date(2025, 6, 3)
RLO, PDF, LRI, PDI, LRM, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200e", "\u200f"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZWJ, ZWNJ, SHY = "\u200d", "\u200c", "\u00ad"
CODER = f"\U0001f469{ZWJ}\U0001f4bb"  # one emoji: woman, ZWJ, laptop
PERSIAN = f"می{ZWNJ}خواهم"  # a Persian word that needs its ZWNJ
SMUGGLED = "\U000e0041\U000e0042"  # tag characters outside a flag: invisible "AB"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


def _paper(hostile: bool) -> Paper:
    def h(text: str) -> str:
        return text if hostile else ""

    q = question(
        1,
        f"Which {h(RLO)}redocne{h(PDF)} does the model use?",
        options=(f"A {h(LRI)}sparse{h(PDI)} router", f"A dense{h(LRM)} adapter", "A cache"),
        answer=0,
    )
    fields = {
        "previous_research": f"Agents {CODER} that code, in {PERSIAN}.",
        "problem": f"Dense{h(chr(7))} layers{h(RLM)} waste com{SHY}pute.",
        "methods": f"A learned{h(chr(0x1B))} router{h(SMUGGLED)} {SCOTLAND}.",
        "results": "Inference is 1.8x faster.",
    }
    # No arXiv id: the paper's identity comes from its title, which holds an override.
    return Paper(
        title=f"Routing {h(RLO)}Tokens{h(PDF)} Sparsely",
        authors=("Ada Example",),
        fields=fields,
        questions=(q,),
    )


def _deck(tmp_path: Path, name: str, hostile: bool) -> Path:
    folder = tmp_path / name / "digests"
    folder.mkdir(parents=True)
    page = write_quiz_html(DAY, [(_paper(hostile), "")])
    (folder / f"{DAY.isoformat()}.html").write_text(page, "utf-8")
    out = tmp_path / name / "deck.apkg"  # one name: the decks share their identity namespace
    build(plan_adhoc([folder], out), now=NOW)
    return out


def test_cards_show_no_bidi_control_and_keep_joiners(tmp_path: Path) -> None:
    hostile = _deck(tmp_path, "hostile", hostile=True)
    # The digest as parsed keeps its text as written (parse --json, answers and identity).
    [parsed] = parse_paths([tmp_path / "hostile" / "digests"]).digests
    assert RLO in parsed.papers[0].title and RLM in parsed.papers[0].fields["problem"]
    clean = _deck(tmp_path, "clean", hostile=False)
    with fresh_collection(tmp_path) as col:
        import_package(col, hostile)
        cards = rendered_cards(col)
        shown = "".join(c.question + c.answer for c in cards)
        hostile_guids = guids(col)
    assert cards
    assert not set(shown) & set(BIDI)
    assert chr(7) not in shown and chr(0x1B) not in shown and SMUGGLED[0] not in shown
    assert CODER in shown and PERSIAN in shown and SHY in shown and SCOTLAND in shown
    assert "Which redocne does the model use?" in shown
    # The same cards as the digest without those characters: same notes, same text.
    with fresh_collection(tmp_path) as col:
        import_package(col, clean)
        clean_shown = "".join(c.question + c.answer for c in rendered_cards(col))
        assert guids(col) == hostile_guids
    assert shown == clean_shown


def test_the_list_of_unseen_characters_matches_unicode() -> None:
    """`_UNSEEN`'s written-out class holds exactly the characters `_unseen_replacement` replaces
    (characters unassigned in this Python's Unicode tables may be listed ahead of time)."""
    planes = [*range(0x20000), *range(0xE0000, 0xE1000)]  # where Cc, Cf, Zl and Zp live
    for code in planes:
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        listed = _UNSEEN.fullmatch(char) is not None
        replaced = _unseen_replacement(char) is not None
        assert listed == replaced or (listed and unicodedata.category(char) == "Cn"), hex(code)


_TEXT = st.lists(
    st.sampled_from(
        [
            *("a", "B", " ", "\n", "$", "x", "^", "2", "[", "]", "sound:", "{", "<", "&", '"'),
            *(ZWJ, ZWNJ, SHY, "\u200b", "é", "\U0001f469", "\t"),  # kept ones too
        ]
    ),
    max_size=16,
).map("".join)
_DROPPED = st.sampled_from(
    [*BIDI, "\x00", "\x07", "\x7f", "\x9b", "\ufeff", "\u2063", "\U000e0041"]
)


@settings(max_examples=400, deadline=None)
@given(before=_TEXT, dropped=_DROPPED, after=_TEXT)
@example(before="[", dropped=RLO, after="sound:x.mp3]")
@example(before="$x", dropped=LRI, after="^2$")
def test_an_invisible_control_changes_nothing_on_the_card(
    before: str, dropped: str, after: str
) -> None:
    assert escape_text(before + dropped + after) == escape_text(before + after)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=24))
def test_escaped_text_holds_no_bidi_control_and_keeps_joiners(text: str) -> None:
    escaped = escape_text(text)
    assert not set(escaped) & set(BIDI)
    assert all(unicodedata.category(c) not in ("Cc", "Zl", "Zp") or c in "\t\n\r" for c in escaped)
    for kept in (ZWJ, ZWNJ, SHY):
        assert escaped.count(kept) == text.strip().count(kept)
    assert visible_text(visible_text(text)) == visible_text(text)


def test_the_answer_key_comments_show_no_control_and_the_key_reads_back(tmp_path: Path) -> None:
    """`flashcards answers` writes each question and its options as comments for a person to
    check: a bidi override there would make them read as something else, and a control
    character would make the file one YAML refuses, leaving the daily key workflow stuck."""
    q = question(
        1,
        f"Which{chr(7)} backbone {RLO}does it use?",
        options=(f"A {LRI}sparse{PDI} router", f"A dense{chr(0x85)} adapter", "A cache\x7f"),
    )
    paper = Paper(title=f"Routing {RLO}Tokens", arxiv_id="2506.00001", questions=(q,))
    folder = tmp_path / "digests"
    folder.mkdir()
    (folder / f"{DAY.isoformat()}.html").write_text(
        write_quiz_html(DAY, [(paper, "https://arxiv.org/abs/2506.00001")]), "utf-8"
    )
    digests = resolve_answers(parse_paths([folder]).digests, threshold=0.0)
    assert chr(7) in digests[0].papers[0].questions[0].prompt  # as the digest wrote it
    write_answer_key(digests, tmp_path / "key.yaml")
    text = (tmp_path / "key.yaml").read_text("utf-8")
    assert not set(text) & set(BIDI)
    assert all(c in "\t\n" or unicodedata.category(c) != "Cc" for c in text)
    assert "# Q1. Which backbone does it use?" in text
    key = load_answer_key(tmp_path / "key.yaml")
    assert (
        resolve_answers(parse_paths([folder]).digests, key)[0].papers[0].questions[0].answer_source
    )
