"""The two note types, "Paper MCQ" and "Paper Summary": field names, card templates, styling.

Both note types are *released*: their field names, field order and template names must never
change (Anki would treat the changed type as a different one and stop updating existing notes).
Spare room for later content is the `Extra` field of each, shown on the back when non-empty.

The styling, the card script and the templates are files in `templates/` (package data), read
once on import. A file's final newline is not part of its template (editors add or drop it);
`${name}` in a summary template is filled in per card type (`string.Template`).

Every template's root element carries `mathjax_ignore tex2jax_ignore`: MathJax skips the text
inside, so `\\(…\\)` or `\\[…\\]` written in digest text is never typeset (Anki's MathJax would
follow `\\href{javascript:…}` or apply `\\style{…}`). Anki leaves MathJax's document options at
their defaults: `mathjax_ignore` since MathJax 3.1 (Anki ships 3.2), `tex2jax_ignore` in 3.0 and
MathJax 2 (older Anki and AnkiDroid versions). Only the maths that `flashcards.maths` converts
and checks, in a `mathjax_process` span, is typeset.
"""

from __future__ import annotations

from importlib import resources
from string import Template

import genanki

from flashcards import identity


def _template(name: str) -> str:
    text = resources.files("flashcards.anki").joinpath("templates", name).read_text("utf-8")
    return text.rstrip("\n")


MCQ_MODEL_NAME = "Paper MCQ"
SUMMARY_MODEL_NAME = "Paper Summary"

#: Field names of "Paper MCQ", frozen (see the module docstring). The first one is the sort field.
MCQ_FIELDS: tuple[str, ...] = (
    "Prompt",
    "Title",
    "Options",  # an <ol> of the options, built here
    "Answer",  # the correct option's text; empty when no answer is known
    "AnswerLetter",  # "A", "B", …; empty when no answer is known
    "AnswerSource",  # <div class="fc-source fc-src-…">From your answer key</div>, …
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

CSS = _template("card.css") + "\n"

# Tappable options. Inline (no media files) so it works the same on desktop, AnkiDroid and
# AnkiMobile. The back shows the front again through {{FrontSide}}, so the script runs there too:
# it tells the sides apart by #fc-back, and a data attribute stops it binding twice to one list.
# The choice survives from front to back in sessionStorage (AnkiDroid reloads the page) with a
# window variable as fallback (desktop keeps one page). The front clears it, so a choice never
# leaks into the next card. Without JavaScript the options stay a lettered list and the back
# still names the answer.
MCQ_SCRIPT = _template("mcq_script.html")
MCQ_FRONT = _template("mcq_front.html") + "\n" + MCQ_SCRIPT
MCQ_BACK = _template("mcq_back.html")

_SUMMARY_FRONT = Template(_template("summary_front.html"))
_SUMMARY_BACK = Template(_template("summary_back.html"))
#: Shown under the Methods card's answer only.
_SUMMARY_WORKFLOW = _template("summary_workflow.html") + "\n"
#: What "{title}" in a `SUMMARY_CARDS` question becomes.
_TITLE_REFERENCE = '<span class="fc-title">{{Title}}</span>'


def _summary_front(label: str, template_field: str, question: str) -> str:
    prompt = question.replace("{title}", _TITLE_REFERENCE)
    return _SUMMARY_FRONT.substitute(field=template_field, label=label, question=prompt)


def _summary_back(template_field: str) -> str:
    workflow = _SUMMARY_WORKFLOW if template_field == "Methods" else ""
    return _SUMMARY_BACK.substitute(field=template_field, workflow=workflow)


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
