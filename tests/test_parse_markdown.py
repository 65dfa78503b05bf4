"""The markdown-table digest format: seeds, the whole real corpus, our own fixtures, bad input."""

from __future__ import annotations

import itertools
import re
import sys
from datetime import date
from pathlib import Path

import pytest
from helpers import CORPUS, FIXTURES, only_digest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.rules_block.table import escapedSplit
from markdown_it.token import Token

from flashcards.errors import ParseError
from flashcards.parse import common, markdown_table, parse_file, parse_text
from flashcards.parse.common import collapse_whitespace

MD = FIXTURES / "markdown"

# Counted independently of the parser: every arXiv abs/pdf link names one paper.
_ARXIV_LINK = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})", re.I)
_SECTION = re.compile(r"^#{1,6}[ \t]+Papers for (\S+)", re.M)


# --- seeds -------------------------------------------------------------------------------------


def test_seed_tables(seeds: Path) -> None:
    digests = [d for f in sorted(seeds.glob("00[34]_*")) for d in parse_file(f)]
    assert [d.date for d in digests] == [date(2025, 2, 26), date(2025, 4, 14)]
    assert {d.format for d in digests} == {"markdown-table"}
    papers = [p for d in digests for p in d.papers]
    assert len(papers) == 26
    assert [len(d.papers) for d in digests] == [13, 13]
    for paper in papers:
        assert paper.authors, paper.title
        assert paper.fields["summary"], paper.title
        assert paper.arxiv_id and paper.url == f"https://arxiv.org/abs/{paper.arxiv_id}"
        assert "Read more" not in paper.title and "](" not in paper.title
    titles = {p.title for p in papers}
    assert (
        "GigaTok: Scaling Visual Tokenizers to 3 Billion Parameters for Autoregressive Image "
        "Generation"
    ) in titles
    assert any("Dimitrije Antić" in p.authors for p in papers)
    gigatok = next(p for p in papers if p.arxiv_id == "2504.08736")
    assert gigatok.line == 8
    assert gigatok.links == (("HuggingFace", "https://huggingface.co/papers/2504.08736"),)


# --- the real corpus ---------------------------------------------------------------------------


def _corpus_files() -> list[Path]:
    return sorted(
        p
        for folder in ("daily-ai-papers", "daily-ai-papers-category")
        for p in (CORPUS / folder).rglob("*.md")
    )


# Without the corpus, one placeholder case still runs, so that its `corpus` fixture applies the
# one rule (a failure under CI, else a skip) instead of an empty parameter set's silent skip.
CORPUS_CASES = _corpus_files() or [CORPUS / "missing"]


@pytest.mark.parametrize("path", CORPUS_CASES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file(path: Path, corpus: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    digests = parse_file(path)

    starts = [m.start() for m in _SECTION.finditer(text)] + [len(text)]
    expected = [len(set(_ARXIV_LINK.findall(text[a:b]))) for a, b in itertools.pairwise(starts)]
    assert [len(d.papers) for d in digests] == expected
    categorised = "| Category |" in text

    for digest in digests:
        assert digest.format == "markdown-table"
        if not digest.papers:
            assert digest.warnings  # a header-only day: no error, but said
        for paper in digest.papers:
            assert paper.arxiv_id and paper.title
            for bad in ("Read more", "read more", "](", "|"):
                assert bad not in paper.title, (paper.line, paper.title)
            assert lines[paper.line - 1].startswith("| ")
            # The row's text after its authors cell (with its continuation lines) had words, so
            # the summary must have some.
            row = " ".join([lines[paper.line - 1], *_continuations(lines, paper.line)])
            after_authors = row.split("|", 4 if categorised else 3)[-1]
            if re.search(r"\w", after_authors):
                assert paper.fields.get("summary"), paper.line
            if categorised:
                assert paper.category


def _continuations(lines: list[str], line: int) -> list[str]:
    following = []
    for text in lines[line:]:
        if not text.strip() or text.lstrip().startswith("|"):
            break
        following.append(text.strip())
    return following


def test_corpus_holds_the_variations(corpus: Path) -> None:
    """The sweep above is only worth something if the corpus has what it should have."""
    texts = {p: p.read_text(encoding="utf-8") for p in _corpus_files()}
    assert len(texts) == 200
    assert any("| Link |" in t for t in texts.values())
    assert any("- read more on [arXiv]" in t for t in texts.values())
    assert sum(not _ARXIV_LINK.search(t) for t in texts.values()) == 9  # header-only days
    assert any(re.search(r"^  \S", t, re.M) for t in texts.values())  # wrapped rows


# --- our own fixtures --------------------------------------------------------------------------


def test_wrapped_titles_sections_maths_html_and_pipes() -> None:
    first, second = parse_file(MD / "two_days_wrapped.md")
    assert (first.date, second.date) == (date(2025, 3, 3), date(2025, 3, 4))
    assert first.warnings == second.warnings == ()

    loops, shortcut, sinks = first.papers
    assert loops.title == (
        "Tiny Recursive Reasoners: Why a Two-Layer Network Can Beat a Very Large Language Model "
        "on Grid Puzzles When It Thinks in Loops"
    )
    assert loops.line == 7
    assert loops.authors == ("Léa Müller", "Dimitrije Antić", "bot42")
    assert loops.fields["summary"] == (
        "A small network is run for many recursion steps and solves grid puzzles that stump "
        "models thousands of times its size; the loss is written $\\mathcal{L}_{rec}$ and the "
        "step count T=16. See the code for details."
    )
    # A title over three lines, a versioned arXiv link, an empty authors cell, a <br>.
    assert shortcut.title == "Shortcut Distillation for Diffusion Samplers"
    assert (shortcut.line, shortcut.arxiv_id) == (9, "2503.00012")
    assert shortcut.url == "https://arxiv.org/abs/2503.00012"
    assert shortcut.authors == ()
    assert shortcut.fields["summary"] == (
        "Distils a sampler into a 2-step student. It keeps 97% of the teacher's quality."
    )
    # Escaped pipes are text; a <TOKEN> that is not HTML stays.
    assert sinks.line == 12
    assert sinks.fields["summary"] == (
        "Shows that the first token absorbs attention; with the score |S| bounded, a learned "
        "sink helps and <RETRIEVAL> tokens are unaffected."
    )

    ratios, unlinked = second.papers
    # Unescaped pipes inside the summary go back into the summary.
    assert ratios.fields["summary"] == (
        "The ratio π_θ(y|x) / π_old(y|x) is taken over the whole sequence, and the mean |G-1| "
        "error falls to 0.05."
    )
    assert ratios.authors == ("K. Osei", "M. Ito")
    # No arXiv link: identity from the normalised title.
    assert (unlinked.arxiv_id, unlinked.url, unlinked.links) == (None, None, ())
    assert unlinked.key == "title:a-benchmark-without-a-link"
    assert unlinked.line == 19


def test_link_column_layout() -> None:
    digest = only_digest(parse_file(MD / "link_column.md"))
    assert [(p.arxiv_id, p.title, p.line) for p in digest.papers] == [
        ("2409.00101", "Hybrid State-Space Models for Very Long Image Sequences", 5),
        ("2409.00102", "Audio-Driven Portraits with Long Motion Memory", 6),
    ]
    assert digest.papers[0].authors == ("Ravi Kumar", "Zoe Chen")
    assert digest.papers[1].fields == {
        "summary": "Drives a portrait from audio alone, using a long-range motion memory."
    }
    assert all(p.links == () for p in digest.papers)


def test_category_column() -> None:
    digest = only_digest(parse_file(MD / "category_column.md"))
    depth, unify = digest.papers
    assert (depth.category, depth.title, depth.authors) == (
        "Computer Vision",
        "Depth From One Photo, Again",
        ("Mia Lund", "ylo"),
    )
    assert unify.category == "Machine Learning"
    assert unify.fields["summary"] == (
        "Minimises the KL divergence D(p(·|i)||q(·|i)) between two neighbourhood distributions."
    )
    assert depth.to_dict()["category"] == "Computer Vision"


def test_dash_read_more_preamble_and_follow_up_questions() -> None:
    (paper,) = only_digest(parse_file(MD / "read_more_dash.md")).papers
    assert paper.title == "Do Code Models Need Cleaner Data?"
    assert paper.arxiv_id == "2409.00301"
    assert paper.links == (("HuggingFace", "https://huggingface.co/papers/2409.00301"),)
    # The chat preamble and the trailing follow-up questions are not part of the summary.
    assert paper.fields["summary"] == (
        "a) The authors filter instruction data by difficulty. b) A 7B model trained on the "
        "result matches a 34B baseline."
    )
    assert "category" not in paper.to_dict()


def test_header_only_day_is_empty_with_a_warning() -> None:
    digest = only_digest(parse_file(MD / "header_only.md"))
    assert digest.date == date(2025, 10, 16)
    assert digest.papers == ()
    assert digest.warnings == ("line 3: no papers in this digest (a paper table with no rows)",)


def test_rows_without_outer_pipes_and_site_links_in_titles() -> None:
    text = (
        "## Papers for 2025-01-02\n\n"
        "Title | Authors | Summary\n"
        "---|---|---\n"
        "Plain Rows [arXiv](https://arxiv.org/abs/2501.00001) | A. One | First.\n"
        "[Linked Title](https://arxiv.org/abs/2501.00002) ([PDF](https://arxiv.org/pdf/2501.00002)"
        ", [Code](https://github.com/example/repo)) | B. Two | Second.\n"
    )
    plain, linked = parse_text(text, "mem.md")[0].papers
    assert (plain.title, plain.arxiv_id, plain.links) == ("Plain Rows", "2501.00001", ())
    assert (linked.title, linked.arxiv_id) == ("Linked Title", "2501.00002")
    assert linked.links == (("Code", "https://github.com/example/repo"),)


def test_a_title_that_mentions_read_more_keeps_it() -> None:
    text = (
        "## Papers for 2025-01-02\n\n| Title | Authors | Summary |\n|---|---|---|\n"
        "| Read More, Think Less (Read more on [arXiv](https://arxiv.org/abs/2501.00003)) "
        "| C | S |\n"
    )
    assert parse_text(text, "mem.md")[0].papers[0].title == "Read More, Think Less"


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "bad_missing_cell.md",
            "bad_missing_cell.md:6: table row has 2 cells but the header has 3 "
            "(Title | Authors | Summary): a cell or a '|' is missing",
        ),
        (
            "bad_date.md",
            "bad_date.md:2: impossible date '2025-02-30': day is out of range for month",
        ),
        (
            "bad_duplicate.md",
            "bad_duplicate.md:6: arXiv id 2505.00009 appears twice in this digest "
            "(first at line 5)",
        ),
    ],
)
def test_bad_fixture(name: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(MD / name)
    assert str(caught.value) == f"{MD / name}{message.removeprefix(name)}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "| Title | Authors | Summary |\n|---|---|---|\n| A | X | one |\n\n| B | Y | two |\n",
            "mem.md:7: table row outside a table (a blank line inside the table, or a missing "
            "header or delimiter row?)",
        ),
        (
            "| Title | Authors | Summary |\n|---|---|---|\n"
            "| (Read more on [arXiv](https://arxiv.org/abs/2501.00004)) | X | one |\n",
            "mem.md:5: paper with no title",
        ),
        (
            "| Title | Authors | Summary |\n|---|---|---|\n| Same Title | X | one |\n"
            "| Same  title! | Y | two |\n",
            "mem.md:6: title 'Same title!' appears twice in this digest (first at line 5)",
        ),
    ],
)
def test_bad_rows(body: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_text("## Papers for 2025-01-02\n\n" + body, "mem.md")
    assert str(caught.value) == message


def test_heading_that_is_not_a_date() -> None:
    with pytest.raises(ParseError) as caught:
        parse_text("## Papers for 2025-13-01\n\n| Title | Authors | Summary |\n|-|-|-|\n", "m.md")
    assert str(caught.value) == "m.md:1: impossible date '2025-13-01': month must be in 1..12"


# --- the fast paths give what markdown-it gives -------------------------------------------------

# Everything but the characters that send a cell to markdown-it, and pieces that look like
# markup without being any: links' other halves, bare URLs, tildes, headings, odd spaces.
_PLAIN_CHAR = st.characters(
    blacklist_characters="\n\r\x00\\`*_[!<&$\ue000\ue001", blacklist_categories=("Cs",)
)
_PLAIN_PIECE = st.one_of(
    st.text(_PLAIN_CHAR, max_size=8),
    st.sampled_from(
        [
            "](https://arxiv.org/abs/2501.12345)",
            "https://arxiv.org/abs/2501.12345",
            "http://example.org/a?b=c.",
            "(arXiv)",
            "~~struck~~",
            "# heading",
            "> quote",
            "- item",
            "1. one",
            "&",
            "|",
            "---",
            "   ",
            "\t",
            "\u00a0",
            "\u2028",
            "\x0b",
            "\x85",
            "www.example.org",
            "a@b.org",
        ]
    ),
)
_PLAIN_CELL = st.lists(_PLAIN_PIECE, max_size=10).map("".join)


@settings(max_examples=400, deadline=None)
@given(cell=_PLAIN_CELL, drop_site_links=st.booleans())
def test_a_plain_cell_reads_as_markdown_it_reads_it(cell: str, drop_site_links: bool) -> None:
    assume(markdown_table.is_plain(cell))
    fast = markdown_table._plain(cell, drop_site_links=drop_site_links)
    assert fast == markdown_table.plain_by_markdown_it(cell, drop_site_links=drop_site_links)


_URL = st.builds(
    "{}{}".format,
    st.sampled_from(["https://", "http://", "https://", "HTTPS://", "https:/", "ftp://"]),
    st.one_of(
        st.text(st.sampled_from("aZ09./:?#=+~-"), min_size=1, max_size=24),
        st.text(st.sampled_from("aZ09./%"), max_size=8),
        st.text(st.sampled_from("aZ09./:?#=+~-%()_ &\\<>é"), max_size=24),
    ),
)
_LABEL = st.one_of(
    st.sampled_from(["arXiv", " HuggingFace ", "PDF", "code", "", "a *b*", "x]y", "`c`"]),
    st.text(_PLAIN_CHAR, max_size=6),
)
_LINK = st.builds("[{}]({})".format, _LABEL, _URL)
# Mostly cells the fast path takes (plain text, plain labels, plain URLs), some it must refuse.
_SIMPLE_LINK = st.builds(
    "[{}]({}{})".format,
    st.one_of(st.sampled_from(["arXiv", " PDF ", "Hugging Face"]), st.text(_PLAIN_CHAR)),
    st.sampled_from(["https://", "http://"]),
    st.text(st.sampled_from("aZ09./:?#=+~-%"), max_size=24),
)
_LINK_CELL = st.one_of(
    st.lists(st.one_of(st.text(_PLAIN_CHAR.filter(lambda c: c != "]")), _SIMPLE_LINK)),
    st.lists(st.one_of(st.text(_PLAIN_CHAR, max_size=8), _LINK, _PLAIN_PIECE, st.just("]"))),
).map("".join)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(cell=_LINK_CELL, drop_site_links=st.booleans())
@example(
    cell="T (Read more on [arXiv](https://arxiv.org/abs/2501.1) or [HF](https://x.org))",
    drop_site_links=True,
)
@example(cell="T [arXiv](https://arxiv.org/abs/2501.1) [x](https://a%zz)", drop_site_links=False)
def test_a_cell_of_text_and_links_reads_as_markdown_it_reads_it(
    cell: str, drop_site_links: bool
) -> None:
    fast = markdown_table._plain(cell, drop_site_links=drop_site_links)
    assert fast == markdown_table.plain_by_markdown_it(cell, drop_site_links=drop_site_links)


@pytest.mark.parametrize(
    "cell",
    [
        "a *b* c",
        "a _b_ c",
        "a `c` d",
        "[a](https://e.org/a)",
        "see ![i](https://e.org/i.png)",
        "<b>bold</b>",
        "a &amp; b",
        "a \\* b",
        "nul\x00byte",
    ],
)
def test_a_cell_with_markup_goes_to_markdown_it(cell: str) -> None:
    by_markdown_it = markdown_table.plain_by_markdown_it(cell)
    assert by_markdown_it[0] != " ".join(cell.split()) or by_markdown_it[1]
    assert markdown_table._plain(cell) == by_markdown_it


@settings(max_examples=300, deadline=None)
@given(row=st.text(st.sampled_from("ab |\\"), max_size=30))
def test_rows_split_as_markdown_it_splits_them(row: str) -> None:
    assert markdown_table.split_row(row) == escapedSplit(row)


_BLOCK_LINE = st.sampled_from(
    [
        "| a | b |",
        "|---|---|",
        "| --- | :-: |",
        "a | b",
        "--|--",
        "| x \\| y | z |",
        "|",
        "text",
        "",
        "- item",
        "    indented",
        "```",
        "## Papers for 2025-01-02",
        "> quote",
        "<div>",
        "[ref]: https://e.org",
        "| a |",
        "| a | b | c | d |",
        "    | a | b |",
        "  - | a | b |",
        "> | a | b |",
        "# a | b",
        "***",
        "===",
        "\t| a | b |",
        "| a\r| b |\r",
        "\r\n|---|---|",
        "| \x00 | b |",
    ]
)


def _without_rows(tokens: list[Token]) -> list[dict[str, object]]:
    """The tokens as dicts, less those of a table's body rows (between tbody_open and close)."""
    kept: list[dict[str, object]] = []
    in_body = False
    for token in tokens:
        if token.type == "tbody_close":
            in_body = False
        if not in_body:
            kept.append(token.as_dict())
        if token.type == "tbody_open":
            in_body = True
    return kept


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(lines=st.lists(_BLOCK_LINE, max_size=14))
def test_the_block_pass_reads_as_markdown_it_reads(lines: list[str]) -> None:
    # The block pass leaves out the tokens of body rows (nothing reads them): every other token,
    # a table's lines and where it ends included, is markdown-it's.
    text = "\n".join(lines)
    stock = MarkdownIt("commonmark").enable("table").disable("inline")
    expected = _without_rows(stock.parse(text))
    assert _without_rows(markdown_table.block_tokens(text)) == expected
    assert not any(t.type == "td_open" for t in markdown_table.block_tokens(text))


@pytest.mark.slow
def test_the_block_pass_ends_a_table_where_markdown_it_does_at_the_cell_limit() -> None:
    # markdown-it stops a table once 65,536 empty cells would have to be made up.
    header = "|" + " a |" * 300 + "\n|" + "---|" * 300 + "\n"
    text = header + "| x |\n" * 300 + "| y |\n"
    stock = MarkdownIt("commonmark").enable("table").disable("inline")
    expected = _without_rows(stock.parse(text))
    assert _without_rows(markdown_table.block_tokens(text)) == expected
    assert expected[0]["map"] == [0, 221]  # 219 rows of 299 made-up cells, then a paragraph


def test_collapsing_whitespace_splits_where_the_regex_did() -> None:
    # `collapse_whitespace` uses `str.split`; it used `\s+`: the same characters, every one.
    space = re.compile(r"\s")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(space.fullmatch(char)) == char.isspace(), hex(code)
    text = " a\u00a0\u2028b\t\x1c c\u3000 "
    assert collapse_whitespace(text) == re.sub(r"\s+", " ", text).strip() == "a b c"


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *("Read more", "read  MORE", "read\nmore", "more", " on ", "[arXiv](u)", "[", "]"),
                *("(", ")", " ", "\u3000", "-", "–", "—", ":", "|", "x", "Title", "READ MORE ["),
                "  read more on [arXiv]",
            ]
        ),
        max_size=15,
    ).map("".join)
)
def test_read_more_is_cut_where_the_regex_cuts_it(title: str) -> None:
    expected = markdown_table._READ_MORE.sub("", title)
    assert markdown_table._without_read_more(title) == expected


def test_collapsing_long_ascii_text_finds_every_kind_of_whitespace() -> None:
    # Long ASCII text is returned as it is (stripped) unless it holds `ASCII_SPACES`.
    ascii_spaces = {chr(code) for code in range(128) if chr(code).isspace()}
    assert ascii_spaces == {" "} | set(common.ASCII_SPACES[1:]) and common.ASCII_SPACES[0] == "  "
    for space in sorted(ascii_spaces):
        for text in (f"{space}{'word ' * 20}x", f"{'word ' * 20}{space}x", f"{'w' * 70}{space}"):
            for doubled in (text, text.replace(space, space * 2)):
                assert collapse_whitespace(doubled) == " ".join(doubled.split()), repr(doubled)


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", "data:text/html;base64,PGI+", "file:///etc/passwd", "/abs/2501.00002"],
)
@pytest.mark.parametrize("column", ["title", "link"])
def test_a_refused_link_in_a_title_or_link_cell_is_a_warning_naming_its_line(
    href: str, column: str
) -> None:
    """Only http(s) links are kept; one that is not is dropped with a word, not silently, and its
    text stays text (no markup left in the title)."""
    title = f"[Linked Title]({href})" if column == "title" else "Linked Title"
    link = f"[PDF]({href})" if column == "link" else ""
    text = (
        "## Papers for 2025-01-02\n\n"
        "| Title | Link | Summary |\n"
        "|---|---|---|\n"
        "| Plain Row | https://arxiv.org/abs/2501.00001 | First. |\n"
        f"| {title} | {link} | Second. |\n"
    )
    digest = only_digest(parse_text(text, "day.md"))
    plain, linked = digest.papers
    assert plain.arxiv_id == "2501.00001"
    assert (linked.title, linked.url, linked.links) == ("Linked Title", None, ())
    (warning,) = digest.warnings
    assert warning.startswith("line 6: ") and href in warning and "http(s)" in warning


def test_a_refused_link_in_a_summary_is_no_warning() -> None:
    """A summary's links are never kept (its text is), so dropping one is nothing to report."""
    text = (
        "## Papers for 2025-01-02\n\n"
        "| Title | Summary |\n"
        "|---|---|\n"
        "| A Title | Uses [a trick](javascript:alert(1)) and [code](https://github.com/x/y). |\n"
    )
    digest = only_digest(parse_text(text, "day.md"))
    assert digest.warnings == ()


def test_a_site_link_that_is_refused_leaves_no_text_in_the_title() -> None:
    text = (
        "## Papers for 2025-01-02\n\n"
        "| Title | Summary |\n"
        "|---|---|\n"
        "| A Title [PDF](file:///tmp/x.pdf) | Text. |\n"
    )
    digest = only_digest(parse_text(text, "day.md"))
    assert digest.papers[0].title == "A Title"
    assert len(digest.warnings) == 1
