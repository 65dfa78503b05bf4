"""The markdown-table digest format: `## Papers for YYYY-MM-DD` sections, each with a paper table.

    ## Papers for 2025-04-14

    | Title | Authors | Summary |
    |-------|---------|---------|
    | A Title (Read more on [arXiv](https://arxiv.org/abs/…) or [HuggingFace](…))| A, B | Text |

Each dated section is its own `Digest`. Columns are found by their header names (Title, Authors,
Summary, and optionally Link and Category, in any order), so the four-column `Link` layout and the
fork with a leading `Category` column need no special case.

markdown-it-py does the markdown work: it finds the headings and the tables (a GFM table needs a
header and a matching delimiter row; fenced code is never mistaken for one) and turns every cell
into plain text and links. Two things real digests do that a GFM table cannot express are handled
here on the raw lines of a table that markdown-it found:

* a row wrapped onto continuation lines (a long title split after a word): GFM makes every physical
  line a row; here a line that does not start with `|` continues the previous row's cell, joined
  with one space;
* unescaped `|` inside a summary (`|G-1|`, `π_θ(y_i|x)`): GFM drops the cells beyond the header's
  count; here the surplus cells are joined back, with their `|`, into the Summary column (the one
  column whose text is free prose). Cells are split by GFM's rule, so `\\|` stays a literal
  pipe.

A row with fewer cells than the header is ambiguous (which cell is missing?) and is a `ParseError`
naming its line, as is a paper without a title, the same paper twice in one section, a date that
does not exist, and a `|` row standing outside any table (usually a blank line inside a table). A
section with no rows is not an error: it gives a digest with zero papers and a warning.

Only http(s) links are kept. Any other link (`javascript:`, `data:`, `file:`, a relative one)
leaves its text behind, and in a Title or Link cell (the cells whose links a card shows) a
warning naming its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from markdown_it import MarkdownIt
from markdown_it.common.utils import mdTrim
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.table import MAX_AUTOCOMPLETED_CELLS, getLine
from markdown_it.rules_block.table import table as gfm_table_rule
from markdown_it.token import Token

from flashcards.errors import NotADigestError, ParseError
from flashcards.links import arxiv_abs_url, arxiv_id_from_url, is_http_url
from flashcards.model import Digest, Format, Paper
from flashcards.parse.common import collapse_whitespace, parse_iso_date

FORMAT: Format = "markdown-table"

# The commonmark preset keeps raw HTML as `html_inline` tokens (so stray tags can be dropped) and
# does not linkify; tables are the GFM extension. The block pass only needs the document's shape
# (headings, tables, code): cells are parsed inline once, after rows are mended.


class _EveryLink(MarkdownIt):
    """markdown-it that makes every `[text](url)` a link. By default it leaves one to
    `javascript:`, `data:` or `file:` as literal markup (a title would read
    "[Title](javascript:…)"); here each link whose URL is not http(s) is dropped by
    `plain_by_markdown_it` instead, keeping its text, and reported."""

    def validateLink(self, url: str) -> bool:
        return True


_MD = _EveryLink("commonmark").enable("table")
_MD_BLOCKS = MarkdownIt("commonmark").enable("table").disable(["inline", "normalize"])
# GFM's cell split (as markdown-it's): a '|' right after a backslash is content, not a border.
_CELL_BORDER = re.compile(r"(?<!\\)\|")


def split_row(text: str) -> list[str]:
    """A table row's cells, split as markdown-it's `escapedSplit` does (tests check they agree):
    at each `|` not right after a backslash, with `\\|` turned into `|`."""
    if "\\" not in text:  # most rows: every `|` is a border, which `str.split` finds at C speed
        return text.split("|")
    return [cell.replace("\\|", "|") for cell in _CELL_BORDER.split(text)]


def _table_shape(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's GFM table rule, without a token for each body cell.

    The block pass only needs a table's lines and header cells (the rows are read from the raw
    lines), and the rule's tokens for every cell of every row (three per cell) were half of its
    time. So the stock rule reads the header and delimiter alone (it is given no line after
    them), and the body is then walked as the rule walks it, to the same end; only the body's
    `tbody` tokens are added. tests/test_parse_markdown.py checks that the tokens are the stock
    ones less those of the rows.
    """
    if not gfm_table_rule(state, start, min(end, start + 2), silent):
        return False
    if silent:
        return True
    state.tokens.pop()  # the table_close: the body comes first
    state.level += 1
    opening = next(t for t in reversed(state.tokens) if t.type == "table_open")
    width = sum(t.type == "inline" for t in state.tokens[state.tokens.index(opening) :])
    parent, state.parentType = state.parentType, "table"
    terminators = state.md.block.ruler.getRules("blockquote")
    autocompleted = 0
    line = start + 2
    while line < end:  # the stock rule's loop over the body, less its tokens
        if state.sCount[line] < state.blkIndent:
            break
        # A row starting with '|' starts none of them (each needs its own first character:
        # '`', '~', '>', '*', '-', '_', '+', a digit, '<' or '#'): tried on every row, they
        # were half of the pass.
        first = state.bMarks[line] + state.tShift[line]
        piped = first < state.eMarks[line] and state.src[first] == "|"
        if not piped and any(rule(state, line, end, True) for rule in terminators):
            break
        text = mdTrim(getLine(state, line))
        if not text or state.is_code_block(line):
            break
        cells = split_row(text)
        if cells and cells[0] == "":
            cells.pop(0)
        if cells and cells[-1] == "":
            cells.pop()
        autocompleted += width - len(cells)
        if autocompleted > MAX_AUTOCOMPLETED_CELLS:
            break
        line += 1
    if line > start + 2:
        state.push("tbody_open", "tbody", 1).map = [start + 2, line]
        state.push("tbody_close", "tbody", -1)
    state.push("table_close", "table", -1)
    assert opening.map is not None
    opening.map[1] = line
    state.parentType = parent
    state.line = line
    return True


# `at` resets the rule's alternate chains: a table may still interrupt a paragraph, as in
# markdown-it's own `ParserBlock`.
_MD_BLOCKS.block.ruler.at("table", _table_shape, {"alt": ["paragraph", "reference"]})


_SECTION_TITLE = re.compile(r"^\s*papers\s+for\b\s*(?P<rest>.*)$", re.IGNORECASE)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")

# The "(Read more on [arXiv](…) or [HuggingFace](…))" tail of a title cell, also in its
# "- read more on [arXiv](…)" form: "read more" must be followed by a link, so a title that merely
# contains the words keeps them.
_READ_MORE = re.compile(
    r"\s*(?:\(\s*|[-–—:]\s*)?(?:read\s+more\b[^\[\]()|]{0,30}\[|\[\s*read\s+more\b).*\Z",
    re.IGNORECASE | re.DOTALL,
)
# What every match of `_READ_MORE` holds, under the same flags: a cheap search for it spares
# most cells the full pattern, tried at every position.
_READ_MORE_HINT = re.compile(r"read\s+more", re.IGNORECASE)

# Inline maths `$…$` / `$$…$$` is kept verbatim: markdown would eat its `*`, `_` and `\`. The
# delimiters hug their content (no space inside) and the closing one is not followed by a digit,
# so "from $5 to $10" stays prose.
_MATHS = re.compile(r"(\${1,2})(?=[^\s$])[^$\n`]*?[^\s$\\]\1(?!\d)")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
# The placeholder's own (private-use) characters, met in a cell, are set aside like maths: a
# literal "\ue0007\ue001" would otherwise be "restored" to another span, or to none at all.
_PROTECTED = re.compile(f"{_MATHS.pattern}|[\ue000\ue001]")

# What markdown-it acts on inline (the rest is text to it), and the most a prose cell holds.
_MARKUP_CHAR = re.compile(r"[\\`*_\[\]!<&]")
# A cell without any of these is plain text to `_plain`, which can skip markdown-it: they are what
# the enabled inline rules start at (newline, escape, backticks, emphasis, link, image, autolink,
# html_inline, entity), what markdown-it's normalisation rewrites (CR, NUL), maths, and the
# placeholders' own characters. tests/test_parse_markdown.py checks both paths agree.
_INLINE_TRIGGERS = "\n\r\x00\\`*_[!<&$\ue000\ue001"
# The other common cell, a title with its "(Read more on [arXiv](…) or [HuggingFace](…))": plain
# text and links whose text is plain and whose URL holds only characters that markdown-it's
# link normalisation keeps as they are (no port or other `:` after the scheme: it rewrites
# `https://::`). Such a cell is read without markdown-it too.
_SIMPLE_LINK = re.compile(
    r"\[([^\n\r\x00\\`*_\[\]!<&$\ue000\ue001]*)\]"
    r"\((https?://[A-Za-z0-9][A-Za-z0-9.-]*(?:[/?#][A-Za-z0-9./?#=+~-]*)?)\)"
)
_NOT_PLAIN = re.compile(r"[\n\r\x00\\`*_\[\]!<&$\ue000\ue001]")
_MAX_MARKUP = 256
_MAX_BRACKETS = 32
# What one file may ask of markdown-it's inline parser, in `_markdown_it_cost` units (about
# 5-10 µs each): a cell within the bounds above still costs up to ~2 ms, and a 2 MiB table of
# tiny dense cells holds 100,000s of them (16-50 s). Real files cost at most 0.02 units a
# byte (341 units for the costliest day of the corpus): a real 2 MiB file would stay under a
# quarter of this. Past it, the file's remaining cells are kept as written, with a warning.
_MARKDOWN_IT_BUDGET = 200_000
_CALL_COST = 16  # markdown-it's own cost of one call, in those units

_BARE_URL = re.compile(r"https?://[^\s<>()\[\]|]+[^\s<>()\[\].,;:!?'\"|]")
_EMPTY_BRACKETS = re.compile(r"\(\s*(?:or|and|[,;/|])?\s*\)|\[\s*\]")
_SITE_LABEL = re.compile(
    r"^(?:arxiv|hugging\s*face|hf|pdf|paper|code|github|project(?:\s+page)?|link|url|abs|"
    r"read\s+more|openreview|website|demo)$",
    re.IGNORECASE,
)

# Raw HTML that is markup, not content: dropped with its text kept. Angle-bracketed names that are
# not HTML (`<think>`, `<RETRIEVAL>` tokens of a paper) are prose and stay.
_HTML_TAG = re.compile(r"^<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)")
_HTML_MARKUP = frozenset(
    {
        *("a", "abbr", "b", "big", "blockquote", "br", "center", "cite", "code", "del", "details"),
        *("div", "em", "font", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q"),
        *("s", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody"),
        *("td", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr"),
    }
)
_HTML_BREAKS = frozenset({"br", "p", "div", "li", "tr", "hr"})

# Chat-assistant boilerplate some summaries open with ("Here's a concise summary of the paper
# "X: Y", following your guidelines:"); quoted titles may hold colons.
_PREAMBLE = re.compile(
    r"""^(?:(?:okay|ok|sure|certainly)[,!.]?\s+)?
        here(?:'s|’s|\s+is|\s+are)\s+(?:a|an|the|my)\b
        (?:[^:"“”\n]|"[^"]*"|“[^”]*”){0,300}?
        \b(?:summary|summaries|overview|breakdown)\b
        (?:[^:"“”\n]|"[^"]*"|“[^”]*”){0,300}?:\s+""",
    re.IGNORECASE | re.VERBOSE,
)
# LLM-generated "Follow-up questions: 1. …" after a summary are questions, not findings. Only a
# list right after the colon counts, so prose that mentions follow-up questions stays.
_FOLLOW_UP = re.compile(
    r"""\s*(?:\bhere\s+are\s+(?:some\s+|a\s+few\s+)?)?\bfollow-up\s+questions?\b[^:.,;]{0,60}:
        \s*(?=(?:1[.)]|[-*•]|\(?[ai]\))\s).*\Z""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)

# Header names (lower case, non-letters dropped) → the role of the column.
_COLUMN_ROLES = {
    "title": "title",
    "paper": "title",
    "papertitle": "title",
    "authors": "authors",
    "author": "authors",
    "summary": "summary",
    "abstract": "summary",
    "link": "link",
    "links": "link",
    "url": "link",
    "paperlink": "link",
    "category": "category",
    "categories": "category",
}


def parse(text: str, source: str) -> list[Digest]:
    """Every `Papers for YYYY-MM-DD` section of `text` as a `Digest`, in file order."""
    lines = text.split("\n")
    sections = _find_sections(block_tokens(text), source)
    if not sections:
        raise NotADigestError(
            "not a markdown-table digest: no '## Papers for YYYY-MM-DD' heading", source, 1
        )
    digests = []
    budget = _Budget()
    for section in sections:
        papers, warnings = _parse_section(section, lines, source, budget)
        digests.append(
            Digest(
                source=source,
                format=FORMAT,
                date=section.date,
                papers=tuple(papers),
                warnings=tuple(warnings),
            )
        )
    return digests


def block_tokens(text: str) -> list[Token]:
    """markdown-it's block tokens of `text`, less those of table body rows (`_table_shape`)."""
    # markdown-it's `normalize` rule (line breaks as '\n', NUL as U+FFFD) by `str.replace`: its
    # regexes, tried at every character, cost as much as the rest of the block pass.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        text = text.replace("\0", "\ufffd")
    return _MD_BLOCKS.parse(text)


@dataclass
class _Budget:
    """The markdown-it work left to one file (`_MARKDOWN_IT_BUDGET`)."""

    left: int = _MARKDOWN_IT_BUDGET
    warned: bool = False

    def allows(self, markdown: str) -> bool:
        """Whether `markdown` may still go to markdown-it (spending its cost); once one cell
        is refused, every later one is, so a file reads the same whatever its cells' order."""
        cost = _markdown_it_cost(markdown)
        if cost > self.left:
            self.left = -1
            return False
        self.left -= cost
        return True

    @property
    def spent(self) -> bool:
        return self.left < 0


@dataclass
class _Section:
    date: date
    line: int  # 0-based line of the heading
    level: int
    end: int  # 0-based line where the next heading of the same or a higher level starts
    tables: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, header cells)
    code: set[int] = field(default_factory=set)  # 0-based lines of code blocks


def _find_sections(tokens: list[Token], source: str) -> list[_Section]:
    sections: list[_Section] = []
    current: _Section | None = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            level = int(token.tag[1:])
            if current is not None and level <= current.level:
                current.end = token.map[0]
                current = None
            match = _SECTION_TITLE.match(tokens[index + 1].content)
            if match:
                current = _Section(
                    date=_section_date(match["rest"], source, token.map[0] + 1),
                    line=token.map[0],
                    level=level,
                    end=-1,
                )
                sections.append(current)
        elif token.type == "table_open" and token.map and current is not None:
            current.tables.append((token.map[0], _header_cells(tokens, index)))
        elif token.type in ("fence", "code_block") and token.map and current is not None:
            current.code.update(range(*token.map))
    return sections


def _section_date(rest: str, source: str, line: int) -> date:
    # "Papers for 2025-04-14" possibly followed by more words ("(Monday)").
    words = rest.split()
    return parse_iso_date(words[0].rstrip(":,.") if words else "", source, line)


def _header_cells(tokens: list[Token], table_open: int) -> list[str]:
    cells = []
    for token in tokens[table_open:]:
        if token.type == "thead_close":
            break
        if token.type == "inline":
            cells.append(token.content)
    return cells


def _parse_section(
    section: _Section, lines: list[str], source: str, budget: _Budget
) -> tuple[list[Paper], list[str]]:
    end = section.end if section.end >= 0 else len(lines)
    papers: list[Paper] = []
    warnings: list[str] = []
    first_line: dict[str, int] = {}
    covered: set[int] = set()  # 0-based lines that belong to a table
    paper_tables = 0
    for start, header in section.tables:
        if start in covered:
            continue
        roles = _column_roles(header, budget)
        rows = _table_rows(
            lines, start, end, starts_with_pipe=lines[start].lstrip().startswith("|")
        )
        covered.update((start, start + 1))  # header and delimiter
        covered.update(line for _, physical in rows for line in physical)
        if "title" not in roles.values():
            warnings.append(f"line {start + 1}: a table without a Title column was skipped")
            continue
        paper_tables += 1
        for row_line, physical in rows:
            refused: list[str] = []
            paper = _paper(
                _cells(row_line, lines, physical, header, roles, source),
                row_line,
                source,
                budget,
                refused,
            )
            warnings.extend(
                f"line {row_line + 1}: link {_shown(href)} dropped: only http(s) links are kept"
                for href in dict.fromkeys(refused)
            )
            if budget.spent and not budget.warned:
                budget.warned = True
                warnings.append(
                    f"line {row_line + 1}: more markdown than digests hold; the cells from "
                    "here on are kept as written"
                )
            key = paper.key
            if key in first_line:
                what = f"arXiv id {paper.arxiv_id}" if paper.arxiv_id else f"title {paper.title!r}"
                raise ParseError(
                    f"{what} appears twice in this digest (first at line {first_line[key]})",
                    source,
                    row_line + 1,
                )
            first_line[key] = row_line + 1
            papers.append(paper)
    for number in range(section.line + 1, end):
        stray = number not in covered and number not in section.code
        if stray and lines[number].lstrip().startswith("|"):
            raise ParseError(
                "table row outside a table (a blank line inside the table, or a missing "
                "header or delimiter row?)",
                source,
                number + 1,
            )
    if not papers:
        what = "no paper table" if paper_tables == 0 else "a paper table with no rows"
        warnings.append(f"line {section.line + 1}: no papers in this digest ({what})")
    return papers, warnings


def _column_roles(header: list[str], budget: _Budget | None = None) -> dict[int, str]:
    roles: dict[int, str] = {}
    for index, name in enumerate(header):
        role = _COLUMN_ROLES.get(re.sub(r"[^a-z]", "", _plain(name, budget=budget)[0].lower()))
        if role is not None and role not in roles.values():
            roles[index] = role
    return roles


def _table_rows(
    lines: list[str], header: int, end: int, *, starts_with_pipe: bool
) -> list[tuple[int, list[int]]]:
    """The body rows after the header and delimiter lines: (first line, all its physical lines).

    The table ends at a blank line or a heading, whatever markdown-it thought (it ends a table at
    a line indented four spaces, which a wrapped row may well be).
    """
    rows: list[tuple[int, list[int]]] = []
    for number in range(header + 2, end):
        text = lines[number]
        if not text.strip() or _ATX_HEADING.match(text):
            break
        if rows and starts_with_pipe and not text.lstrip().startswith("|"):
            rows[-1][1].append(number)
        else:
            rows.append((number, [number]))
    return rows


def _cells(
    row_line: int,
    lines: list[str],
    physical: list[int],
    header: list[str],
    roles: dict[int, str],
    source: str,
) -> dict[str, str]:
    """The raw text of each role's cell in one (possibly wrapped) row."""
    joined = " ".join(lines[n].strip() for n in physical)
    cells = split_row(joined)
    if cells and cells[0].strip() == "" and joined.startswith("|"):
        cells.pop(0)
    if cells and cells[-1] == "" and joined.endswith("|"):
        cells.pop()
    width = len(header)
    if len(cells) < width:
        raise ParseError(
            f"table row has {len(cells)} cell{'s' if len(cells) != 1 else ''} but the header has "
            f"{width} ({' | '.join(header)}): a cell or a '|' is missing",
            source,
            row_line + 1,
        )
    if len(cells) > width:
        # Surplus cells come from unescaped pipes inside the prose column: glue them back there.
        prose = next((i for i, r in roles.items() if r == "summary"), width - 1)
        surplus = len(cells) - width
        cells[prose : prose + surplus + 1] = ["|".join(cells[prose : prose + surplus + 1])]
    return {role: cells[index] for index, role in roles.items()}


def _shown(href: str) -> str:
    """A refused link as a warning quotes it: escaped (it is the digest's text), and short."""
    return repr(href if len(href) <= 80 else href[:77] + "...")


def _paper(
    cells: dict[str, str], row_line: int, source: str, budget: _Budget, refused: list[str]
) -> Paper:
    """The row's paper; the links of its Title and Link cells that are not http(s) are added to
    `refused`."""
    # Collapsing spaces first also keeps the regexes below linear on hostile whitespace runs.
    raw_title = collapse_whitespace(cells.get("title", ""))
    link_cells = raw_title + " " + cells.get("link", "")
    _, links = _plain(link_cells, budget=budget, refused=refused)
    bare_title = _without_read_more(raw_title)
    title, _ = _plain(bare_title, drop_site_links=True, budget=budget)
    title = collapse_whitespace(_EMPTY_BRACKETS.sub(" ", _BARE_URL.sub(" ", title)))
    title = title.rstrip(" -–—:|").strip()
    if not title:
        raise ParseError("paper with no title", source, row_line + 1)

    arxiv_id = None
    others: list[tuple[str, str]] = []
    for label, link in links:
        found = arxiv_id_from_url(link)
        if found and arxiv_id is None:
            arxiv_id = found
        elif found != arxiv_id and (label, link) not in others:
            others.append((label or link, link))
    url = arxiv_abs_url(arxiv_id) if arxiv_id else (others[0][1] if others else None)

    authors_text, _ = _plain(cells.get("authors", ""), budget=budget)
    authors = tuple(a for a in (a.strip() for a in authors_text.split(",")) if a)

    fields = {}
    summary = _clean_summary(_plain(cells.get("summary", ""), budget=budget)[0])
    if summary:
        fields["summary"] = summary
    category = _plain(cells.get("category", ""), budget=budget)[0] or None

    return Paper(
        title=title,
        arxiv_id=arxiv_id,
        url=url,
        authors=authors,
        fields=fields,
        links=tuple(others),
        category=category,
        line=row_line + 1,
    )


# What may stand before the "read more" of a `_READ_MORE` match, in it.
_READ_MORE_LEAD = "([-–—:"


def _without_read_more(title: str) -> str:
    """`_READ_MORE.sub("", title)`, tried only from just before the first "read more" rather
    than at every character: a match holds one, with nothing before it but whitespace, one
    bracket and one dash or colon (so it cannot start further back), and runs to the end."""
    hint = _READ_MORE_HINT.search(title)
    if hint is None:
        return title
    start = hint.start()
    while start > 0 and (title[start - 1].isspace() or title[start - 1] in _READ_MORE_LEAD):
        start -= 1
    match = _READ_MORE.search(title, start)
    return title if match is None else title[: match.start()]


def _clean_summary(text: str) -> str:
    # The cheap test first: the letters of "follow-up" match (case-insensitively) only
    # characters whose lower case is that letter, so every match is in `text.lower()`.
    if "follow-up" in text.lower():
        text = _FOLLOW_UP.sub("", text)
    stripped = _PREAMBLE.sub("", text, count=1)
    # Keep the text whole if the "preamble" was all there was.
    return stripped if stripped.strip() else text


def _plain(
    markdown: str,
    *,
    drop_site_links: bool = False,
    budget: _Budget | None = None,
    refused: list[str] | None = None,
) -> tuple[str, list[tuple[str, str]]]:
    """Inline markdown → (plain text with collapsed spaces, [(link text, http(s) url), ...]);
    the URL of each other link (its text is kept) is added to `refused`.

    With `drop_site_links`, a link whose text only names where it goes ("arXiv", "PDF") leaves
    no text behind: in a title cell it is a pointer, not part of the title. A cell that would
    need markdown-it once the file's `budget` is spent is kept as written, like a dense one.
    """
    # Markup-free text is its own plain form (most cells: parsing them was most of the time);
    # the cheap test first.
    if is_plain(markdown) or _too_dense(markdown):
        return _with_bare_urls(collapse_whitespace(markdown), [])
    pieces = _SIMPLE_LINK.split(markdown)
    if len(pieces) > 1 and not any(_NOT_PLAIN.search(text) for text in pieces[::3]):
        return _plain_with_simple_links(pieces, drop_site_links=drop_site_links)
    if budget is not None and not budget.allows(markdown):
        return _with_bare_urls(collapse_whitespace(markdown), [])
    return plain_by_markdown_it(markdown, drop_site_links=drop_site_links, refused=refused)


def is_plain(markdown: str) -> bool:
    """Whether `markdown` holds none of `_INLINE_TRIGGERS`: one `in` a character finds them
    several times faster than a regex class (a summary cell is a kilobyte)."""
    return not any(map(markdown.__contains__, _INLINE_TRIGGERS))


def _plain_with_simple_links(
    pieces: list[str], *, drop_site_links: bool
) -> tuple[str, list[tuple[str, str]]]:
    """`_plain` of a cell split by `_SIMPLE_LINK` into text, (link text, url, text)...: what
    markdown-it makes of it, without it."""
    parts = [pieces[0]]
    links: list[tuple[str, str]] = []
    for index in range(1, len(pieces), 3):
        text, href, after = pieces[index : index + 3]
        label = collapse_whitespace(text)
        if is_http_url(href):
            links.append((label, href))
            if drop_site_links and _SITE_LABEL.match(label):
                text = ""
        parts.append(text)
        parts.append(after)
    return _with_bare_urls(collapse_whitespace("".join(parts)), links)


def plain_by_markdown_it(
    markdown: str, *, drop_site_links: bool = False, refused: list[str] | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """`_plain` of a cell that is not too dense, by markdown-it (the way every cell went before
    plain ones were let through: the tests compare both)."""
    maths: list[str] = []

    def protect(match: re.Match[str]) -> str:
        maths.append(match.group(0))
        return f"\ue000{len(maths) - 1}\ue001"

    tokens = _MD.parseInline(_PROTECTED.sub(protect, markdown))
    parts: list[str] = []
    links: list[tuple[str, str]] = []
    open_link: tuple[str, int] | None = None  # (href, index into parts where its text starts)
    children = (tokens[0].children or []) if tokens else []
    for token in children:
        kind = token.type
        if kind in ("text", "code_inline"):
            parts.append(token.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "image":
            parts.append(token.content)
        elif kind == "html_inline":
            parts.append(_html_inline(token.content))
        elif kind == "link_open":
            open_link = (str(token.attrGet("href") or ""), len(parts))
        elif kind == "link_close" and open_link is not None:
            href, start = open_link
            open_link = None
            label = collapse_whitespace("".join(parts[start:]))
            if is_http_url(href):
                links.append((_restore(label, maths), href))
            elif refused is not None:
                refused.append(href)
            if drop_site_links and _SITE_LABEL.match(label):
                del parts[start:]  # "[arXiv](…)" points somewhere, whatever its URL
    return _with_bare_urls(_restore(collapse_whitespace("".join(parts)), maths), links)


def _too_dense(markdown: str) -> bool:
    """Whether a cell holds too much markup to be prose: it is then kept as written.

    markdown-it costs ~10 µs for each markup character, and its link parser rescans the rest of
    the cell for every unmatched `[` (quadratic): a 2 MiB table of `[` took 31-88 s. Real cells
    hold at most 21 markup characters and 4 `[` (measured on the corpus); these bounds keep the
    worst case within the file limits to a few seconds.
    """
    if markdown.count("[") > _MAX_BRACKETS:
        return True
    return len(_MARKUP_CHAR.findall(markdown)) > _MAX_MARKUP + len(markdown) // 16


def _markdown_it_cost(markdown: str) -> int:
    """Roughly what markdown-it's inline parse of `markdown` costs: a call, each markup
    character, and the rescans of unmatched `[` (quadratic in their number)."""
    return _CALL_COST + len(_MARKUP_CHAR.findall(markdown)) + markdown.count("[") ** 2


def _with_bare_urls(text: str, links: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    # Bare URLs are links too (markdown-it is not asked to linkify prose).
    if "://" not in text:  # what every bare URL holds: most text has none
        return text, links
    known = {url for _, url in links}
    links.extend(
        ("", m.group(0))
        for m in _BARE_URL.finditer(text)
        if m.group(0) not in known and is_http_url(m.group(0))
    )
    return text, links


def _html_inline(tag: str) -> str:
    match = _HTML_TAG.match(tag)
    if match is None:
        return tag
    name = match.group(1).lower()
    if name not in _HTML_MARKUP:
        return tag
    if name == "sup" and not tag.lstrip("< ").startswith("/"):
        return "^"
    return " " if name in _HTML_BREAKS else ""


def _restore(text: str, maths: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: maths[int(m.group(1))], text) if maths else text
