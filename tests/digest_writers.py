"""Small serialisers that write a digest model out in each format, the way the real sources
do (for the round-trip, damage and hostile-text tests). They escape what each format needs
escaped and nothing else; they are test code, independent of the parsers."""

from __future__ import annotations

import html
import re
from datetime import date

from flashcards.model import Paper

FIVE_FIELDS = ("topic", "previous_research", "problem", "methods", "results")
FIELD_LABELS = {
    "topic": "📘 Topic and Domain",
    "previous_research": "💡 Previous Research and New Ideas",
    "problem": "❓ Problem",
    "methods": "🛠️ Methods",
    "results": "📊 Results and Evaluation",
}


def write_quiz_text(day: date, papers: list[tuple[Paper, str]]) -> str:
    """A quiz text digest of `papers`, each with the text of its `Link:` line ('' for none);
    marked answers get a ✓ after the option."""
    lines = [f"{day.isoformat()} Papers", ""]
    for number, (paper, link) in enumerate(papers, 1):
        if "workflow" in paper.fields:
            lines += ["1/2", ""]
        lines += [f"Paper {number}", "", paper.title, ""]
        if paper.published:
            lines += [f"Published: {paper.published.isoformat()}", ""]
        if link:
            lines += [f"Link: {link}", ""]
        for index, name in enumerate(FIVE_FIELDS, 1):
            if name in paper.fields:
                lines.append(f"{index}. {FIELD_LABELS[name]}: {paper.fields[name]}")
        if "workflow" in paper.fields:
            lines += ["", paper.title, "", paper.fields["workflow"]]
        for question in paper.questions:
            lines += [f"Q{question.number}", f"{question.number}. {question.prompt}"]
            lines += [
                option + (" ✓" if i == question.answer else "")
                for i, option in enumerate(question.options)
            ]
        lines.append("")
    return "\n".join(lines)


def write_quiz_html(day: date, papers: list[tuple[Paper, str]]) -> str:
    """A quiz HTML page of `papers` (as for `write_quiz_text`), every text HTML-escaped; the answer
    is the popup's `data-answer`."""

    def e(text: str) -> str:
        return html.escape(text, quote=True)

    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="UTF-8">',
        f"<title>{day.isoformat()} Papers</title></head>\n<body>",
        f"<h1>{day.isoformat()} Papers</h1>",
    ]
    for number, (paper, link) in enumerate(papers, 1):
        parts += [
            '<div class="paper-container"><div class="card-deck"><div class="paper-card">',
            f"<h2>Paper {number}</h2>",
            f"<p><strong>{e(paper.title)}</strong></p>",
        ]
        if paper.published:
            parts.append(f"<p><strong>Published: </strong>{paper.published.isoformat()}</p>")
        if link:
            parts.append(f'<p><strong>Link: </strong><a href="{e(link)}">{e(link)}</a></p>')
        for index, name in enumerate(FIVE_FIELDS, 1):
            if name in paper.fields:
                parts.append(
                    f'<div class="category-chunk">{index}. <strong>{FIELD_LABELS[name]}:</strong> '
                    f"{e(paper.fields[name])}</div>"
                )
        parts.append("</div>")
        if "workflow" in paper.fields:
            parts += [
                '<div class="paper-card flowchart-card">',
                f"<h2>{e(paper.title)}</h2>",
                '<svg viewBox="0 0 10 10"><rect width="4" height="4"/>',
                f'<text x="1" y="1">{e(paper.fields["workflow"])}</text></svg></div>',
            ]
        parts.append('</div><div class="quiz-tabs">')
        for q in paper.questions:
            answer = q.options[q.answer] if q.answer is not None else ""
            choices = "".join(
                f'<div class="quiz-choice" data-value="{e(o)}">{e(o)}</div>' for o in q.options
            )
            parts += [
                f'<div class="quiz-tab">Q{q.number}',
                f'<div class="quiz-popup" data-answer="{e(answer)}">',
                f'<div class="quiz-question">{q.number}. {e(q.prompt)}</div>',
                f'<div class="quiz-choices">{choices}</div>',
                "</div></div>",
            ]
        parts.append("</div></div>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def md_escape(text: str) -> str:
    """Every ASCII punctuation character backslash-escaped: CommonMark then reads all of them
    literally (and GFM tables read `\\|` as a pipe inside a cell)."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", text)


def write_markdown(digests: list[tuple[date, list[Paper]]]) -> str:
    """One markdown file with a `## Papers for` section per (date, papers)."""
    lines = []
    for day, papers in digests:
        lines += [f"## Papers for {day.isoformat()}", "", "| Title | Authors | Summary |"]
        lines.append("|-------|---------|---------|")
        for p in papers:
            title = md_escape(p.title)
            if p.arxiv_id:
                title += (
                    f" (Read more on [arXiv](https://arxiv.org/abs/{p.arxiv_id}) or "
                    f"[HuggingFace](https://huggingface.co/papers/{p.arxiv_id}))"
                )
            authors = ", ".join(md_escape(a) for a in p.authors)
            summary = md_escape(p.fields.get("summary", ""))
            lines.append(f"| {title} | {authors} | {summary} |")
        lines.append("")
    return "\n".join(lines)
