r"""Step 2b: assign each paper a few topic slugs (tags `topic::<slug>`) from an editable taxonomy.

The taxonomy is a YAML file (the bundled one is `flashcards/taxonomy.yaml`): each topic has a slug,
a label and keyword rules. A paper's text is searched field by field; a rule that matches in a
field adds that field's weight (times the topic's weight) to the topic's score, once per rule and
field, so a word repeated ten times counts once and a topic named in the title or in the quiz's
"Topic and Domain" line outweighs one mentioned in passing in a long summary. Topics that reach
`min_score` are returned best first (ties in file order); a paper that reaches none gets the
fallback slug, so every note carries at least one `topic::` tag.

Keyword syntax (documented for users in the taxonomy file itself):
- a word or phrase matches whole words, ignoring case; spaces and hyphens between its words are
  interchangeable ("text to image" matches "text-to-image"), and a plural "s"/"es" is allowed;
- a keyword written in capitals and digits (an acronym: `RAG`, `LLM`, `3D`) matches only in
  capitals, so that `RAG` does not match "rag" and `SAM` does not match a name;
- a trailing `*` matches any word ending ("quantiz*" → quantized, quantization);
- `patterns` hold regular expressions, matched ignoring case by RE2 (google-re2), whose running
  time is linear in the text: a taxonomy is user input, and one pattern with catastrophic
  backtracking (`^(\w+\s?)*$`) in Python's engine hung the build. RE2 has no look-arounds or
  backreferences, and its `\w`, `\b`, `\d` are ASCII (`\p{L}` is any letter); a pattern it
  cannot compile is a `file:line:` error naming it. Keywords stay on Python's `re`: we compile
  them, from literal words joined by single `[\s\-]*` runs, which never backtrack badly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, reduce
from importlib import resources
from operator import or_
from pathlib import Path
from typing import Any, Protocol

import re2  # type: ignore[import-untyped]

from flashcards.model import FIELD_NAMES, Paper
from flashcards.yamlfile import YamlDocument, describe, parse_yaml, read_yaml

#: How much a rule match in each part of a paper counts. The title, the table's category column
#: and the quiz "Topic and Domain" line say what a paper is *about*; the other fields also
#: mention what it merely uses. The flattened flow chart (`workflow`) is noisy and only some
#: digests have it: ignored.
DEFAULT_WEIGHTS: dict[str, float] = {
    "title": 3.0,
    "category": 3.0,
    "topic": 3.0,
    "previous_research": 1.0,
    "problem": 1.0,
    "methods": 1.0,
    "results": 1.0,
    "summary": 1.0,
    "workflow": 0.0,
}
WEIGHTED_PARTS = ("title", "category", *FIELD_NAMES)

DEFAULT_MIN_SCORE = 2.0
DEFAULT_FALLBACK = "other"
BUNDLED = "<bundled taxonomy.yaml>"

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ACRONYM = re.compile(r"^[A-Z0-9][A-Z0-9\-]*[A-Z0-9]$|^[A-Z]$")
_WORD_SEPARATORS = re.compile(r"[\s\-]+")
_WORD = re.compile(r"[0-9a-z]+")
_KEY_LENGTH = 3
# Words whose verdict `_RuleIndex` keeps (a few MB at most); past that it starts afresh.
_MAX_REMEMBERED_WORDS = 50_000

TAXONOMY_KEYS = ("fallback", "min_score", "weights", "topics")
TOPIC_KEYS = ("label", "keywords", "patterns", "weight")


class _Match(Protocol):
    def start(self) -> int: ...


class Pattern(Protocol):
    """What a rule needs of a compiled regex: Python's `re.Pattern` and RE2's both have it."""

    def finditer(self, text: str) -> Iterator[_Match]: ...

    def search(self, text: Any) -> _Match | None: ...


# RE2's words for Perl features it leaves out by design (not for plain syntax errors).
_UNSUPPORTED = re.compile(r"perl operator|escape sequence|repetition operator")


def compile_user_pattern(pattern: str | bytes) -> Pattern:
    """A taxonomy `patterns` entry compiled by RE2, ignoring case (linear time: see the module
    docstring); ValueError says why RE2 cannot compile it."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # it would print to stderr; the caller raises a clear error
    try:
        compiled: Pattern = re2.compile(pattern, options)
        return compiled
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


@dataclass(frozen=True)
class Rule:
    """One keyword or pattern of a topic.

    Keywords are compiled to patterns that start with a literal (the regex engine then scans
    for it at C speed) and search the lower-cased text unless they are acronyms; the word
    boundary on the left is checked by hand, since a look-behind in front of the literal would
    make every search many times slower.
    """

    text: str  # as written in the taxonomy, for explanations
    pattern: Pattern
    on_lowered: bool = False  # search the lower-cased text (case-insensitive keywords)
    left_boundary: bool = False  # the match must not start inside a word
    # Lower-case ASCII letters or digits every match starts with (a match starts at a word
    # start): lets `Taxonomy` skip, by a set lookup, the rules whose first word a text lacks.
    # Empty for user regexes, which are always tried.
    needle: str = ""
    # For a keyword of one word of lower-case letters and digits (its needle), how its matches
    # are known from the text's words alone (see `_RuleIndex`): "word" (that word, or its
    # plural), "prefix" (a word starting with it); "" for the others, which are searched.
    by_words: str = ""
    # For a keyword on the lower-cased text whose first two words are lower-case letters and
    # digits: the second one. A match then needs a word of the text starting with it, or with
    # the first two glued together (see `_RuleIndex`).
    second: str = ""
    # `pattern` is an RE2 one compiled from UTF-8 (a user's), searched in the UTF-8 text: RE2
    # matches bytes, and the match of a `str` costs its wrapper a mapping back to characters.
    utf8: bool = False

    def search(self, text: str, lowered: str) -> bool:
        haystack = lowered if self.on_lowered else text
        if self.utf8:
            return self.pattern.search(haystack.encode("utf-8")) is not None
        for match in self.pattern.finditer(haystack):
            start = match.start()
            if not self.left_boundary or start == 0 or not _is_word_char(haystack[start - 1]):
                return True
        return False


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


@dataclass(frozen=True)
class Topic:
    slug: str
    label: str
    rules: tuple[Rule, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class Taxonomy:
    source: str
    topics: tuple[Topic, ...] = ()
    fallback: str = DEFAULT_FALLBACK
    min_score: float = DEFAULT_MIN_SCORE
    # (part, weight) pairs rather than a dict so that a Taxonomy stays hashable (cacheable).
    weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())

    @cached_property
    def _index(self) -> _RuleIndex:
        return _RuleIndex.of(self.topics)

    @cached_property
    def _weights(self) -> dict[str, float]:
        return dict(self.weights)

    def matching_rules(self, text: str, lowered: str) -> list[tuple[int, Rule]]:
        """(topic index, rule) of every rule that matches `text` (`lowered` is its lower-cased
        form), in taxonomy order. The same as asking each rule's `search` (a test checks it),
        but only the rules that the text's words leave in doubt are searched."""
        index = self._index
        rules = index.rules
        return [rules[number] for number in _positions(index.matched(text, lowered))]

    def label(self, slug: str) -> str:
        for topic in self.topics:
            if topic.slug == slug:
                return topic.label
        return slug


#: What a word tells of the rules, as one bit mask (cheap to combine, text by text): for the
#: rule at position n of `_RuleIndex.rules` among `size` rules, bit n: it matches; bit size + n:
#: it may match (to be searched); bit 2 * size + n: its second word may follow (`Rule.second`).
#: A Python int does in one C operation what took a set operation per token.
_Told = int
_NO_RULES: _Told = 0


@dataclass(frozen=True, eq=False)
class _RuleIndex:
    """What a text's words tell of the rules: which match for sure, which may (to be searched);
    the others cannot match.

    A keyword on the lower-cased text matches at a word start (no ASCII letter or digit before
    it) and begins with its needle, so one of the text's words (`_WORD` runs) starts with the
    whole needle. A one-word keyword (`Rule.by_words`) needs no search at all: it matches exactly
    when a word is the keyword or its plural (or, ending in `*`, starts with it). An acronym is
    searched in the text as written; it is tried when a word of the lower-cased text starts
    with the first `_KEY_LENGTH` characters of its needle (the filter these rules have always
    had: kept, so that results do not change). A keyword of two or more words (`Rule.second`)
    is searched only if a word also starts with its second word (after a space or a hyphen) or
    with its first two glued ("multimodal"). What a word tells is remembered by word: the words
    of a digest archive repeat. What a chunk between spaces tells ("text-to-image,") is its
    words' bits, with each keyword on the lower-cased text that matches within the chunk alone
    told to match rather than to be searched.
    """

    rules: tuple[tuple[int, Rule], ...]  # (topic index, rule), in taxonomy order
    by_key: dict[str, tuple[int, ...]]  # a needle (or its start) → positions in `rules`
    by_second: dict[str, tuple[int, ...]]  # a second word (or the first two glued) → rules
    key_lengths: tuple[int, ...]  # the lengths of the keys of both, ascending
    always: _Told  # the "to search" bits of rules without a needle
    matches: _Told  # every "it matches" bit
    maybe_alone: _Told  # the "to search" bits of rules without a second word
    paired: _Told  # the "to search" bits of rules with a second word
    told: _Remembered  # word → its bits (bounded)
    # A text's whitespace-separated chunk ("text-to-image,") → its words' bits (bounded): the
    # words of a text are those of its chunks (no `_WORD` run spans a space), and splitting at
    # spaces is several times cheaper than finding words with a regex.
    chunks: _Remembered

    @classmethod
    def of(cls, topics: tuple[Topic, ...]) -> _RuleIndex:
        rules = tuple((index, rule) for index, topic in enumerate(topics) for rule in topic.rules)
        size = len(rules)
        by_key: dict[str, list[int]] = {}
        by_second: dict[str, list[int]] = {}
        always = 0
        for number, (_, rule) in enumerate(rules):
            if not rule.needle:
                always |= 1 << (size + number)
                continue
            key = rule.needle if rule.on_lowered else rule.needle[:_KEY_LENGTH]
            by_key.setdefault(key, []).append(number)
            if rule.second:
                for second in {rule.second, rule.needle + rule.second}:
                    by_second.setdefault(second, []).append(number)
        paired = {n for numbers in by_second.values() for n in numbers}
        index = cls(
            rules=rules,
            by_key={key: tuple(numbers) for key, numbers in by_key.items()},
            by_second={key: tuple(numbers) for key, numbers in by_second.items()},
            key_lengths=tuple(sorted({len(key) for key in (*by_key, *by_second)})),
            always=always,
            matches=(1 << size) - 1,
            maybe_alone=_bits(size + n for n in range(size) if n not in paired),
            paired=_bits(size + n for n in paired),
            told=_Remembered(),
            chunks=_Remembered(),
        )
        index.told.tell = index._tell
        index.chunks.tell = index._tell_chunk
        return index

    def matched(self, text: str, lowered: str) -> int:
        """The rules that match `text` (`lowered`: its lower-cased form), as a bit mask: bit n
        for the rule at position n."""
        told = reduce(or_, filter(None, map(self.chunks.__getitem__, lowered.split())), self.always)
        matched = told & self.matches
        if told == matched:
            return matched
        size = len(self.rules)
        # A rule with a second word is searched if that came too; one a chunk alone showed to
        # match (`_tell_chunk`), not again.
        searched = ((told & self.maybe_alone) | (told & (told >> size) & self.paired)) >> size
        searched &= ~matched
        rules = self.rules
        while searched:
            bit = searched & -searched
            searched ^= bit
            if rules[bit.bit_length() - 1][1].search(text, lowered):
                matched |= bit
        return matched

    def _tell_chunk(self, chunk: str) -> _Told:
        told = reduce(or_, map(self.told.__getitem__, _WORD.findall(chunk)), _NO_RULES)
        size = len(self.rules)
        # The rules it may match, but one with a second word only if that is in the chunk too.
        maybe = (told >> size) & (~(self.paired >> size) | (told >> (2 * size))) & self.matches
        while maybe:
            # A keyword on the lower-cased text matching within the chunk matches in the text:
            # the characters around the chunk are spaces (or none), neither a letter nor a digit.
            bit = maybe & -maybe
            maybe ^= bit
            rule = self.rules[bit.bit_length() - 1][1]
            if rule.on_lowered and rule.search(chunk, chunk):
                told = (told | bit) & ~(bit << size)
        return told

    def _tell(self, word: str) -> _Told:
        size = len(self.rules)
        told = _NO_RULES
        for length in self.key_lengths:
            if length > len(word):
                break
            for number in self.by_second.get(word[:length], ()):
                told |= 1 << (2 * size + number)
            for number in self.by_key.get(word[:length], ()):
                rule = self.rules[number][1]
                if rule.by_words == "prefix":
                    told |= 1 << number
                elif (
                    rule.second
                    and word != rule.needle
                    and not word.startswith(rule.second, len(rule.needle))
                ):
                    # A match's first word is the needle, before a space or a hyphen, or is
                    # glued to the second word: another word starting with the needle tells
                    # nothing.
                    continue
                elif rule.by_words == "word":
                    if word in (rule.needle, rule.needle + "s", rule.needle + "es"):
                        told |= 1 << number
                else:
                    told |= 1 << (size + number)
        return told


def _bits(positions: Iterable[int]) -> int:
    mask = 0
    for position in positions:
        mask |= 1 << position
    return mask


def _positions(mask: int) -> Iterator[int]:
    """The positions of the bits set in `mask`, ascending."""
    while mask:
        bit = mask & -mask
        mask ^= bit
        yield bit.bit_length() - 1


class _Remembered(dict[str, _Told]):
    """What `tell` tells of a string, remembered up to `_MAX_REMEMBERED_WORDS` strings (then
    afresh): a plain lookup in C for a string seen before."""

    tell: Callable[[str], _Told]

    def __missing__(self, key: str) -> _Told:
        told = self.tell(key)
        if len(self) >= _MAX_REMEMBERED_WORDS:
            self.clear()
        self[key] = told
        return told


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy in `path`, or the one bundled with the package when None."""
    if path is None:
        text = resources.files("flashcards").joinpath("taxonomy.yaml").read_text("utf-8")
        return _build(parse_yaml(text, BUNDLED))
    return _build(read_yaml(path))


def score_topics(paper: Paper, taxonomy: Taxonomy) -> list[tuple[str, float]]:
    """Every topic with a positive score for `paper`, best first (ties in taxonomy order)."""
    return score_parts(topic_parts(paper), taxonomy)


def score_parts(parts: Sequence[tuple[str, str]], taxonomy: Taxonomy) -> list[tuple[str, float]]:
    """`score_topics` of a paper whose `topic_parts` are `parts`."""
    weights = taxonomy._weights
    rule_index = taxonomy._index
    rules = rule_index.rules
    scores: dict[int, float] = {}  # topic index → score, for the topics some rule matched
    for name, text in parts:
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        # In any order: a part adds the same weight once per matching rule to its topic.
        matched = rule_index.matched(text, text.lower())
        while matched:
            bit = matched & -matched
            matched ^= bit
            topic = rules[bit.bit_length() - 1][0]
            scores[topic] = scores.get(topic, 0.0) + weight
    topics = taxonomy.topics
    ranked = sorted(
        (-score * topics[index].weight, index, topics[index].slug)
        for index, score in scores.items()
        if score > 0 and topics[index].weight > 0
    )
    return [(slug, -negative) for negative, _, slug in ranked]


def assign_topics(paper: Paper, taxonomy: Taxonomy, *, limit: int = 3) -> tuple[str, ...]:
    """At least one and at most `limit` topic slugs for `paper`, most relevant first."""
    return assign_parts(topic_parts(paper), taxonomy, limit=limit)


def assign_parts(
    parts: Sequence[tuple[str, str]], taxonomy: Taxonomy, *, limit: int = 3
) -> tuple[str, ...]:
    """`assign_topics` of a paper whose `topic_parts` are `parts`."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    scored = score_parts(parts, taxonomy)
    chosen = [slug for slug, score in scored if score >= taxonomy.min_score]
    return tuple(chosen[:limit]) or (taxonomy.fallback,)


@dataclass(frozen=True)
class TopicReport:
    """How a taxonomy tags a set of papers: for tuning a taxonomy (`flashcards topics`)."""

    taxonomy: Taxonomy
    assignments: tuple[tuple[Paper, tuple[str, ...]], ...]  # distinct papers, first-seen order

    @property
    def papers(self) -> int:
        return len(self.assignments)

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(slug, papers tagged with it), most used first, ties in taxonomy order."""
        order = {t.slug: i for i, t in enumerate(self.taxonomy.topics)}
        tally: dict[str, int] = {}
        for _, slugs in self.assignments:
            for slug in slugs:
                tally[slug] = tally.get(slug, 0) + 1
        return sorted(tally.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))

    @property
    def fallback_only(self) -> int:
        """Papers that reached no topic and got only the fallback slug."""
        return sum(1 for _, slugs in self.assignments if slugs == (self.taxonomy.fallback,))


def topic_report(papers: Iterable[Paper], taxonomy: Taxonomy, *, limit: int = 3) -> TopicReport:
    """Assign topics to each distinct paper (the same paper in two digests counts once, as it
    is one note in a deck; its latest text wins, as in a build)."""
    distinct: dict[str, Paper] = {}
    for paper in papers:
        distinct[paper.key] = paper  # keeps the first position, takes the latest text
    assignments = tuple((p, assign_topics(p, taxonomy, limit=limit)) for p in distinct.values())
    return TopicReport(taxonomy, assignments)


def topic_parts(paper: Paper) -> tuple[tuple[str, str], ...]:
    """The parts of `paper` its topics are computed from, (name, text) each: all they depend
    on besides the taxonomy (a build keys the topics it keeps by them)."""
    parts = [("title", paper.title)]
    if paper.category:
        parts.append(("category", paper.category))
    parts.extend((name, paper.fields[name]) for name in FIELD_NAMES if paper.fields.get(name))
    return tuple(parts)


def compile_keyword(keyword: str) -> Rule:
    """The rule a taxonomy keyword stands for (syntax in the module docstring)."""
    prefix = keyword.endswith("*")
    core = keyword[:-1].strip() if prefix else keyword.strip()
    acronym = _ACRONYM.match(core) is not None
    words = [re.escape(w if acronym else w.lower()) for w in _WORD_SEPARATORS.split(core) if w]
    body = r"[\s\-]*".join(words)
    ending = "" if prefix else r"(?:e?s)?(?![0-9A-Za-z])"
    pattern = re.compile(body + ending)
    first = _WORD.match(core.lower())
    needle = first.group() if first else ""
    plain = [w.lower() for w in _WORD_SEPARATORS.split(core) if w]
    single = not acronym and len(words) == 1 and needle == core.lower()
    paired = not acronym and len(plain) > 1 and plain[0] == needle and _WORD.fullmatch(plain[1])
    return Rule(
        keyword,
        pattern,
        on_lowered=not acronym,
        left_boundary=True,
        needle=needle,
        by_words=("prefix" if prefix else "word") if single else "",
        second=plain[1] if paired else "",
    )


def _build(doc: YamlDocument) -> Taxonomy:
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error(f"expected a mapping with a 'topics' key, got {describe(data)}")
    doc.check_keys(data, TAXONOMY_KEYS)

    fallback = data.get("fallback", DEFAULT_FALLBACK)
    if not isinstance(fallback, str) or not SLUG.match(fallback):
        raise doc.error(
            f"fallback: expected a slug (lowercase words joined by -), got {describe(fallback)}",
            "fallback",
        )
    min_score = _number(doc, data.get("min_score", DEFAULT_MIN_SCORE), "min_score")
    weights = dict(DEFAULT_WEIGHTS)
    raw_weights = data.get("weights") or {}
    if not isinstance(raw_weights, dict):
        raise doc.error(f"weights: expected a mapping, got {describe(raw_weights)}", "weights")
    doc.check_keys(raw_weights, WEIGHTED_PARTS, "weights", noun="field")
    for name, value in raw_weights.items():
        weights[name] = _number(doc, value, "weights", name)

    raw_topics = data.get("topics")
    if not isinstance(raw_topics, dict) or not raw_topics:
        raise doc.error(
            f"topics: expected a mapping of topic slugs, got {describe(raw_topics)}", "topics"
        )
    topics = tuple(_topic(doc, slug, spec) for slug, spec in raw_topics.items())
    return Taxonomy(
        source=doc.path,
        topics=topics,
        fallback=fallback,
        min_score=min_score,
        weights=tuple(weights.items()),
    )


def _topic(doc: YamlDocument, slug: Any, spec: Any) -> Topic:
    where = f"topics: {slug}"
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise doc.error(
            f"{where}: not a valid slug (lowercase letters and digits joined by -, no spaces)",
            "topics",
            str(slug),
            at_key=True,
        )
    if not isinstance(spec, dict):
        raise doc.error(
            f"{where}: expected a mapping with label and keywords, got {describe(spec)}",
            "topics",
            slug,
        )
    doc.check_keys(spec, TOPIC_KEYS, "topics", slug)
    label = spec.get("label")
    if not isinstance(label, str) or not label.strip():
        raise doc.error(
            f"{where}: label: expected a non-empty string, got {describe(label)}",
            *(("topics", slug, "label") if "label" in spec else ("topics", slug)),
        )
    rules: list[Rule] = []
    for kind in ("keywords", "patterns"):
        items = spec.get(kind) or []
        if not isinstance(items, list):
            raise doc.error(
                f"{where}: {kind}: expected a list, got {describe(items)}", "topics", slug, kind
            )
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip(" *"):
                raise doc.error(
                    f"{where}: {kind}: expected a non-empty string, got {describe(item)}",
                    "topics",
                    slug,
                    kind,
                    index,
                )
            if kind == "keywords":
                rules.append(compile_keyword(item))
                continue
            try:
                # From UTF-8: see `Rule.utf8`.
                pattern = compile_user_pattern(item.encode("utf-8"))
            except ValueError as exc:
                hint = (
                    "; RE2 runs in linear time: no look-arounds, backreferences or possessive "
                    "quantifiers"
                    if _UNSUPPORTED.search(str(exc))
                    else ""
                )
                raise doc.error(
                    f"{where}: patterns: {item!r} is not a valid RE2 regular expression "
                    f"({exc}){hint}",
                    "topics",
                    slug,
                    kind,
                    index,
                ) from None
            rules.append(Rule(item, pattern, utf8=True))
    if not rules:
        raise doc.error(f"{where}: needs at least one keyword or pattern", "topics", slug)
    weight = _number(doc, spec.get("weight", 1.0), "topics", slug, "weight")
    return Topic(slug=slug, label=label.strip(), rules=tuple(rules), weight=weight)


def _number(doc: YamlDocument, value: Any, *keys: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        name = ": ".join(keys)
        raise doc.error(f"{name}: expected a number ≥ 0, got {describe(value)}", *keys)
    return float(value)
