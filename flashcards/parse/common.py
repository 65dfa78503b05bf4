"""Helpers shared by the digest parsers: arXiv ids from links, dates, field labels."""

from __future__ import annotations

import re
from datetime import date

from flashcards.errors import ParseError

# New-style ids (0704.0001 onward, 4+4 or 4+5 digits) and old-style ones (hep-th/0601001).
_ARXIV_URL = re.compile(
    r"""^https?://(?:www\.|export\.)?arxiv\.org/
        (?:abs|pdf|html|format)/
        (?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})
        (?:v\d+)?(?:\.pdf)?/?(?:[?#].*)?$""",
    re.IGNORECASE | re.VERBOSE,
)

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def arxiv_id_from_url(url: str) -> str | None:
    """The arXiv id of an arxiv.org abs/pdf/html link, without its version suffix; else None."""
    match = _ARXIV_URL.match(url.strip())
    if match is None:
        return None
    arxiv_id = match.group("id")
    # Old-style archive names are lower case ("hep-th"); new-style ids are digits only.
    return arxiv_id.lower() if "/" in arxiv_id else arxiv_id


def arxiv_abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def parse_iso_date(s: str, source: str, line: int | None) -> date:
    """`YYYY-MM-DD` to a date; a malformed or impossible date (2025-02-30) is a ParseError."""
    match = _ISO_DATE.match(s)
    if match is None:
        raise ParseError(f"expected a date as YYYY-MM-DD, got {s.strip()!r}", source, line)
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ParseError(f"impossible date {s.strip()!r}: {exc}", source, line) from None
