"""Step 3: turn resolved digests into Anki note specifications.

A `NoteSpec` is everything a note will hold (GUID, field HTML, tags, deck, new-card order) as plain
frozen data; `flashcards.anki.export` turns specs into a package. The note types
(`flashcards.anki.notetypes`) name the fields that the field HTML built here fills.

Safety: every piece of digest text passes through `escape_text` (HTML-escaped, template braces and
Anki's `[sound:…]` tags neutralised, bidi overrides and other invisible controls dropped by
`visible_text`) and every link through `safe_link` (http(s) only). The only markup in a field is
markup written in this module.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import itertools
import json
import operator
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from flashcards import identity
from flashcards.anki.notetypes import MCQ_FIELDS, SUMMARY_CARDS, SUMMARY_FIELDS
from flashcards.links import arxiv_abs_url, is_http_url
from flashcards.maths import maths_html
from flashcards.model import (
    STEP_SEPARATOR,
    Digest,
    Paper,
    Question,
    option_letter,
    split_steps,
)
from flashcards.visible import visible_text

NoteKind = Literal["mcq", "summary"]
CARD_KINDS: tuple[NoteKind, ...] = ("mcq", "summary")
#: How notes may be split into subdecks (`deck_for`): by the month or the day of their digest.
SUBDECK_MODES = ("month", "date")

#: The tag of a question whose inferred answer is not confident.
UNSURE_TAG = "answer::unsure"

#: Where an answer came from, as the card says it (inferred answers get their confidence).
ANSWER_SOURCE_TEXT = {"key": "From your answer key", "marked": "Marked in the digest"}

#: The summary fields (`Paper.fields` keys) that may become cards, in card order.
SUMMARY_FIELD_KEYS: tuple[str, ...] = tuple(key for _n, _f, key, _q in SUMMARY_CARDS)
#: Which become cards when the deck does not say (`fields:`), for a new deck: all but the topic,
#: whose card's front shows the title, which usually gives the topic away.
DEFAULT_SUMMARY_FIELD_KEYS: tuple[str, ...] = tuple(k for k in SUMMARY_FIELD_KEYS if k != "topic")
#: The default of a deck first built before that one (its state records no default): all of
#: them, as it was. Emptying the Topic field of a deck already imported would leave every Topic
#: card in the collection blank (Anki never deletes cards on import).
LEGACY_SUMMARY_FIELD_KEYS: tuple[str, ...] = SUMMARY_FIELD_KEYS

#: Which summary field an MCQ card's back shows as context, in order of preference on ties.
CONTEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("problem", "Problem"),
    ("methods", "Methods"),
    ("results", "Results"),
    ("previous_research", "Previous research and new ideas"),
    ("summary", "Summary"),
    ("topic", "Topic and domain"),
)

# --- escaping ---------------------------------------------------------------------------------

# Anki plays `[sound:…]` and speaks `[anki:tts]…` wherever they appear in rendered text, and
# turns `[latex]…[/latex]`, `[$]…[/$]` and `[$$]…[/$$]` into images made by running `latex` on
# their content (case-insensitive): the `[` of each, written as an entity, shows the same and
# means nothing to Anki.
_AV_TAG = re.compile(r"\[(?=\s*(?:sound|anki):|/?(?:latex|\$\$?)\])", re.IGNORECASE)

_TAG_BAD = re.compile(r"[\s\"]+")


def escape_text(text: str) -> str:
    """Digest text as inert HTML: escaped, `{`/`}` as entities (never template or cloze syntax),
    no Anki audio or LaTeX tags, line breaks kept as <br>."""
    # Invisible characters go first (nothing below sees what the card will not show), before
    # the strip: a text may end in a bidi control after a space.
    return _escape_visible(visible_text(text).strip())


def _escape_piece(text: str) -> str:
    """`escape_text` without the strip: for parts of one text, joined around markup. `$…$`
    maths becomes MathJax's `\\(…\\)` (`flashcards.maths`), its TeX escaped like the rest."""
    return _escape_visible(visible_text(text))


def _escape_visible(text: str) -> str:
    """`_escape_piece` of a text `visible_text` has cleaned already."""
    # Text holding none of the characters escaping or maths looks at is its own HTML (most
    # titles and many fields). Each is looked for with `in`, a scan at C speed: several times
    # faster than one regex fullmatch over a long field.
    if not (
        "&" in text
        or "<" in text
        or ">" in text
        or '"' in text
        or "'" in text
        or "{" in text
        or "}" in text
        or "[" in text
        or "\n" in text
        or "$" in text
    ):
        return text
    # Anki's tags once more over the whole: `[$]x^2[/$]` splits into text and maths pieces.
    escaped = maths_html(text, _escape_plain)
    return _AV_TAG.sub("&#91;", escaped) if "[" in escaped else escaped


def _escape_plain(text: str) -> str:
    escaped = html.escape(text, quote=True)
    if "{" in escaped or "}" in escaped:
        escaped = escaped.replace("{", "&#123;").replace("}", "&#125;")
    if "[" in escaped:  # every Anki tag starts with one
        escaped = _AV_TAG.sub("&#91;", escaped)
    if "\n" in escaped:
        escaped = escaped.replace("\r\n", "\n").replace("\n", "<br>")
    return escaped


_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")
#: List markers a summary may number its points with, and the <ol type> that shows them alike:
#: "i) … ii) …", "a) … b) …", "1. … 2. …" / "1) … 2) …"; each starts the text or follows a space.
_LIST_MARKERS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("i", re.compile(r"(?:^|(?<=\s))\(?([ivx]{1,4})\)\s+"), _ROMAN),
    ("a", re.compile(r"(?:^|(?<=\s))\(?([a-l])\)\s+"), tuple("abcdefghijkl")),
    ("1", re.compile(r"(?:^|(?<=\s))\(?(\d{1,2})[.)]\s+"), tuple(str(n) for n in range(1, 40))),
)


#: What every marker of `_LIST_MARKERS` contains ("x) " or "1. "): a text without it has no
#: list. Searched first (`_may_hold_a_list`), because the markers' own patterns are tried at
#: every position; each starts with its one literal character, which the engine skips to at C
#: speed before looking behind (a character class in front is tried at every position too).
_LIST_HINT_DOT = re.compile(r"\.(?<=\d\.)\s")
_LIST_HINT_PAREN = re.compile(r"\)(?<=[a-lvx\d]\))\s")


def _may_hold_a_list(text: str) -> bool:
    if _LIST_HINT_DOT.search(text):
        return True
    return ")" in text and _LIST_HINT_PAREN.search(text) is not None


def list_html(text: str) -> str | None:
    """`text` as HTML with its numbered or lettered points as an <ol>, when it has at least two
    markers counting up from the first ("i)", "ii)"; "a)", "b)"; "1.", "2."); else None."""
    text = text.strip()
    if not _may_hold_a_list(text):
        return None
    for kind, pattern, labels in _LIST_MARKERS:
        run: list[re.Match[str]] = []
        for match in pattern.finditer(text):
            if len(run) < len(labels) and match.group(1) == labels[len(run)]:
                run.append(match)
        if len(run) < 2:
            continue
        bounds = [m.start() for m in run] + [len(text)]
        items = [text[m.end() : bounds[i + 1]] for i, m in enumerate(run)]
        lead = text[: run[0].start()]
        points = "".join(f"<li>{escape_text(item)}</li>" for item in items)
        return f'{escape_text(lead)}<ol class="fc-list" type="{kind}">{points}</ol>'
    return None


def steps_html(text: str) -> str:
    """A flow chart's steps (the `workflow` field, `split_steps`) as a numbered list, one step
    a line (a step's own arrows stay in it); a chart of one step as its text."""
    if STEP_SEPARATOR not in text:  # one step at most
        return escape_text(text)
    steps = split_steps(text)
    if len(steps) < 2:
        return escape_text(text)
    items = "".join(f"<li>{escape_text(step)}</li>" for step in steps)
    return f'<ol class="fc-list fc-steps">{items}</ol>'


def safe_link(url: str | None) -> str:
    """`url` escaped for an href when it is an absolute http(s) link (the parsers' rule,
    `is_http_url`, checked again because a `Paper` may come from anywhere); otherwise ''."""
    if not url or not is_http_url(url.strip()):
        return ""
    return _escape_plain(visible_text(url.strip()))


def tag(prefix: str, value: str) -> str:
    """An Anki tag `prefix::value` (no spaces or quotes: Anki splits tags on whitespace)."""
    cleaned = _TAG_BAD.sub("-", value.strip()).strip("-")
    return f"{prefix}::{cleaned}" if prefix else cleaned


@functools.lru_cache(maxsize=1024)  # a deck has a few dozen topics, each on many papers
def _topic_tag(slug: str) -> str:
    return tag("topic", slug)


# --- note specs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSpec:
    """One note as it will be written: the unit of identity, content hashing and updating."""

    guid: str
    kind: NoteKind
    fields: tuple[str, ...]  # in the order of MCQ_FIELDS or SUMMARY_FIELDS
    tags: tuple[str, ...]  # sorted
    deck: str  # full deck name, "::" for subdecks
    order: tuple[str, str, int, int]  # (first date, digest source, paper index, question number)
    cards: int  # how many cards the note generates

    @property
    def first_date(self) -> date:
        """The date of the first digest the note's paper appeared in."""
        return date.fromisoformat(self.order[0])

    def content_json(self) -> str:
        """What `content_hash` hashes: the kind, fields and tags as JSON (one line)."""
        # What json.dumps([kind, [fields], [tags]], ensure_ascii=False) writes (a test checks
        # it), without its encoder set up for every note.
        fields = ", ".join(map(json_string, self.fields))
        tags = ", ".join(map(json_string, self.tags))
        return f"[{json_string(self.kind)}, [{fields}], [{tags}]]"

    @functools.cached_property
    def content_hash(self) -> str:
        """What decides whether the note changed. The deck is left out: cards never move decks
        on re-import, so a deck change alone must not count as an update. Computed once per
        spec (a build checks it against the state and stamps with it)."""
        return hash_content(self.content_json())


#: A string as `json.dumps(..., ensure_ascii=False)` writes it (quoted, escaped).
json_string: Callable[[str], str] = json.encoder.encode_basestring


def hash_content(content_json: str) -> str:
    """`NoteSpec.content_hash` of the note whose `content_json` is this."""
    return hashlib.sha256(content_json.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PaperGroup:
    """One paper merged over every digest it appears in (matched by `Paper.key`)."""

    key: str
    paper: Paper  # fields: per key, the latest digest's text; questions matched by number
    dates: tuple[date, ...]  # every digest date it appears in, sorted
    order: tuple[str, str, int]  # (first date, first digest source, index in that digest)


_ANSWER_RANK = {"key": 3, "marked": 2, "inferred": 1, None: 0}


def merge_papers(
    digests: Sequence[Digest], only: Collection[str] | None = None
) -> list[PaperGroup]:
    """Group the papers of `digests` by identity, in order of first appearance; with `only`,
    just the papers whose key is in it (each keeps its index in its digest).

    When a paper appears in several digests, the latest digest's text wins field by field (a
    correction reaches the note); questions are matched by number, and for each number the version
    with the most trustworthy answer wins (key > marked > inferred > none), the latest on ties.
    """
    return [merge_paper(key, found) for key, found in paper_occurrences(digests, only)]


#: Where a paper appears: (digest date, digest source, index in the digest, the paper there).
Occurrence = tuple[date, str, int, Paper]


def paper_occurrences(
    digests: Sequence[Digest], only: Collection[str] | None = None
) -> list[tuple[str, list[Occurrence]]]:
    """Each paper's key and occurrences (in digest order), in `merge_papers` order: what
    `merge_paper` merges, without merging (merging takes longer than finding)."""
    occurrences: dict[str, list[Occurrence]] = {}
    for digest in digests:
        for index, paper in enumerate(digest.papers):
            if only is not None and paper.key not in only:
                continue
            occurrences.setdefault(paper.key, []).append((digest.date, digest.source, index, paper))
    papers = []
    for key, found in occurrences.items():
        if len(found) > 1:  # most papers are in one digest
            found.sort(key=lambda o: (o[0], o[1], o[2]))
        papers.append((key, found))
    papers.sort(key=lambda item: _first_order(item[1]))
    return papers


def _first_order(found: list[Occurrence]) -> tuple[str, str, int]:
    first_date, first_source, first_index, _ = found[0]
    return (first_date.isoformat(), first_source, first_index)


def merge_paper(key: str, found: list[Occurrence]) -> PaperGroup:
    """The paper of key `key` merged over its occurrences (`paper_occurrences`)."""
    latest = found[-1][3]
    if len(found) == 1 and _is_merged(latest):  # most papers: one digest, nothing to merge
        return PaperGroup(key=key, paper=latest, dates=(found[0][0],), order=_first_order(found))
    fields: dict[str, str] = {}
    questions: dict[int, tuple[Question, int]] = {}
    for position, (_date, _source, _index, paper) in enumerate(found):
        fields.update({k: v for k, v in paper.fields.items() if v and v.strip()})
        for question in paper.questions:
            rank = (_ANSWER_RANK.get(question.answer_source, 0), position)
            previous = questions.get(question.number)
            if previous is None or rank >= (
                _ANSWER_RANK.get(previous[0].answer_source, 0),
                previous[1],
            ):
                questions[question.number] = (question, position)
    # Start from the latest version so that any other attribute (e.g. category) comes along.
    merged = dataclasses.replace(
        latest,
        arxiv_id=next((p.arxiv_id for *_, p in reversed(found) if p.arxiv_id), None),
        url=next((p.url for *_, p in reversed(found) if p.url), None),
        published=next((p.published for *_, p in reversed(found) if p.published), None),
        authors=next((p.authors for *_, p in reversed(found) if p.authors), ()),
        category=next((p.category for *_, p in reversed(found) if p.category), None),
        fields=fields,
        questions=tuple(questions[n][0] for n in sorted(questions)),
    )
    return PaperGroup(
        key=key,
        paper=merged,
        dates=tuple(sorted({o[0] for o in found})),
        order=_first_order(found),
    )


def _is_merged(paper: Paper) -> bool:
    """Whether `merge_paper` of `paper` alone gives a paper equal to it: no empty field, its
    questions' numbers ascending without repeats, no empty value where merging puts None."""
    numbers = [question.number for question in paper.questions]
    return (
        all(value and value.strip() for value in paper.fields.values())
        and all(a < b for a, b in itertools.pairwise(numbers))
        and all(
            (value or None) is value
            for value in (paper.arxiv_id, paper.url, paper.published, paper.category)
        )
        and type(paper.authors) is tuple
        and type(paper.questions) is tuple
    )


def deck_for(deck: str, first_date: date, subdecks: str | None) -> str:
    if subdecks == "month":
        return f"{deck}::{first_date:%Y-%m}"
    if subdecks == "date":
        return f"{deck}::{first_date.isoformat()}"
    return deck


@dataclass(frozen=True)
class NoteGroup:
    """The notes of one paper (`PaperGroup.key`), in new-card order."""

    key: str
    order: tuple[str, str, int]  # the paper's `PaperGroup.order`, a prefix of each note's order
    specs: tuple[NoteSpec, ...]


def build_notes(
    digests: Sequence[Digest],
    *,
    deck: str,
    kinds: Iterable[str] = CARD_KINDS,
    subdecks: str | None = None,
    extra_tags: Iterable[str] = (),
    topics_for: Callable[[Paper], Sequence[str]] | None = None,
    namespace: str = identity.LEGACY_NAMESPACE,
    shuffle: bool = True,
    fields: Iterable[str] = SUMMARY_FIELD_KEYS,
) -> list[NoteSpec]:
    """Note specs for `digests` (answers already resolved), sorted in new-card order; their GUIDs
    are in the deck's `namespace` (see `flashcards.identity`). `shuffle`: options in a fixed
    per-note order (`option_order`) rather than the digest's. `fields`: the summary fields
    (`SUMMARY_FIELD_KEYS`, all by default) that become cards; the others are left empty in the note.
    A build passes the deck's (`DEFAULT_SUMMARY_FIELD_KEYS` for a new deck, see
    `flashcards.anki.state`)."""
    options = NoteOptions.of(
        deck=deck,
        kinds=kinds,
        subdecks=subdecks,
        extra_tags=extra_tags,
        namespace=namespace,
        shuffle=shuffle,
        fields=fields,
    )
    return sort_notes(
        paper_notes(group, topics_for(group.paper) if topics_for is not None else (), options)
        for group in merge_papers(digests)
    )


def sort_notes(groups: Iterable[NoteGroup]) -> list[NoteSpec]:
    """The notes of `groups` (papers' notes, `paper_notes`) in new-card order."""
    specs = [spec for group in groups for spec in group.specs]
    specs.sort(key=lambda s: s.order)
    return specs


@dataclass(frozen=True)
class NoteOptions:
    """How a deck makes its notes (`build_notes`' settings, normalised once)."""

    deck: str
    kinds: frozenset[str]
    subdecks: str | None
    extra_tags: tuple[str, ...]  # as tags
    namespace: str
    shuffle: bool
    fields: frozenset[str]  # the summary fields that become cards

    @classmethod
    def of(
        cls,
        *,
        deck: str,
        kinds: Iterable[str] = CARD_KINDS,
        subdecks: str | None = None,
        extra_tags: Iterable[str] = (),
        namespace: str = identity.LEGACY_NAMESPACE,
        shuffle: bool = True,
        fields: Iterable[str] = SUMMARY_FIELD_KEYS,
    ) -> NoteOptions:
        extras = tuple(tag("", t) for t in extra_tags if t.strip())
        return cls(deck, frozenset(kinds), subdecks, extras, namespace, shuffle, frozenset(fields))


def paper_notes(group: PaperGroup, topics: Sequence[str], options: NoteOptions) -> NoteGroup:
    """The notes of one merged paper (`build_notes` of it alone), kept together so that a build
    can reuse them, tagged with `topics`."""
    paper = group.paper
    # `tag("date", …)` of an ISO date is the date as it is: no space, quote or leading "-".
    paper_tags = [f"date::{d.isoformat()}" for d in group.dates]
    paper_tags += [_topic_tag(slug) for slug in topics if slug.strip()]
    if paper.arxiv_id:
        paper_tags.append(tag("arxiv", paper.arxiv_id))
    paper_tags += options.extra_tags
    note_deck = deck_for(options.deck, group.dates[0], options.subdecks)
    namespace = options.namespace
    # What every note of the paper shows alike, made once.
    shared = {
        "Title": escape_text(paper.title),
        "Link": _link(paper),
        "Date": group.dates[0].isoformat(),
        "ArxivId": escape_text(paper.arxiv_id or ""),
        "Extra": "",
    }
    tags = tuple(sorted(set(paper_tags)))
    specs: list[NoteSpec] = []
    if "summary" in options.kinds:
        spec = _summary_note(group, shared, tags, note_deck, namespace, options.fields)
        if spec is not None:
            specs.append(spec)
    if "mcq" in options.kinds:
        for question in paper.questions:
            specs.append(
                _mcq_note(group, question, shared, tags, note_deck, namespace, options.shuffle)
            )
    specs.sort(key=lambda s: s.order)
    return NoteGroup(group.key, group.order, tuple(specs))


#: A note's fields in their note type's order, out of a dict by name (in C).
_summary_fields: Callable[[dict[str, str]], tuple[str, ...]] = operator.itemgetter(*SUMMARY_FIELDS)
_mcq_fields: Callable[[dict[str, str]], tuple[str, ...]] = operator.itemgetter(*MCQ_FIELDS)

_CARD_FIELDS = tuple(SUMMARY_FIELDS.index(name) for _n, name, _k, _q in SUMMARY_CARDS)


def card_count(kind: NoteKind, fields: Sequence[str]) -> int:
    """How many cards a note of `kind` with these `fields` makes: an MCQ note one, a summary
    note one per non-empty summary card field."""
    if kind == "mcq":
        return 1
    return sum(1 for index in _CARD_FIELDS if fields[index])


def _link(paper: Paper) -> str:
    """The paper's own link if it is a safe one, else its arXiv page, else nothing."""
    link = safe_link(paper.url)
    if not link and paper.arxiv_id:
        link = safe_link(arxiv_abs_url(paper.arxiv_id))
    return link


def _summary_note(
    group: PaperGroup,
    shared: dict[str, str],
    tags: tuple[str, ...],
    deck: str,
    namespace: str,
    carded: frozenset[str],
) -> NoteSpec | None:
    """`shared`: the fields every note of the paper shows alike; `tags`: the paper's, sorted."""
    paper = group.paper
    values = {
        **shared,
        "Authors": escape_text(", ".join(paper.authors)),
        "Workflow": steps_html(paper.fields.get("workflow", "")),
    }
    cards = 0
    fields = paper.fields
    for _name, field_name, key, _question in SUMMARY_CARDS:
        # A field left empty makes no card (each template shows only a non-empty field).
        text = fields.get(key) if key in carded else None
        if not text:  # what list_html and escape_text make of ""
            values[field_name] = ""
            continue
        field_html = values[field_name] = list_html(text) or escape_text(text)
        cards += bool(field_html)
    if cards == 0:
        return None
    return NoteSpec(
        guid=identity.note_guid(group.key, "summary", namespace=namespace),
        kind="summary",
        fields=_summary_fields(values),
        tags=tags,
        deck=deck,
        order=(*group.order, 0),
        cards=cards,
    )


def answer_source_text(question: Question) -> str:
    """How the card says where its answer came from; inferred answers never sound certain, and
    unsure ones say so first."""
    if question.answer is None or question.answer_source is None:
        return ""
    if question.answer_source in ANSWER_SOURCE_TEXT:
        return ANSWER_SOURCE_TEXT[question.answer_source]
    percent = f", {round(question.confidence * 100)}%" if question.confidence is not None else ""
    if question.unsure:
        return f"Unsure — inferred{percent}: check it against the paper"
    return f"Inferred{percent}"


def answer_source_html(question: Question) -> str:
    """The AnswerSource field: `answer_source_text` in a `fc-source` block whose class names the
    kind of source (`fc-src-key`, `-marked`, `-inferred`, `-unsure`). The back template puts it
    just before the answer box, so the stylesheet can style an unsure answer's box
    (`.fc-src-unsure + .fc-answer`) without JavaScript; CSS shows it below the box."""
    text = answer_source_text(question)
    if not text:
        return ""
    kind = "unsure" if question.unsure else question.answer_source
    return f'<div class="fc-source fc-src-{kind}">{escape_text(text)}</div>'


_WORD = re.compile(r"[a-z0-9]{4,}")


def relevant_context(paper: Paper, question: Question) -> tuple[str, str] | None:
    """(label, text) of the paper's summary field sharing most words with the question."""
    wanted = set(_WORD.findall(" ".join((question.prompt, *question.options)).lower()))
    best: tuple[int, str, str] | None = None
    for key, label in CONTEXT_FIELDS:
        text = paper.fields.get(key, "").strip()
        if not text:
            continue
        score = len(wanted & set(_WORD.findall(text.lower())))
        if best is None or score > best[0]:
            best = (score, label, text)
    return (best[1], best[2]) if best else None


def _back_context(paper: Paper, question: Question, answered: bool) -> tuple[str, str]:
    """The Evidence and Context fields of an MCQ card's back, as HTML.

    When the evidence sentence lies inside one of the summary fields, that field is the context
    and the sentence is marked in it, rather than printed twice one above the other.
    """
    evidence = (question.evidence or "").strip() if answered else ""
    if evidence:
        for key, label in CONTEXT_FIELDS:
            text = paper.fields.get(key, "").strip()
            start = text.find(evidence)
            if start >= 0:
                end = start + len(evidence)
                marked = (
                    f'{_escape_piece(text[:start])}<mark class="fc-hl">'
                    f"{escape_text(evidence)}</mark>{_escape_piece(text[end:])}"
                )
                label_html = f"{escape_text(label)} · evidence marked"
                return "", f'<span class="fc-label">{label_html}</span>{marked}'
    context = relevant_context(paper, question)
    context_html = (
        f'<span class="fc-label">{escape_text(context[0])}</span>{escape_text(context[1])}'
        if context
        else ""
    )
    return escape_text(evidence), context_html


# An option that speaks of the others ("All of the above", "None of these", "Neither") only
# makes sense after them: it keeps its place at the end.
_REFERS_TO_OTHERS = re.compile(
    r"\b(?:the|options?|choices?)\s+(?:above|below)\b"
    r"|\b(?:all|none|both|neither|any)\s+of\s+(?:the\s+)?(?:these|them|options|choices|previous)\b"
    r"|^\W*(?:all|none|both|neither)\W*$",
    re.IGNORECASE,
)
# What every match of `_REFERS_TO_OTHERS` holds, in the lower-cased option (IGNORECASE folds
# no other character into these letters), or its third branch alone: a sound filter that spares
# most options a search at every position.
_ONLY_A_WORD = re.compile(r"\W*(?:all|none|both|neither)\W*$", re.IGNORECASE)


def _refers_to_others(option: str) -> bool:
    lowered = option.lower()
    if not (
        "of" in lowered or "above" in lowered or "below" in lowered or _ONLY_A_WORD.match(option)
    ):
        return False
    return _REFERS_TO_OTHERS.search(option) is not None


# An option naming others by letter ("A and B", "Options A and C") would point at the wrong
# options once they move: such a question keeps the digest's order. `\b[A-H]…`, written to
# start with the letter (the engine skips to one of them at C speed, where a leading `\b` is
# tried at every position) and look back for the word boundary before it.
_NAMES_A_LETTER = re.compile(r"[A-H](?<=\b[A-H])\s*(?:,|and|or|&|\+)\s*[A-H]\b")


def option_order(guid: str, options: Sequence[str], *, shuffle: bool = True) -> tuple[int, ...]:
    """The order the card shows `options` in, as indices into `options`.

    Fixed per note (seeded from its GUID, never per review), so a deck builds byte-identical and
    front and back agree. Options referring to the others stay last, in their order; a question
    whose options name others by letter is not shuffled.
    """
    indices = tuple(range(len(options)))
    # One search: a match never spans the NUL between two options (no part of it matches one).
    if not shuffle or _NAMES_A_LETTER.search("\0".join(options)):
        return indices
    last = [i for i in indices if _refers_to_others(options[i])]
    movable = [i for i in indices if i not in last]

    def rank(i: int) -> str:
        return hashlib.sha256(f"{guid}\0{i}".encode()).hexdigest()

    return (*sorted(movable, key=rank), *last)


def _options_html(options: Sequence[str], order: Sequence[int]) -> str:
    """The Options field: the options in the digest's order, so that without JavaScript the card
    reads as the digest does (its letters, which the back's AnswerLetter names). `order`, the
    order to show them in (`option_order`), travels as `data-order` (digest indices, first shown
    first) for the card script, which reorders the items and relabels the letters; none when it
    is the digest's own. data-o is each option's index in the digest."""
    items = "".join(
        [f'<li data-o="{i}">{escape_text(option)}</li>' for i, option in enumerate(options)]
    )
    shuffled = tuple(order) != tuple(range(len(options)))
    data = f' data-order="{",".join(map(str, order))}"' if shuffled else ""
    return f'<ol class="fc-choices" id="fc-choices" type="A"{data}>{items}</ol>'


def _mcq_note(
    group: PaperGroup,
    question: Question,
    shared: dict[str, str],
    tags: tuple[str, ...],
    deck: str,
    namespace: str,
    shuffle: bool,
) -> NoteSpec:
    paper = group.paper
    answer = question.answer
    if answer is not None and not 0 <= answer < len(question.options):
        answer = None  # an index no option has: shown as unknown rather than guessed at
    guid = identity.note_guid(group.key, "mcq", question.number, namespace=namespace)
    order = option_order(guid, question.options, shuffle=shuffle)
    evidence_html, context_html = _back_context(paper, question, answer is not None)
    values = {
        **shared,
        "Prompt": escape_text(question.prompt),
        "Options": _options_html(question.options, order),
        "Answer": escape_text(question.options[answer]) if answer is not None else "",
        "AnswerLetter": option_letter(answer) if answer is not None else "",  # the digest's
        "AnswerSource": answer_source_html(question) if answer is not None else "",
        "Evidence": evidence_html,
        "Context": context_html,
        "Number": str(question.number),
    }
    if question.unsure:
        tags = tuple(sorted({*tags, UNSURE_TAG}))
    return NoteSpec(
        guid=guid,
        kind="mcq",
        fields=_mcq_fields(values),
        tags=tags,
        deck=deck,
        order=(*group.order, question.number),
        cards=1,
    )
