"""Step 3: turn resolved digests into Anki note specifications, and define the two note types.

A `NoteSpec` is everything a note will hold (GUID, field HTML, tags, deck, new-card order) as plain
frozen data; `flashcards.anki.export` turns specs into a package. The note types are defined here
because their field lists and the field HTML built here must agree.

Safety: every piece of digest text passes through `escape_text` (HTML-escaped, template braces and
Anki's `[sound:…]` tags neutralised) and every link through `safe_link` (http(s) only). The only
markup in a field is markup written in this module.

Both note types are *released*: their field names, field order and template names must never
change (Anki would treat the changed type as a different one and stop updating existing notes).
Spare room for later content is the `Extra` field of each, shown on the back when non-empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import genanki

from flashcards import identity
from flashcards.links import arxiv_abs_url, is_http_url
from flashcards.model import Digest, Paper, Question

NoteKind = Literal["mcq", "summary"]
CARD_KINDS: tuple[NoteKind, ...] = ("mcq", "summary")
#: How notes may be split into subdecks (`deck_for`): by the month or the day of their digest.
SUBDECK_MODES = ("month", "date")

MCQ_MODEL_NAME = "Paper MCQ"
SUMMARY_MODEL_NAME = "Paper Summary"

#: Field names of "Paper MCQ", frozen (see the module docstring). The first one is the sort field.
MCQ_FIELDS: tuple[str, ...] = (
    "Prompt",
    "Title",
    "Options",  # an <ol> of the options, built here
    "Answer",  # the correct option's text; empty when no answer is known
    "AnswerLetter",  # "A", "B", …; empty when no answer is known
    "AnswerSource",  # "From your answer key", "Inferred, 83% — not certain", …
    "Evidence",  # the digest sentence an inferred answer rests on
    "Context",  # the part of the paper's summary most related to the question
    "Link",  # http(s) URL of the paper, or empty
    "Date",  # first digest date, YYYY-MM-DD
    "ArxivId",
    "Number",  # the question's number in its digest
    "Extra",  # reserved for later content
)

#: Field names of "Paper Summary", frozen. The first one is the sort field.
SUMMARY_FIELDS: tuple[str, ...] = (
    "Title",
    "Topic",
    "PreviousResearch",
    "Problem",
    "Methods",
    "Results",
    "Summary",
    "Workflow",
    "Authors",
    "Link",
    "Date",
    "ArxivId",
    "Extra",
)

#: One card per (template name, field it asks about, `Paper.fields` key, question on the front).
#: "{title}" is replaced by the `{{Title}}` reference.
SUMMARY_CARDS: tuple[tuple[str, str, str, str], ...] = (
    ("Topic", "Topic", "topic", "What is the topic and domain of {title}?"),
    (
        "Previous research",
        "PreviousResearch",
        "previous_research",
        "What earlier work does {title} build on, and what is new in it?",
    ),
    ("Problem", "Problem", "problem", "What problem does {title} address?"),
    ("Methods", "Methods", "methods", "How does {title} work? What are its methods?"),
    (
        "Results",
        "Results",
        "results",
        "What are the results of {title}, and how were they evaluated?",
    ),
    ("Summary", "Summary", "summary", "Summarise {title}."),
)

#: Where an answer came from, as the card says it (inferred answers get their confidence).
ANSWER_SOURCE_TEXT = {"key": "From your answer key", "marked": "Marked in the digest"}

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

# Anki plays `[sound:…]` and speaks `[anki:tts]…` wherever they appear in rendered text.
_AV_TAG = re.compile(r"\[(?=\s*(?:sound|anki):)", re.IGNORECASE)
_TAG_BAD = re.compile(r"[\s\"]+")


def escape_text(text: str) -> str:
    """Digest text as inert HTML: escaped, `{`/`}` as entities (never template or cloze syntax),
    no Anki audio tags, line breaks kept as <br>."""
    return _escape_piece(text.strip())


def _escape_piece(text: str) -> str:
    """`escape_text` without the strip: for parts of one text, joined around markup."""
    escaped = html.escape(text, quote=True)
    escaped = escaped.replace("{", "&#123;").replace("}", "&#125;")
    escaped = _AV_TAG.sub("&#91;", escaped)
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def safe_link(url: str | None) -> str:
    """`url` escaped for an href when it is an absolute http(s) link (the parsers' rule,
    `is_http_url`, checked again because a `Paper` may come from anywhere); otherwise ''."""
    if not url or not is_http_url(url.strip()):
        return ""
    return escape_text(url)


def tag(prefix: str, value: str) -> str:
    """An Anki tag `prefix::value` (no spaces or quotes: Anki splits tags on whitespace)."""
    cleaned = _TAG_BAD.sub("-", value.strip()).strip("-")
    return f"{prefix}::{cleaned}" if prefix else cleaned


# --- note types -------------------------------------------------------------------------------

CSS = """\
.card {
  font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 18px;
  line-height: 1.45;
  color: #1d1d1f;
  background: #fafafa;
  text-align: left;
  margin: 0;
  padding: 12px;
}
.fc { max-width: 42em; margin: 0 auto; }
.fc-paper { font-size: 0.8em; color: #5f6368; margin-bottom: 0.6em; }
.fc-kind { font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.06em; color: #5f6368; }
.fc-prompt { font-size: 1.1em; font-weight: 600; margin-bottom: 0.8em; }
.fc-title { font-style: italic; }
ol.fc-choices { padding-left: 1.8em; margin: 0; }
ol.fc-choices li { margin: 0.4em 0; padding: 0.45em 0.6em; border-radius: 8px;
  border: 1px solid transparent; }
ol.fc-choices.fc-tappable li { cursor: pointer; border-color: #d0d4da; background: #fff; }
ol.fc-choices li.fc-chosen { border-color: #3b6fd8; background: #e8f0fe; }
ol.fc-choices li.fc-correct { border-color: #1e8e3e; background: #e6f4ea; font-weight: 600; }
ol.fc-choices li.fc-wrong { border-color: #c5221f; background: #fce8e6;
  text-decoration: line-through; }
#answer { border: 0; border-top: 1px solid #d0d4da; margin: 1em 0; }
.fc-answer { padding: 0.6em 0.8em; border-left: 4px solid #1e8e3e; background: #e6f4ea;
  border-radius: 4px; font-weight: 600; }
.fc-letter { display: inline-block; min-width: 1.4em; }
.fc-source, .fc-meta { font-size: 0.8em; color: #5f6368; margin-top: 0.5em; }
.fc-unknown { color: #a15c00; font-weight: 600; }
.fc-evidence, .fc-context, .fc-field, .fc-extra { margin-top: 0.8em; }
.fc-evidence { font-size: 0.9em; border-left: 3px solid #d0d4da; padding-left: 0.6em; }
mark.fc-hl { background: #fef3c7; color: inherit; padding: 0 0.1em; border-radius: 2px; }
.fc-label { display: block; font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.06em;
  color: #5f6368; }
.fc-meta span, .fc-meta a { margin-right: 1em; }
.fc-meta a { color: #1a73e8; }
details.fc-workflow { margin-top: 0.8em; font-size: 0.85em; color: #5f6368; }
.nightMode.card, .night_mode.card, .nightMode .card, .night_mode .card {
  color: #e8eaed; background: #202124; }
.nightMode .fc-paper, .nightMode .fc-kind, .nightMode .fc-source, .nightMode .fc-meta,
.nightMode .fc-label, .nightMode details.fc-workflow,
.night_mode .fc-paper, .night_mode .fc-kind, .night_mode .fc-source, .night_mode .fc-meta,
.night_mode .fc-label, .night_mode details.fc-workflow { color: #9aa0a6; }
.nightMode ol.fc-choices.fc-tappable li, .night_mode ol.fc-choices.fc-tappable li {
  background: #2d2e31; border-color: #5f6368; }
.nightMode ol.fc-choices li.fc-chosen, .night_mode ol.fc-choices li.fc-chosen {
  background: #1c2b4a; border-color: #8ab4f8; }
.nightMode ol.fc-choices li.fc-correct, .night_mode ol.fc-choices li.fc-correct,
.nightMode .fc-answer, .night_mode .fc-answer { background: #0d3320; border-color: #81c995; }
.nightMode ol.fc-choices li.fc-wrong, .night_mode ol.fc-choices li.fc-wrong {
  background: #41181a; border-color: #f28b82; }
.nightMode .fc-unknown, .night_mode .fc-unknown { color: #fdd663; }
.nightMode mark.fc-hl, .night_mode mark.fc-hl { background: #4a3c0b; }
.nightMode .fc-meta a, .night_mode .fc-meta a { color: #8ab4f8; }
@media (max-width: 480px) {
  .card { font-size: 16px; padding: 8px; }
  ol.fc-choices { padding-left: 1.4em; }
  ol.fc-choices li { padding: 0.6em 0.5em; }
}
"""

# Tappable options. Inline (no media files) so it works the same on desktop, AnkiDroid and
# AnkiMobile. The back shows the front again through {{FrontSide}}, so the script runs there too:
# it tells the sides apart by #fc-back, and a data attribute stops it binding twice to one list.
# The choice survives from front to back in sessionStorage (AnkiDroid reloads the page) with a
# window variable as fallback (desktop keeps one page). The front clears it, so a choice never
# leaks into the next card. Without JavaScript the options stay a lettered list and the back
# still names the answer.
MCQ_SCRIPT = """\
<script>
(function () {
  var KEY = "flashcardsMcqChoice";
  function save(value) {
    window[KEY] = value;
    try { sessionStorage.setItem(KEY, value); } catch (e) {}
  }
  function load() {
    var value = null;
    try { value = sessionStorage.getItem(KEY); } catch (e) {}
    return value === null ? (window[KEY] || "") : value;
  }
  function letterIndex(letter) {
    if (/^[A-Z]$/.test(letter)) { return String(letter.charCodeAt(0) - 65); }
    var n = parseInt(letter, 10);
    return isNaN(n) ? "" : String(n - 1);
  }
  function run() {
    var list = document.getElementById("fc-choices");
    if (!list || list.getAttribute("data-fc-ready")) { return; }
    list.setAttribute("data-fc-ready", "1");
    var items = list.querySelectorAll("li[data-i]");
    var back = document.getElementById("fc-back");
    var i;
    if (!back) {
      save("");
      list.className += " fc-tappable";
      for (i = 0; i < items.length; i++) {
        items[i].setAttribute("role", "button");
        items[i].addEventListener("click", function () {
          for (var j = 0; j < items.length; j++) { items[j].classList.remove("fc-chosen"); }
          this.classList.add("fc-chosen");
          save(this.getAttribute("data-i"));
        });
      }
      return;
    }
    var chosen = load();
    var correct = letterIndex(back.getAttribute("data-answer") || "");
    for (i = 0; i < items.length; i++) {
      var index = items[i].getAttribute("data-i");
      if (index === correct) {
        items[i].classList.add("fc-correct");
      } else if (index === chosen) {
        items[i].classList.add(correct ? "fc-wrong" : "fc-chosen");
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();
</script>"""

MCQ_FRONT = (
    '<div class="fc fc-mcq">\n'
    '<div class="fc-paper">{{Title}}</div>\n'
    '<div class="fc-prompt">{{Prompt}}</div>\n'
    '<div id="fc-choices-box">{{Options}}</div>\n'
    "</div>\n" + MCQ_SCRIPT
)

MCQ_BACK = """\
{{FrontSide}}
<hr id="answer">
<div class="fc" id="fc-back" data-answer="{{AnswerLetter}}">
{{#Answer}}<div class="fc-answer"><span class="fc-letter">{{AnswerLetter}}</span> {{Answer}}</div>
<div class="fc-source">{{AnswerSource}}</div>{{/Answer}}
{{^Answer}}<div class="fc-source fc-unknown">No answer is known for this question: \
check it against the paper.</div>{{/Answer}}
{{#Evidence}}<div class="fc-evidence"><span class="fc-label">Evidence</span>{{Evidence}}</div>\
{{/Evidence}}
{{#Context}}<div class="fc-context">{{Context}}</div>{{/Context}}
{{#Extra}}<div class="fc-extra">{{Extra}}</div>{{/Extra}}
<div class="fc-meta"><span>{{Date}}</span>\
{{#Link}}<a href="{{Link}}">Open the paper</a>{{/Link}}</div>
</div>"""


def _summary_front(label: str, template_field: str, question: str) -> str:
    prompt = question.replace("{title}", '<span class="fc-title">{{Title}}</span>')
    return (
        f"{{{{#{template_field}}}}}"
        f'<div class="fc fc-summary"><div class="fc-kind">{label}</div>'
        f'<div class="fc-prompt">{prompt}</div></div>'
        f"{{{{/{template_field}}}}}"
    )


def _summary_back(template_field: str) -> str:
    workflow = ""
    if template_field == "Methods":
        workflow = (
            '{{#Workflow}}<details class="fc-workflow"><summary>Workflow</summary>'
            "{{Workflow}}</details>{{/Workflow}}\n"
        )
    return (
        "{{FrontSide}}\n"
        '<hr id="answer">\n'
        f'<div class="fc"><div class="fc-field">{{{{{template_field}}}}}</div>\n'
        + workflow
        + '{{#Extra}}<div class="fc-extra">{{Extra}}</div>{{/Extra}}\n'
        '<div class="fc-meta">{{#Authors}}<span>{{Authors}}</span>{{/Authors}}'
        '<span>{{Date}}</span>{{#Link}}<a href="{{Link}}">Open the paper</a>{{/Link}}</div>\n'
        "</div>"
    )


def mcq_model() -> genanki.Model:
    """A fresh "Paper MCQ" model (genanki mutates model dicts when writing, so never share one)."""
    mid = identity.MCQ_MODEL_ID
    return genanki.Model(
        mid,
        MCQ_MODEL_NAME,
        fields=[{"name": name, "id": identity.field_id(mid, name)} for name in MCQ_FIELDS],
        templates=[
            {
                "name": "Question",
                "id": identity.template_id(mid, "Question"),
                "qfmt": MCQ_FRONT,
                "afmt": MCQ_BACK,
            }
        ],
        css=CSS,
        sort_field_index=0,
    )


def summary_model() -> genanki.Model:
    mid = identity.SUMMARY_MODEL_ID
    return genanki.Model(
        mid,
        SUMMARY_MODEL_NAME,
        fields=[{"name": name, "id": identity.field_id(mid, name)} for name in SUMMARY_FIELDS],
        templates=[
            {
                "name": name,
                "id": identity.template_id(mid, name),
                "qfmt": _summary_front(name, field_name, question),
                "afmt": _summary_back(field_name),
            }
            for name, field_name, _key, question in SUMMARY_CARDS
        ],
        css=CSS,
        sort_field_index=0,
    )


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

    @property
    def content_hash(self) -> str:
        """What decides whether the note changed. The deck is left out: cards never move decks
        on re-import, so a deck change alone must not count as an update."""
        payload = json.dumps([self.kind, list(self.fields), list(self.tags)], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PaperGroup:
    """One paper merged over every digest it appears in (matched by `Paper.key`)."""

    key: str
    paper: Paper  # fields: per key, the latest digest's text; questions matched by number
    dates: tuple[date, ...]  # every digest date it appears in, sorted
    order: tuple[str, str, int]  # (first date, first digest source, index in that digest)


_ANSWER_RANK = {"key": 3, "marked": 2, "inferred": 1, None: 0}


def merge_papers(digests: Sequence[Digest]) -> list[PaperGroup]:
    """Group the papers of `digests` by identity, in order of first appearance.

    When a paper appears in several digests, the latest digest's text wins field by field (a
    correction reaches the note); questions are matched by number, and for each number the version
    with the most trustworthy answer wins (key > marked > inferred > none), the latest on ties.
    """
    occurrences: dict[str, list[tuple[date, str, int, Paper]]] = {}
    for digest in digests:
        for index, paper in enumerate(digest.papers):
            occurrences.setdefault(paper.key, []).append((digest.date, digest.source, index, paper))
    groups = []
    for key, found in occurrences.items():
        found.sort(key=lambda o: (o[0], o[1], o[2]))
        groups.append(_merge_group(key, found))
    groups.sort(key=lambda g: g.order)
    return groups


def _merge_group(key: str, found: list[tuple[date, str, int, Paper]]) -> PaperGroup:
    latest = found[-1][3]
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
    first_date, first_source, first_index, _ = found[0]
    return PaperGroup(
        key=key,
        paper=merged,
        dates=tuple(sorted({o[0] for o in found})),
        order=(first_date.isoformat(), first_source, first_index),
    )


def deck_for(deck: str, first_date: date, subdecks: str | None) -> str:
    if subdecks == "month":
        return f"{deck}::{first_date:%Y-%m}"
    if subdecks == "date":
        return f"{deck}::{first_date.isoformat()}"
    return deck


def build_notes(
    digests: Sequence[Digest],
    *,
    deck: str,
    kinds: Iterable[str] = CARD_KINDS,
    subdecks: str | None = None,
    extra_tags: Iterable[str] = (),
    topics_for: Callable[[Paper], Sequence[str]] | None = None,
) -> list[NoteSpec]:
    """Note specs for `digests` (answers already resolved), sorted in new-card order."""
    wanted = set(kinds)
    extras = [tag("", t) for t in extra_tags if t.strip()]
    specs: list[NoteSpec] = []
    for group in merge_papers(digests):
        paper = group.paper
        paper_tags = [tag("date", d.isoformat()) for d in group.dates]
        if topics_for is not None:
            paper_tags += [tag("topic", slug) for slug in topics_for(paper) if slug.strip()]
        if paper.arxiv_id:
            paper_tags.append(tag("arxiv", paper.arxiv_id))
        paper_tags += extras
        note_deck = deck_for(deck, group.dates[0], subdecks)
        if "summary" in wanted:
            spec = _summary_note(group, paper_tags, note_deck)
            if spec is not None:
                specs.append(spec)
        if "mcq" in wanted:
            for question in paper.questions:
                specs.append(_mcq_note(group, question, paper_tags, note_deck))
    specs.sort(key=lambda s: s.order)
    return specs


def _link(paper: Paper) -> str:
    """The paper's own link if it is a safe one, else its arXiv page, else nothing."""
    link = safe_link(paper.url)
    if not link and paper.arxiv_id:
        link = safe_link(arxiv_abs_url(paper.arxiv_id))
    return link


def _summary_note(group: PaperGroup, tags: list[str], deck: str) -> NoteSpec | None:
    paper = group.paper
    values = {
        "Title": escape_text(paper.title),
        "Authors": escape_text(", ".join(paper.authors)),
        "Link": _link(paper),
        "Date": group.dates[0].isoformat(),
        "ArxivId": escape_text(paper.arxiv_id or ""),
        "Workflow": escape_text(paper.fields.get("workflow", "")),
        "Extra": "",
    }
    cards = 0
    for _name, field_name, key, _question in SUMMARY_CARDS:
        values[field_name] = escape_text(paper.fields.get(key, ""))
        cards += bool(values[field_name])
    if cards == 0:
        return None
    return NoteSpec(
        guid=identity.note_guid(group.key, "summary"),
        kind="summary",
        fields=tuple(values[name] for name in SUMMARY_FIELDS),
        tags=tuple(sorted(set(tags))),
        deck=deck,
        order=(*group.order, 0),
        cards=cards,
    )


def answer_letter(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def answer_source_text(question: Question) -> str:
    """How the card says where its answer came from; inferred answers never sound certain."""
    if question.answer is None or question.answer_source is None:
        return ""
    if question.answer_source in ANSWER_SOURCE_TEXT:
        return ANSWER_SOURCE_TEXT[question.answer_source]
    percent = f", {round(question.confidence * 100)}%" if question.confidence is not None else ""
    if question.unsure:
        return f"Inferred{percent} — unsure: check it against the paper"
    return f"Inferred{percent} — not certain"


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


def _options_html(options: Sequence[str]) -> str:
    items = "".join(f'<li data-i="{i}">{escape_text(o)}</li>' for i, o in enumerate(options))
    return f'<ol class="fc-choices" id="fc-choices" type="A">{items}</ol>'


def _mcq_note(group: PaperGroup, question: Question, tags: list[str], deck: str) -> NoteSpec:
    paper = group.paper
    answer = question.answer
    if answer is not None and not 0 <= answer < len(question.options):
        answer = None  # an index no option has: shown as unknown rather than guessed at
    evidence_html, context_html = _back_context(paper, question, answer is not None)
    values = {
        "Prompt": escape_text(question.prompt),
        "Title": escape_text(paper.title),
        "Options": _options_html(question.options),
        "Answer": escape_text(question.options[answer]) if answer is not None else "",
        "AnswerLetter": answer_letter(answer) if answer is not None else "",
        "AnswerSource": escape_text(answer_source_text(question)) if answer is not None else "",
        "Evidence": evidence_html,
        "Context": context_html,
        "Link": _link(paper),
        "Date": group.dates[0].isoformat(),
        "ArxivId": escape_text(paper.arxiv_id or ""),
        "Number": str(question.number),
        "Extra": "",
    }
    note_tags = set(tags)
    if question.unsure:
        note_tags.add("answer::unsure")
    return NoteSpec(
        guid=identity.note_guid(group.key, "mcq", question.number),
        kind="mcq",
        fields=tuple(values[name] for name in MCQ_FIELDS),
        tags=tuple(sorted(note_tags)),
        deck=deck,
        order=(*group.order, question.number),
        cards=1,
    )
