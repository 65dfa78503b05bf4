"""Links: arXiv ids from links and bare ids, canonical arXiv URLs, and which links are safe to
keep (only absolute http(s) ones). Every step that reads or writes a link uses these."""

from __future__ import annotations

import re

# New-style ids (0704.0001 onward, 4+4 or 4+5 digits) and old-style ones (hep-th/0601001), with
# an optional version suffix that is not part of the identity.
_ARXIV_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?"
_ARXIV_URL = re.compile(
    rf"""^https?://(?:www\.|export\.)?arxiv\.org/
        (?:abs|pdf|html|format)/
        {_ARXIV_ID}
        (?:\.pdf)?/?(?:[?#].*)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_BARE_ARXIV_ID = re.compile(rf"^{_ARXIV_ID}$", re.IGNORECASE)


def arxiv_id_from_url(url: str) -> str | None:
    """The arXiv id of an arxiv.org abs/pdf/html link, without its version suffix; else None."""
    return _canonical_id(_ARXIV_URL.match(url.strip()))


def arxiv_id_from_text(text: str) -> str | None:
    """The arXiv id that `text` is ('2504.17761v2', 'hep-th/0601001'), without its version
    suffix; else None."""
    return _canonical_id(_BARE_ARXIV_ID.match(text.strip()))


def _canonical_id(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    arxiv_id = match.group("id")
    # Old-style archive names are lower case ("hep-th"); new-style ids are digits only.
    return arxiv_id.lower() if "/" in arxiv_id else arxiv_id


# Characters that never belong in a link we keep: whitespace, controls, quotes and angle brackets
# (a "link" holding them is markup or a broken line, and could end an attribute it is put in).
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f\"'<>`\\]")
_HTTP_URL = re.compile(r"^https?://[^/?#]", re.IGNORECASE)


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) link that is safe to keep: papers link only to
    those (never `javascript:`, `data:` or relative links)."""
    return bool(_HTTP_URL.match(url)) and _NOT_IN_URL.search(url) is None


def arxiv_abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"
