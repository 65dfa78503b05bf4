"""A preview of a deck in any browser: every card's front and back in one self-contained page.

`render_template` renders the note types' own templates with the subset of Anki's template
language they use, so a card looks here exactly as it does in Anki (same HTML, CSS and script):

- `{{Field}}` inserts the field's HTML as it is (fields are escaped when the notes are built);
- `{{#Field}}…{{/Field}}` keeps its content when the field is not empty, `{{^Field}}…{{/Field}}`
  when it is; a field is empty when nothing but whitespace, `<br>` and `<div>` tags is left
  (Anki's rule); sections nest;
- `{{FrontSide}}` on the back is the rendered front.

Any other `{{…}}` (filters, special fields) is an error: the templates do not use them, and a
preview that silently differs from Anki would be worse than none. A card exists when its rendered
front is not empty, as Anki generates cards (the summary fronts are wrapped in their field's
section). `tests/test_preview.py` checks the renderer against Anki's own on a built deck.

Each side is shown in its own `<iframe srcdoc>`, a document like Anki's card page (`<body
class="card cardN">`, the note type's CSS, `#qa`), so the card script and its element ids behave
as in Anki; the front's tapped option reaches the back through the script's own sessionStorage
(shared by the page's frames) when "Show answer" reloads the back. Sides that hold maths load
MathJax 3 from `MATHJAX_URL` with Anki's delimiters. The page needs no other file; without
JavaScript every front and back still shows, options as a lettered list.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import genanki

from flashcards.anki.notes import NoteSpec
from flashcards.anki.notetypes import (
    MCQ_FIELDS,
    MCQ_MODEL_NAME,
    SUMMARY_FIELDS,
    SUMMARY_MODEL_NAME,
    mcq_model,
    summary_model,
)
from flashcards.anki.state import load_state
from flashcards.build import plan_notes
from flashcards.deckdef import load_deck_definitions
from flashcards.errors import ConfigError
from flashcards.inputfile import file_key
from flashcards.parse import DEFAULT_MAX_BYTES, DIGEST_SUFFIXES, find_digest_files
from flashcards.plan import BuildPlan, plan_adhoc, plan_for_definition

#: Where the page loads MathJax from (tests route this URL to a local copy).
MATHJAX_URL = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"

# Anki's MathJax delimiters and options (ankitects/anki ts/mathjax/index.ts); `\(…\)` is
# MathJax's default inline delimiter.
_MATHJAX = (
    "<script>window.MathJax = {tex: {displayMath: [['\\\\[', '\\\\]']], processEscapes: false,"
    " processEnvironments: false, processRefs: false}};</script>\n"
    f'<script src="{MATHJAX_URL}" async></script>\n'
)

_TAG = re.compile(r"\{\{([#^/]?)\s*([^{}]*?)\s*\}\}")
_EMPTY_MARKUP = re.compile(r"<br\s*/?>|</?div>|\s", re.IGNORECASE)


def field_is_empty(value: str) -> bool:
    return not _EMPTY_MARKUP.sub("", value)


def render_template(template: str, fields: Mapping[str, str], front_side: str | None = None) -> str:
    """`template` rendered with `fields` (see the module docstring for the subset)."""
    out, end = _render(template, 0, fields, front_side, closing=None)
    if end != len(template):  # pragma: no cover - _render consumes everything when closing=None
        raise ValueError("template not fully rendered")
    return out


def _render(
    template: str,
    position: int,
    fields: Mapping[str, str],
    front_side: str | None,
    closing: str | None,
) -> tuple[str, int]:
    """Render from `position` up to `{{/closing}}` (or the end); returns (html, index after)."""
    parts: list[str] = []
    while True:
        match = _TAG.search(template, position)
        if match is None:
            if closing is not None:
                raise ValueError(f"{{{{#{closing}}}}} is never closed")
            parts.append(template[position:])
            return "".join(parts), len(template)
        parts.append(template[position : match.start()])
        kind, name = match.group(1), match.group(2)
        position = match.end()
        if kind == "/":
            if name != closing:
                raise ValueError(f"unexpected {{{{/{name}}}}}")
            return "".join(parts), position
        if kind in ("#", "^"):
            inner, position = _render(template, position, fields, front_side, closing=name)
            if name not in fields:
                raise ValueError(f"unknown field {name!r}")
            if field_is_empty(fields[name]) == (kind == "^"):
                parts.append(inner)
        elif name == "FrontSide" and front_side is not None:
            parts.append(front_side)
        elif name in fields:
            parts.append(fields[name])
        else:
            raise ValueError(f"unsupported template reference {{{{{name}}}}}")


@dataclass(frozen=True)
class PreviewCard:
    """One card as Anki would show it: the HTML of each side (without the CSS)."""

    note: NoteSpec
    template: str  # the card template's name
    ordinal: int  # the template's position, as in Anki's `cardN` body class
    css: str
    front: str
    back: str

    @property
    def model_name(self) -> str:
        return MCQ_MODEL_NAME if self.note.kind == "mcq" else SUMMARY_MODEL_NAME


def _model(kind: str) -> tuple[genanki.Model, tuple[str, ...]]:
    return (mcq_model(), MCQ_FIELDS) if kind == "mcq" else (summary_model(), SUMMARY_FIELDS)


def preview_cards(specs: Iterable[NoteSpec]) -> list[PreviewCard]:
    """Every card of `specs`, in the notes' order and then template order."""
    cards = []
    for spec in specs:
        model, names = _model(spec.kind)
        fields = dict(zip(names, spec.fields, strict=True))
        for ordinal, template in enumerate(model.templates):
            front = render_template(template["qfmt"], fields)
            if not front.strip():
                continue
            back = render_template(template["afmt"], fields, front_side=front)
            cards.append(PreviewCard(spec, template["name"], ordinal, model.css, front, back))
    return cards


# --- the page ---------------------------------------------------------------------------------

_PAGE_CSS = """\
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; font-family: -apple-system, "Segoe UI", Roboto, Arial,
  sans-serif; background: #eceff1; color: #1d1d1f; }
body.pv-night { background: #111214; color: #e8eaed; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5em 1em; }
h1 { font-size: 1.3em; margin: 0; }
h2 { font-size: 1.1em; margin: 1.5em 0 0.5em; }
button { font: inherit; padding: 0.3em 0.8em; border-radius: 6px; border: 1px solid #9aa0a6;
  background: #fff; color: #1d1d1f; cursor: pointer; }
.pv-card { background: #fff; border-radius: 8px; padding: 8px; margin: 0 0 12px;
  max-width: 100%; }
body.pv-night .pv-card { background: #2d2e31; }
.pv-meta { font-size: 0.8em; color: #5f6368; display: flex; flex-wrap: wrap; gap: 0.3em 0.8em;
  margin-bottom: 6px; overflow-wrap: anywhere; }
body.pv-night .pv-meta { color: #9aa0a6; }
.pv-type { font-weight: 600; }
.pv-tag { background: #e8eaed; color: #3c4043; border-radius: 4px; padding: 0 0.4em; }
body.pv-night .pv-tag { background: #3c4043; color: #e8eaed; }
.pv-sides { display: flex; flex-wrap: wrap; gap: 8px; }
.pv-side { flex: 1 1 320px; min-width: 0; margin: 0; }
.pv-side figcaption { font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.06em;
  color: #5f6368; display: flex; justify-content: space-between; align-items: center; }
iframe { display: block; width: 100%; height: 26em; border: 1px solid #d0d4da;
  border-radius: 6px; background: #fafafa; }
"""

# Sizes each frame to its content, reloads a back on "Show answer" (its script then reads the
# option tapped on its front) and switches day/night mode as Anki does, with the `nightMode`
# and `night_mode` classes on the card's body.
_PAGE_SCRIPT = """\
<script>
(function () {
  var night = location.hash === "#night";
  function apply(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.body) { return; }
    doc.body.classList.toggle("nightMode", night);
    doc.body.classList.toggle("night_mode", night);
    frame.style.height = Math.ceil(doc.body.getBoundingClientRect().height) + 4 + "px";
  }
  function applyAll() {
    document.body.classList.toggle("pv-night", night);
    var frames = document.querySelectorAll("iframe");
    for (var i = 0; i < frames.length; i++) { apply(frames[i]); }
  }
  var frames = document.querySelectorAll("iframe");
  for (var i = 0; i < frames.length; i++) {
    frames[i].addEventListener("load", function () {
      var frame = this;
      apply(frame);
      // MathJax and fonts change the height after load.
      setTimeout(function () { apply(frame); }, 500);
    });
  }
  document.getElementById("pv-night").addEventListener("click", function () {
    night = !night;
    applyAll();
  });
  // As in Anki, a back follows its own front: showing the answer of a card whose front was not
  // the last one tapped first reloads that front, which forgets the option tapped elsewhere.
  var lastFront = null;
  var fronts = document.querySelectorAll("iframe.pv-front");
  function watchTaps(frame) {
    var doc = frame.contentDocument;
    if (doc) {
      doc.addEventListener("click", function () { lastFront = frame.id; }, true);
    }
  }
  for (var k = 0; k < fronts.length; k++) {
    fronts[k].addEventListener("load", function () { watchTaps(this); });
    // A busy browser may have loaded a front before this script ran: no load event to wait for.
    if (fronts[k].contentDocument && fronts[k].contentDocument.readyState === "complete") {
      watchTaps(fronts[k]);
    }
  }
  function reload(frame, then) {
    if (then) {
      frame.addEventListener("load", function once() {
        frame.removeEventListener("load", once);
        then();
      });
    }
    frame.srcdoc = frame.srcdoc;
  }
  var shows = document.querySelectorAll("button.pv-show");
  for (var j = 0; j < shows.length; j++) {
    shows[j].addEventListener("click", function () {
      var back = document.getElementById(this.getAttribute("data-back"));
      var front = document.getElementById(this.getAttribute("data-front"));
      if (lastFront === front.id) {
        reload(back);
      } else {
        lastFront = front.id;
        reload(front, function () { reload(back); });
      }
    });
  }
  applyAll();
})();
</script>"""


def _side_document(card: PreviewCard, body: str) -> str:
    maths = _MATHJAX if ("\\(" in body or "\\[" in body) else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Links in a card open outside the preview, not inside its small frame.
        '<base target="_blank">\n'
        f"<style>{card.css}</style>\n{maths}</head>\n"
        f'<body class="card card{card.ordinal + 1}"><div id="qa">{body}</div></body></html>'
    )


def _field(card: PreviewCard, name: str) -> str:
    names = MCQ_FIELDS if card.note.kind == "mcq" else SUMMARY_FIELDS
    return dict(zip(names, card.note.fields, strict=True)).get(name, "")


# Without JavaScript no frame is sized to its content (the page script does that): each starts at
# a height estimated from its text, generous enough for a phone's narrow column, so that no side
# is cut off. A frame scrolls, but nothing shows that a back goes on below its options.
_NOT_SHOWN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(r"<[^>]*>")
_BLOCK = re.compile(r"<(?:li|div|p|br|hr|h\d|ol|ul|details|summary|figure)\b", re.IGNORECASE)
_CHARS_PER_LINE = 26  # at a 320-px card, 16-px text, a bold prompt: fewer in a line than this
_LINE_EM = 1.7  # a line's height, in the page's em, with some margin


def _starting_height(body: str) -> str:
    """The CSS height a side's frame starts at: room for `body`'s text in a narrow column."""
    shown = _NOT_SHOWN.sub("", body)
    text = html.unescape(_MARKUP.sub("", shown))
    lines = len(text) / _CHARS_PER_LINE + len(_BLOCK.findall(shown))
    return f"{max(26.0, 4 + _LINE_EM * lines):.0f}em"


def _card_html(card: PreviewCard, number: int) -> str:
    # The field's text without its markup (a `fc-source` block; the text is escaped already).
    source = _MARKUP.sub("", _field(card, "AnswerSource")) if card.note.kind == "mcq" else ""
    if card.note.kind == "mcq" and not source:
        source = "No answer known"
    tags = "".join(f'<span class="pv-tag">{html.escape(t)}</span>' for t in card.note.tags)
    title = html.escape(f"card {number}: {card.model_name} · {card.template}")
    front = html.escape(_side_document(card, card.front), quote=True)
    back = html.escape(_side_document(card, card.back), quote=True)
    source_html = f'<span class="pv-source">Answer: {source}</span>' if source else ""
    return (
        f'<article class="pv-card" id="card-{number}" data-kind="{card.note.kind}"'
        f' data-template="{html.escape(card.template, quote=True)}">\n'
        f'<div class="pv-meta"><span class="pv-type">{html.escape(card.model_name)} · '
        f"{html.escape(card.template)}</span>{source_html}{tags}</div>\n"
        '<div class="pv-sides">\n'
        f'<figure class="pv-side"><figcaption>Front <button type="button" class="pv-show"'
        f' data-front="front-{number}" data-back="back-{number}">Show answer</button></figcaption>'
        f'<iframe class="pv-front" id="front-{number}" title="{title}, front"'
        f' style="height: {_starting_height(card.front)}" srcdoc="{front}"></iframe></figure>\n'
        '<figure class="pv-side"><figcaption>Back</figcaption>'
        f'<iframe class="pv-back" id="back-{number}" title="{title}, back"'
        f' style="height: {_starting_height(card.back)}" srcdoc="{back}"></iframe></figure>\n'
        "</div>\n</article>"
    )


def preview_page(specs: Sequence[NoteSpec], title: str = "Deck preview") -> str:
    """The preview page of `specs`: every card's front and back, grouped by digest date."""
    cards = preview_cards(specs)
    sections = []
    number = 0
    for day, group in groupby(cards, key=lambda card: card.note.order[0]):
        articles = []
        for card in group:
            number += 1
            articles.append(_card_html(card, number))
        sections.append(
            f'<section class="pv-day"><h2>{html.escape(day)}</h2>\n'
            + "\n".join(articles)
            + "\n</section>"
        )
    notes = len({spec.guid for spec in specs})
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_PAGE_CSS}</style></head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1><span>{notes} notes, {len(cards)} cards</span>"
        '<button type="button" id="pv-night">Day / night</button></header>\n'
        + "\n".join(sections)
        + f"\n{_PAGE_SCRIPT}\n</body></html>\n"
    )


# --- from inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    html: str
    notes: int
    cards: int
    warnings: tuple[str, ...]


def preview_plan(plan: BuildPlan) -> Preview:
    """The preview page of what `plan` would build (nothing is written). A deck definition's
    state is read, so that its cards are those its next build makes (the same GUIDs, hence the
    same option order, and the same default fields); an ad-hoc preview is a first build."""
    state = load_state(plan.state) if plan.definition is not None else None
    specs, warnings = plan_notes(plan, state)
    page = preview_page(specs, title=f"{plan.name}: preview")
    return Preview(page, len(specs), len(preview_cards(specs)), warnings)


def check_preview_output(plan: BuildPlan, output: str | Path) -> None:
    """Refuse a page that would replace a file of the deck: one it is made from (a digest, the
    definition, the answer key, the taxonomy) or one its build writes (the state, the package,
    the delta), or that would land in an input folder, where the next build would read it as a
    broken quiz HTML digest. A preview is a look, never a loss."""
    output = Path(output)
    target = file_key(output)
    roles = [
        (plan.definition, "the deck definition"),
        (plan.answers, "the answer key"),
        (plan.taxonomy, "the taxonomy"),
    ]
    if plan.definition is not None:  # an ad-hoc preview's package and state are placeholders
        roles += [
            (plan.state, "the deck's state file"),
            (plan.output, "the deck's package"),
            (plan.delta, "the deck's delta package"),
            (plan.cache, "the deck's build cache"),
        ]
    inputs = list(plan.inputs)  # never stdin: `plan_adhoc` refuses it
    for path in inputs:
        files = find_digest_files(path) if path.is_dir() else [path]
        roles += [(file, "a digest of the deck") for file in files]
    what = next((w for path, w in roles if path is not None and file_key(path) == target), None)
    suffix = output.suffix.lower()
    if what is None and suffix in DIGEST_SUFFIXES:
        folders = [path for path in inputs if path.is_dir()]
        if plan.definition is not None:
            # Its globs matched these digests; a page of their kind beside them would be next.
            folders += [path.parent for path in inputs if path.suffix.lower() == suffix]
        folder = next((f for f in folders if _is_within(target, f)), None)
        if folder is not None:
            what = f"in the input folder {folder}, where the next build would read it as a digest"
    if what is not None:
        raise ConfigError(f"is {what}; write the preview elsewhere (nothing was written)", output)


def _is_within(path: str, folder: Path) -> bool:
    return path.startswith(os.path.join(file_key(folder), ""))


def plan_for_preview(
    definition: str | Path | None = None,
    inputs: Sequence[str | Path] = (),
    *,
    deck: str | None = None,
    answers: str | Path | None = None,
    taxonomy: str | Path | None = None,
    unsure_threshold: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BuildPlan:
    """The build plan of one deck definition, or of ad-hoc inputs (as `flashcards build -i`)."""
    if definition is not None:
        (loaded,) = load_deck_definitions([Path(definition)])
        return dataclasses.replace(plan_for_definition(loaded), max_bytes=max_bytes)
    # An ad-hoc plan needs a package name; the preview writes none.
    return plan_adhoc(
        inputs,
        "preview.apkg",
        deck=deck,
        answers=answers,
        taxonomy=taxonomy,
        unsure_threshold=unsure_threshold,
        max_bytes=max_bytes,
    )
