"""Digest text as a person may safely read it: without the invisible characters that make it
read as something else.

Used wherever digest text is shown to a person: every card field (`flashcards.anki.notes`
escapes through it), the comments of an answer key (`flashcards.answers.key`) and the question
`flashcards check` quotes unquoted in a warning. Nowhere else: the parsed digests keep the
text as written, so GUIDs, answer inference and `parse --json` do not depend on it, and a text
without such characters is left as it is.
"""

from __future__ import annotations

import re
import unicodedata

# Characters a reader cannot see that change what the text around them shows, dropped from
# digest text wherever a person reads it (`visible_text`): bidi embeddings, overrides,
# isolates and marks (they reorder what is displayed, "Trojan Source": a title or option reads
# as something it is not), Unicode's other format characters but those below, and control
# characters (a space for the ones Python reads as whitespace, so that words stay apart).
# Kept, because real text needs them and they reorder nothing: tab, line breaks, the soft
# hyphen U+00AD, the zero-width space, non-joiner and joiner U+200B–U+200D (line breaks in Thai
# and CJK, ZWNJ in Persian and Indic words, ZWJ in emoji sequences), the word joiner U+2060,
# the visible Arabic and Syriac number signs and abbreviation marks, and the tag characters
# that end an emoji flag sequence (🏴 + tags + U+E007F); tags anywhere else are invisible text
# ("ASCII smuggling") and dropped.
_KEPT_FORMAT = frozenset(
    "\u00ad\u200b\u200c\u200d\u2060"
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd"
)
_FLAG_SEQUENCE = "\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
_KEPT_CONTROLS = frozenset("\t\n\r")


def _unseen_replacement(char: str) -> str | None:
    """What `visible_text` puts for `char`: None to keep it, else its replacement."""
    category = unicodedata.category(char)
    if category == "Cc":
        if char in _KEPT_CONTROLS:
            return None
        return " " if char.isspace() else ""
    if category == "Cf":
        return None if char in _KEPT_FORMAT else ""
    if category in ("Zl", "Zp"):  # U+2028, U+2029: the line or paragraph break they stand for
        return "\n"
    return None


#: Every character `_unseen_replacement` replaces (as of Unicode 15; a test checks this list
#: against the running Python's tables), or an emoji flag sequence, which stays.
_UNSEEN = re.compile(
    _FLAG_SEQUENCE + "|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200e\u200f"
    "\u2028-\u202e\u2061-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def _visible(match: re.Match[str]) -> str:
    found = match.group()
    return found if len(found) > 1 else (_unseen_replacement(found) or "")


def visible_text(text: str) -> str:
    """`text` without the invisible characters that could make it read as something else (see
    `_KEPT_FORMAT` above for what stays); `text` itself when it holds none."""
    if text.isprintable():  # at C speed: most text holds no control or format character
        return text
    return _UNSEEN.sub(_visible, text)
