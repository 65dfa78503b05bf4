"""Maths on cards: `$…$` and `$$…$$` in digest text become MathJax's `\\(…\\)` and `\\[…\\]`.

Anki typesets `\\(…\\)` and `\\[…\\]` with its bundled MathJax 3 but never dollars, so the digests'
`SL$^{2}$A-INR` or `$x_i = \\frac{1}{M}$` showed as raw LaTeX. Dollars are also money, so a span
counts as maths only when

- the opening `$` is followed by a non-space and the closing `$` preceded by one and not followed
  by a digit (pandoc's rule: "costs $3 to $4", "$10–$20" and "$7,800 (vs $294K)" stay text);
- it looks like maths: it holds one of `\\ ^ _ { } = < >`, or is a lone variable such as `$f$` or
  `$x'$` ("$5M$"-like amounts stay text);
- inline maths stays on one line and under `MAX_MATHS` characters; `\\$` is a literal dollar.

Maths is typeset only when it is safe. Anki's MathJax loads the `action`, `ams`, `autoload`,
`configmacros`, `mathtools`, `mhchem`, `newcommand`, `noundefined` and `require` packages
(ankitects/anki `ts/mathjax/index.ts`); through `autoload`, `html`, `bbox`, `unicode`, `enclose`
and others load on first use. Their macros can set links (`\\href`), CSS, classes and ids on the
page (`\\style`, `\\class`, `\\cssId`, `\\data`, `\\bbox`, `\\enclose`), fonts (`\\unicode`), load
code (`\\require`), add tooltips (`\\toggle`, `\\mathtip`, `\\texttip`), define macros that outlive
the card (`\\def`, `\\newcommand`, `\\let`, …) or make cross-references (`\\label`, `\\ref`). A span
using any of `BLOCKED_MACROS`, or holding a MathJax delimiter itself, stays literal text.

Converted maths is wrapped in `<span class="mathjax_process tex2jax_process">`: MathJax 3.2's
default "process" class and its older name (Anki sets neither `ignoreHtmlClass` nor
`processHtmlClass`, and its `mathjax ^3.1.2` dependency resolves to 3.2), so the maths is typeset
even inside a container MathJax ignores (class `mathjax_ignore`; 3.2 no longer honours
`tex2jax_ignore`), such as one digest text is kept in so that nothing else in it is read as
maths. `tests/test_browser.py` checks both with MathJax 3.2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Longest maths span converted; a longer "span" is almost surely two unrelated dollars.
MAX_MATHS = 400

#: MathJax macros a digest may not use (see the module docstring); matched as whole names.
BLOCKED_MACROS = frozenset(
    {
        # links, CSS, classes, ids, arbitrary attributes and MathML
        "href",
        "url",
        "style",
        "class",
        "cssId",
        "data",
        "html",
        "attr",
        "bbox",
        "enclose",
        "mmlToken",
        "unicode",
        # loading code and options
        "require",
        "setOptions",
        "input",
        "include",
        # definitions that outlive the card
        "def",
        "gdef",
        "edef",
        "xdef",
        "let",
        "global",
        "newcommand",
        "renewcommand",
        "providecommand",
        "newenvironment",
        "renewenvironment",
        "DeclareMathOperator",
        "Newextarrow",
        "DeclarePairedDelimiter",
        "DeclarePairedDelimiterX",
        "DeclarePairedDelimiterXPP",
        "newcolumntype",
        # interaction and cross-references
        "toggle",
        "mathtip",
        "texttip",
        "tooltip",
        "actiontype",
        "label",
        "ref",
        "eqref",
        "tag",
    }
)

PROCESS_CLASS = "mathjax_process tex2jax_process"

_MACRO = re.compile(r"\\([A-Za-z]+)")
_DELIMITER = re.compile(r"\\[()\[\]]")
_TEX_CHAR = re.compile(r"[\\^_{}=<>]")
_VARIABLE = re.compile(r"[A-Za-z]'*")


@dataclass(frozen=True)
class Segment:
    """A piece of text: plain, or maths (`tex` without its dollars; `display` for `$$…$$`)."""

    text: str
    maths: bool = False
    display: bool = False


def is_safe(tex: str) -> bool:
    """Whether MathJax may typeset `tex`: no blocked macro and no delimiter of its own."""
    if _DELIMITER.search(tex):
        return False
    return not any(name in BLOCKED_MACROS for name in _MACRO.findall(tex))


def _looks_like_maths(tex: str) -> bool:
    return bool(_TEX_CHAR.search(tex) or _VARIABLE.fullmatch(tex))


def _is_escaped(text: str, index: int) -> bool:
    """Whether the character at `index` follows an odd number of backslashes."""
    count = 0
    while index > 0 and text[index - 1] == "\\":
        count += 1
        index -= 1
    return count % 2 == 1


def _closing(text: str, start: int, display: bool) -> int:
    """Index of the `$`/`$$` closing maths whose content starts at `start`, or -1."""
    delimiter = "$$" if display else "$"
    position = start
    while True:
        position = text.find(delimiter, position)
        if position < 0:
            return -1
        if _is_escaped(text, position):
            position += 1
            continue
        if not display:
            if text[position - 1].isspace():
                return -1  # "costs $3 to $4": the next dollar opens, never closes
            after = text[position + 1 : position + 2]
            if after.isdigit() or after == "$":
                return -1
        return position


def split_maths(text: str) -> list[Segment]:
    """`text` as plain and maths segments, in order (joined, plain text gives `text` back
    with maths delimiters converted). Maths that is unsafe or unlikely stays plain."""
    segments: list[Segment] = []
    plain_start = 0
    position = 0
    while True:
        position = text.find("$", position)
        if position < 0:
            break
        if _is_escaped(text, position):
            position += 1
            continue
        display = text.startswith("$$", position)
        start = position + (2 if display else 1)
        if start >= len(text) or text[start].isspace():
            position = start
            continue
        end = _closing(text, start, display)
        tex = text[start:end] if end > start else ""
        if (
            not tex
            or len(tex) > MAX_MATHS
            or (not display and "\n" in tex)
            or not _looks_like_maths(tex)
            or not is_safe(tex)
        ):
            position = start
            continue
        if position > plain_start:
            segments.append(Segment(text[plain_start:position]))
        segments.append(Segment(tex, maths=True, display=display))
        position = plain_start = end + (2 if display else 1)
    if plain_start < len(text):
        segments.append(Segment(text[plain_start:]))
    return segments


def maths_html(text: str, escape: Callable[[str], str]) -> str:
    """`text` as HTML: plain parts through `escape`, maths as `\\(…\\)` or `\\[…\\]` (its TeX
    through `escape` too, on one line) in an element MathJax processes."""
    if "$" not in text:  # most text: no maths to look for
        return escape(text) if text else ""
    parts = []
    for segment in split_maths(text):
        if not segment.maths:
            parts.append(escape(segment.text))
            continue
        tex = escape(" ".join(segment.text.split()))
        opening, closing = (r"\[", r"\]") if segment.display else (r"\(", r"\)")
        parts.append(f'<span class="{PROCESS_CLASS}">{opening}{tex}{closing}</span>')
    return "".join(parts)
